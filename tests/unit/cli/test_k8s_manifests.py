"""Structure of deploy/k8s: every manifest parses, names and selectors line up, the
commands the pods run are valid for our own CLIs, and the stub is only reachable from the
Locust pods. (No cluster here: this is the strongest check that needs none.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import profiles
from surgebench.run_options import RunOptions, build_plan

K8S_DIR = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
NAMESPACE = "surgebench"


def _docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc]
    return docs


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _docs() if doc["kind"] == kind]


def _named(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for doc in _by_kind(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def _workloads() -> list[dict[str, Any]]:
    return [doc for doc in _docs() if doc["kind"] in ("Deployment", "Job")]


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def _flags(args: list[str]) -> dict[str, str]:
    """``["run", "--a=1", "--ci"]`` -> ``{"a": "1", "ci": ""}`` (our manifests use --k=v)."""
    return {
        key.removeprefix("--"): value
        for key, _, value in (arg.partition("=") for arg in args if arg.startswith("--"))
    }


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text("utf-8"))
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert kustomization["namespace"] == NAMESPACE


def test_every_resource_is_well_formed_and_namespaced() -> None:
    docs = _docs()
    assert {doc["kind"] for doc in docs} >= {
        "Namespace", "Deployment", "Service", "Job", "PersistentVolumeClaim", "NetworkPolicy",
    }  # fmt: skip
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"], doc
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]


def test_workload_selectors_match_their_pods_and_volumes_exist() -> None:
    pvcs = {doc["metadata"]["name"] for doc in _by_kind("PersistentVolumeClaim")}
    for workload in _workloads():
        template = workload["spec"]["template"]
        labels = template["metadata"]["labels"]
        if workload["kind"] == "Deployment":
            assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        for mount in _container(workload).get("volumeMounts", []):
            assert mount["name"] in volumes
            claim = volumes[mount["name"]].get("persistentVolumeClaim")
            if claim:
                assert claim["claimName"] in pvcs


def test_every_service_selects_pods_with_its_target_ports() -> None:
    for service in _by_kind("Service"):
        selector = service["spec"]["selector"]
        pods = [
            w
            for w in _workloads()
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert pods, f"service {service['metadata']['name']} selects no pod"
        for port in service["spec"]["ports"]:
            names = {p.get("name") for pod in pods for p in _container(pod).get("ports", [])}
            assert port["targetPort"] in names


def test_stub_accepts_only_locust_pods() -> None:
    policy = _named("NetworkPolicy", "surgebench-stub-ingress")
    stub_labels = _named("Deployment", "surgebench-stub")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= stub_labels.items()
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    for name in ("surgebench-locust-master", "surgebench-locust-worker"):
        labels = _named("Job", name)["spec"]["template"]["metadata"]["labels"]
        assert allowed.items() <= labels.items()


def test_stub_container_args_are_valid_for_the_stub() -> None:
    container = _container(_named("Deployment", "surgebench-stub"))
    assert container["command"] == ["python", "-m", "target_stub"]
    done = subprocess.run(
        [sys.executable, "-m", "target_stub", *container["args"], "--print-config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    port = int(container["args"][container["args"].index("--port") + 1])
    assert container["ports"][0]["containerPort"] == port


def test_master_runs_a_valid_surgebench_run_against_the_stub_service(tmp_path: Path) -> None:
    container = _container(_named("Job", "surgebench-locust-master"))
    assert container["command"] == ["surgebench"] and container["args"][0] == "run"
    flags = _flags(container["args"])
    stub_service = _named("Service", "surgebench-stub")
    assert (
        flags["target"]
        == f"http://{stub_service['metadata']['name']}:{stub_service['spec']['ports'][0]['port']}"
    )
    plan, _, _ = build_plan(
        RunOptions(
            profile=flags["profile"],
            target=flags["target"],
            out=tmp_path / "run",
            slo=flags.get("slo"),
            time_scale=float(flags["time-scale"]),
            model=flags["model"],
            expect_workers=int(flags["expect-workers"]),
            master_bind_host=flags["master-bind-host"],
            master_bind_port=int(flags["master-bind-port"]),
            ci="ci" in flags,
        )
    )
    workers = _named("Job", "surgebench-locust-worker")
    assert plan.locust.expect_workers == workers["spec"]["parallelism"]
    master_service = _named("Service", "surgebench-locust-master")
    assert master_service["spec"]["ports"][0]["port"] == plan.locust.master_bind_port


def test_workers_connect_to_the_master_service_with_the_same_profile() -> None:
    master = _flags(_container(_named("Job", "surgebench-locust-master"))["args"])
    worker = _container(_named("Job", "surgebench-locust-worker"))
    assert worker["args"][0] == "worker"
    flags = _flags(worker["args"])
    assert flags["master-host"] == "surgebench-locust-master"
    assert flags["master-port"] == master["master-bind-port"]
    assert flags["profile"] == master["profile"]
    assert flags["profile"] in profiles.available()


@pytest.mark.parametrize("name", ["surgebench-locust-master", "surgebench-locust-worker"])
def test_api_key_comes_from_a_secret_never_a_literal(name: str) -> None:
    for env in _container(_named("Job", name)).get("env", []):
        if "KEY" in env["name"]:
            assert "value" not in env and "secretKeyRef" in env["valueFrom"]
