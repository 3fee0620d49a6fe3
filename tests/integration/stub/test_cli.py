"""``python -m target_stub``: help, the ready line, clean signals, and refused configurations."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from target_stub.__main__ import build_parser, main
from target_stub.engine_config import ENGINE_PRESETS

from .conftest import stub_process


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "target_stub", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_help_documents_every_option() -> None:
    result = _run("--help")
    assert result.returncode == 0
    flags = [flag for action in build_parser()._actions for flag in action.option_strings]
    assert len(flags) > 20
    for flag in flags:
        assert flag in result.stdout
    for preset in ENGINE_PRESETS:
        assert preset in result.stdout


def test_print_config_layers_flags_and_set() -> None:
    result = _run(
        "--preset", "tiny", "--max-waiting-requests", "5", "--overload-status", "429",
        "--set", "engine.max_num_seqs=7", "--set", "rate_limits.requests_per_minute=60",
        "--print-config",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["engine"]["max_num_seqs"] == 7
    assert config["overload"] == {
        "max_waiting_requests": 5,
        "max_waiting_tokens": None,
        "reject_status": 429,
        "retry_after_s": 1.0,
    }
    assert config["rate_limits"]["requests_per_minute"] == 60


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--preset", "h200"], "known: " + ", ".join(sorted(ENGINE_PRESETS))),
        (["--host", "0.0.0.0"], "--allow-remote"),
        (["--overload-status", "500"], "429 or 503"),
        (["--fixed-itl-ms", "5"], "set together"),
        (["--set", "engine.warp=9"], "Unknown setting 'engine.warp'"),
        (["--set", "novalue"], "--set expects KEY=VALUE"),
        (["--api-key-env", "SURGEBENCH_NO_SUCH_VAR"], "SURGEBENCH_NO_SUCH_VAR"),
    ],
)
def test_bad_configuration_returns_2_naming_the_problem(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert fragment in capsys.readouterr().err


def test_bad_configuration_exit_code_from_the_process() -> None:
    result = _run("--preset", "h200")
    assert result.returncode == 2 and "Unknown preset 'h200'" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ready_line_then_clean_exit_on_signal_mid_stream(sig: signal.Signals) -> None:
    with stub_process(["--preset", "tiny"]) as stub:
        parts = urlsplit(stub.url)
        assert parts.port not in (None, 0, 8000)
        assert stub.output[0] == f"surgebench stub listening on {stub.url}\n"
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        body = {"model": "tiny-llm", "prompt": "x", "max_tokens": 3000, "stream": True}
        conn.request("POST", "/v1/completions", body=json.dumps(body), headers={})
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read1(10)  # the stream is running
        stub.process.send_signal(sig)
        assert stub.process.wait(timeout=10) == 0
        conn.close()
    assert not [line for line in stub.output if "Traceback" in line or "ERROR" in line]
