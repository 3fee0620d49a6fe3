"""The fleet's command line: flags, refused configurations, and a replica group run as two
processes sharing one port (SO_REUSEPORT), each reachable on its own control port."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from target_stub.__main__ import main
from target_stub.config import load_config
from target_stub.faults import StallFault
from tests.stub_process import StubProcess, _drain, running_stub

_CONTROL = re.compile(r"control port on (http://\S+)")


def test_print_config_shows_fleet_flags_and_faults(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--preset", "tiny", "--replicas", "3", "--router", "round_robin", "--autoscale",
            "--max-replicas", "5", "--provisioning-delay-s", "7.5",
            "--fault", "kill:replica=1,mode=drop,after_s=30,restart_after_s=60",
            "--fault", "error_rate:rate_frac=0.1,status_codes=429|503",
            "--print-config",
        ]
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    config = json.loads(out.out)
    assert (config["replicas"], config["router"]) == (3, "round_robin")
    assert config["autoscaler"]["enabled"] is True
    assert config["autoscaler"]["max_replicas"] == 5
    assert config["autoscaler"]["provisioning_delay_s"] == 7.5
    assert [f["kind"] for f in config["faults"]] == ["kill", "error_rate"]
    assert config["faults"][1]["status_codes"] == [429, 503]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--fault", "explode:replica=0"], "Unknown fault kind 'explode'"),
        (["--fault", "slow:replica=0"], "factor: Field required"),
        (["--router", "random"], "Unknown router 'random'; known: least_outstanding"),
        (["--admin-token-env", "SURGEBENCH_TEST_UNSET_TOKEN"], "SURGEBENCH_TEST_UNSET_TOKEN"),
        (["--set", "autoscaler.min_replicas=9"], "min_replicas=9 is above max_replicas=4"),
    ],
)
def test_bad_fleet_configuration_exits_2(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--preset", "tiny", *args]) == 2
    assert fragment in capsys.readouterr().err


def test_help_documents_the_fleet_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--router", "--autoscale", "--fault", "--admin-token-env", "--reuse-port",
                 "--control-port", "--min-replicas", "--max-replicas", "--scale-window-s",
                 "--provisioning-delay-s", "--scale-cooldown-s"):  # fmt: skip
        assert flag in out


@contextmanager
def _stub(args: Sequence[str]) -> Iterator[tuple[StubProcess, str]]:
    """A stub with a control port: (process, control URL); its pipe closed afterwards."""
    with running_stub(args) as stub:
        deadline = time.monotonic() + 10.0
        while not (match := next(filter(None, map(_CONTROL.search, list(stub.output))), None)):
            assert time.monotonic() < deadline, "no control port line"
            time.sleep(0.02)
        yield stub, match.group(1)
    for thread in threading.enumerate():
        args = getattr(thread, "_args", ())
        if getattr(thread, "_target", None) is _drain and args and args[0] is stub.process:
            thread.join(timeout=5.0)
    if stub.process.stdout is not None:
        stub.process.stdout.close()


async def test_two_processes_share_one_port_and_each_has_its_own_metrics() -> None:
    with socket.socket() as holder, ExitStack() as stack:
        # Hold the port (bound, not listening, SO_REUSEPORT) so that nothing else takes it.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        args = ["--preset", "tiny", "--port", str(port), "--reuse-port", "--control-port", "0"]
        controls = [stack.enter_context(_stub(args))[1] for _ in range(2)]
        n_requests = 40
        body = {"model": "tiny-llm", "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 2}  # fmt: skip
        connector = aiohttp.TCPConnector(force_close=True)  # a new connection per request
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(n_requests):
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                async with session.post(url, json=body) as resp:
                    assert resp.status == 200
            served = []
            for control in controls:
                async with session.get(f"{control}/metrics") as resp:
                    text = await resp.text()
                served.append(
                    sum(
                        s.value
                        for f in text_string_to_metric_families(text)
                        if f.name == "surgebench:router_requests"
                        for s in f.samples
                    )
                )
    assert sum(served) == n_requests
    assert all(n > 0 for n in served), served


def test_toml_faults_and_autoscaler_then_cli_faults(tmp_path: Path) -> None:
    toml = tmp_path / "fleet.toml"
    toml.write_text(
        'preset = "tiny"\nreplicas = 2\nrouter = "round_robin"\n'
        "[autoscaler]\nenabled = true\nwindow_s = 5\n"
        '[[faults]]\nkind = "stall"\nreplica = 1\nafter_s = 45\nduration_s = 30\n',
        encoding="utf-8",
    )
    config = load_config(toml_path=toml)
    assert config.fleet.replicas == 2 and config.fleet.router == "round_robin"
    assert config.fleet.autoscaler.enabled and config.fleet.autoscaler.window_s == 5.0
    assert config.faults == (StallFault(replica=1, after_s=45.0, duration_s=30.0),)
