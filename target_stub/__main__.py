"""``python -m target_stub``: run the emulated inference server.

Prints ``surgebench stub listening on http://HOST:PORT`` (the real port when ``--port 0``) once
it accepts connections; with ``--control-port`` the line ``surgebench stub control port on
http://HOST:PORT`` follows once that port listens too. SIGINT/SIGTERM stop it cleanly (exit code 0);
a bad option or configuration exits with code 2 and a message naming the problem.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tomllib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from target_stub.app import create_app
from target_stub.config import (
    DEFAULT_PRESET,
    ConfigError,
    StubConfig,
    check_host,
    load_config,
    resolve_admin_token,
    resolve_api_keys,
)
from target_stub.engine_config import ENGINE_PRESETS
from target_stub.faults import FAULT_KINDS, parse_fault_spec
from target_stub.router import ROUTERS

logger = logging.getLogger("target_stub")

# (flag, dotted config key, type, help). Every flag defaults to None = "not given", so the
# preset and the TOML file keep their values unless the flag is on the command line.
_OPTIONS: tuple[tuple[str, str, type, str], ...] = (
    ("--host", "host", str, "address to bind (default 127.0.0.1; see --allow-remote)"),
    ("--port", "port", int, "TCP port; 0 picks a free one (default 8000)"),
    ("--replicas", "replicas", int, "engine replicas behind the router (default 1)"),
    (
        "--router",
        "router",
        str,
        f"how requests pick a ready replica: {', '.join(sorted(ROUTERS))} "
        "(default least_outstanding)",
    ),
    (
        "--min-replicas",
        "autoscaler.min_replicas",
        int,
        "autoscaler lower bound (default 1)",
    ),
    ("--max-replicas", "autoscaler.max_replicas", int, "autoscaler upper bound (default 4)"),
    (
        "--scale-window-s",
        "autoscaler.window_s",
        float,
        "seconds queueing or KV pressure must last before a scale-up (default 30)",
    ),
    (
        "--provisioning-delay-s",
        "autoscaler.provisioning_delay_s",
        float,
        "cold start of a new replica: node + image + model load, seconds (default 120)",
    ),
    (
        "--scale-cooldown-s",
        "autoscaler.cooldown_s",
        float,
        "seconds of low load (and since the last scaling) before a scale-down (default 300)",
    ),
    (
        "--admin-token-env",
        "admin_token_env",
        str,
        "NAME of an environment variable holding the admin API token; enables /admin/ "
        "(default: admin API off, 404)",
    ),
    (
        "--control-port",
        "control_port",
        int,
        "also listen on this port (0 = any free one): per-process /metrics and /admin/ "
        "when several processes share --port with --reuse-port",
    ),
    (
        "--stream-interval",
        "stream_interval_tokens",
        int,
        "tokens per streamed content chunk, like vLLM's --stream-interval; the first token is "
        "always sent at once (default 1)",
    ),
    ("--seed", "seed", int, "seed of every random draw: lengths, text, ids (default 0)"),
    (
        "--api-key-env",
        "api_key_env",
        str,
        "NAME of an environment variable holding the accepted API key(s), comma-separated; "
        "requests to /v1/* without one get 401 (default: no auth)",
    ),
    (
        "--max-waiting-requests",
        "overload.max_waiting_requests",
        int,
        "per-replica bound on queued requests; beyond it requests are rejected (default: "
        "unbounded, like vLLM)",
    ),
    (
        "--max-waiting-tokens",
        "overload.max_waiting_tokens",
        int,
        "per-replica bound on queued prompt tokens (default: unbounded)",
    ),
    (
        "--overload-status",
        "overload.reject_status",
        int,
        "status of an overload rejection: 503 (OpenAI's 'engine overloaded') or 429 "
        "(rate_limit_exceeded) (default 503)",
    ),
    (
        "--retry-after-s",
        "overload.retry_after_s",
        float,
        "retry-after sent with overload rejections, seconds (default 1)",
    ),
    ("--rpm", "rate_limits.requests_per_minute", int, "per-API-key requests per minute"),
    ("--tpm", "rate_limits.tokens_per_minute", int, "per-API-key tokens per minute"),
    ("--max-body-bytes", "max_body_bytes", int, "largest accepted request body (default 8 MiB)"),
    (
        "--fixed-ttft-ms",
        "engine.fixed_ttft_ms",
        float,
        "exact TTFT for every request, no batching model (needs --fixed-itl-ms)",
    ),
    (
        "--fixed-itl-ms",
        "engine.fixed_itl_ms",
        float,
        "exact inter-token latency (needs --fixed-ttft-ms)",
    ),
    ("--max-num-seqs", "engine.max_num_seqs", int, "engine batch size limit"),
    ("--kv-capacity-tokens", "engine.kv_capacity_tokens", int, "KV cache size in tokens"),
    ("--max-model-len", "engine.max_model_len_tokens", int, "context limit (prompt + output)"),
    ("--model", "engine.model", str, "served model name"),
    ("--embedding-dims", "embedding_dims", int, "embedding vector length (default 256)"),
    (
        "--shutdown-grace-s",
        "shutdown_grace_s",
        float,
        "seconds in-flight requests get to finish on SIGINT/SIGTERM (default 1)",
    ),
    ("--log-level", "log_level", str, "debug, info, warning or error (default info)"),
)


class MalformedRequestFilter(logging.Filter):
    """Keep client garbage out of the error log.

    aiohttp answers a malformed HTTP request (bad framing, bad headers, TLS on a plain port)
    with a 400 and logs it as an error with a traceback; it is bad input, not a server fault,
    so it becomes one debug line without the traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError) or (exc.code or 400) >= 500:
            return True
        record.exc_info = None
        record.exc_text = None
        record.msg = f"{record.msg}: {exc.code}, {exc.message}"
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def build_parser() -> argparse.ArgumentParser:
    presets = ", ".join(sorted(ENGINE_PRESETS))
    parser = argparse.ArgumentParser(
        prog="python -m target_stub",
        description="surgebench's emulated GPU inference server (OpenAI-compatible API). "
        "Settings are layered: preset, then --config FILE.toml, then the flags below, then "
        "--set KEY=VALUE. See docs/stub.md.",
    )
    parser.add_argument(
        "--preset",
        metavar="NAME",
        help=f"engine preset: {presets} (default {DEFAULT_PRESET}, or the TOML file's 'preset')",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE.toml", help="TOML file of StubConfig settings"
    )
    for flag, key, kind, text in _OPTIONS:
        metavar = {int: "N", float: "X"}.get(kind, "TEXT")
        parser.add_argument(flag, dest=key, type=kind, default=None, metavar=metavar, help=text)
    parser.add_argument(
        "--access-log", action="store_true", default=None, help="log one line per request"
    )
    parser.add_argument(
        "--autoscale",
        action="store_true",
        default=None,
        help="enable the autoscaler (see --min-replicas ... and docs/fleet.md)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND:KEY=VALUE,...",
        help=f"a fault applied at start, repeatable; kinds: {', '.join(FAULT_KINDS)}; e.g. "
        "kill:replica=0,mode=drop,after_s=30,restart_after_s=60 (docs/fleet.md)",
    )
    parser.add_argument(
        "--reuse-port",
        action="store_true",
        default=None,
        help="SO_REUSEPORT: several stub processes may listen on the same --port (Linux)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="allow a non-loopback --host (the stub has no TLS and is meant for local tests)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any setting by dotted key, VALUE in TOML syntax, e.g. --set "
        "engine.max_num_batched_tokens=4096 --set overload.retry_after_s=2.5",
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved settings as JSON and exit"
    )
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for _, key, _, _ in _OPTIONS:
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    for flag, key in (
        ("access_log", "access_log"),
        ("allow_remote", "allow_remote"),
        ("autoscale", "autoscaler.enabled"),
        ("reuse_port", "reuse_port"),
    ):
        if getattr(args, flag) is not None:
            overrides[key] = True
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE; got {item!r}")
        overrides[key.strip()] = _toml_value(raw.strip())
    return overrides


def _toml_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw  # a bare word: take it as a string


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.preset, toml_path=args.config, overrides=_overrides(args))
        config = _with_cli_faults(config, args.fault)
        check_host(config)
        api_keys = resolve_api_keys(config, os.environ)
        admin_token = resolve_admin_token(config, os.environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        print(config.model_dump_json(indent=2))
        return 0
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.server").addFilter(MalformedRequestFilter())
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        asyncio.run(serve(config, api_keys, admin_token))
    else:
        uvloop.run(serve(config, api_keys, admin_token))
    return 0


def _with_cli_faults(config: StubConfig, specs: Sequence[str]) -> StubConfig:
    """The TOML file's faults followed by the ``--fault`` ones."""
    try:
        faults = tuple(parse_fault_spec(text) for text in specs)
    except ValueError as exc:
        raise ConfigError(f"--fault: {exc}") from None
    return config.model_copy(update={"faults": (*config.faults, *faults)}) if faults else config


async def serve(
    config: StubConfig, api_keys: Collection[str] | None, admin_token: str | None = None
) -> None:
    """Serve until SIGINT or SIGTERM."""
    app = create_app(config, api_keys=api_keys, admin_token=admin_token)
    runner = web.AppRunner(
        app,
        handler_cancellation=True,
        access_log=logging.getLogger("target_stub.access") if config.access_log else None,
        shutdown_timeout=config.shutdown_grace_s,
        handle_signals=False,
    )
    await runner.setup()
    try:
        # A deep backlog: benchmarks open thousands of connections at once.
        site = web.TCPSite(
            runner, config.host, config.port, backlog=4096, reuse_port=config.reuse_port or None
        )
        await site.start()
        main_addresses = len(runner.addresses)
        host, port = runner.addresses[0][:2]
        print(f"surgebench stub listening on {_url(host, port)}", flush=True)
        if config.control_port is not None:
            control = web.TCPSite(runner, config.host, config.control_port, backlog=128)
            await control.start()
            host, port = runner.addresses[main_addresses][:2]
            print(f"surgebench stub control port on {_url(host, port)}", flush=True)
        logger.info(
            "preset %s, model %s, %d replica(s), router %s, autoscaler %s, %d start fault(s), "
            "admin API %s",
            config.preset,
            config.engine.model,
            config.replicas,
            config.router,
            "on" if config.autoscaler.enabled else "off",
            len(config.faults),
            "on" if admin_token else "off",
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        logger.info("stopping")
    finally:
        await runner.cleanup()


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


if __name__ == "__main__":
    sys.exit(main())
