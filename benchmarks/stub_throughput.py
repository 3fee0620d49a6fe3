"""Streamed tokens/s of the stub on one core, and the ITL error a client on the other core sees.

Server (the stub, or a naive baseline written here: an aiohttp handler that sleeps per token
per stream) pinned to core 0; a lean asyncio client (uvloop, raw protocol, keep-alive,
closed loop: each connection re-sends its request on ``[DONE]``) pinned to core 1. Every
point: connections opened over ``--ramp-s``, then a ``--warmup-s`` pause, then a
``--window-s`` measurement window. In fixed-timing mode the truth is exact (TTFT and ITL from
the flags), so the client's mean ITL gives the emulation error; in model mode the engine's
batching model decides the ITL and only tokens/s is compared.

Usage::

    .venv/bin/python benchmarks/stub_throughput.py [--streams 100,1000,2000,4000] [--quick]

Output: a markdown table on stdout (pasted into docs/PERFORMANCE.md). Columns: server,
mode, streams, tokens/s (content tokens received in the window / window), ITL mean and p99
in ms (per-token gaps between content receptions, divided by the tokens received),
ITL error % (mean vs the configured ITL), TTFT mean ms, server and client CPU (fraction of
one core over the window), the machine's 1-minute load average after the point, and tokens
per server CPU-second (tokens/s divided by the server's
CPU fraction: what one fully available core would carry at that cost per token, useful when
the machine is shared and the server did not get its whole core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SERVER_CORE, CLIENT_CORE = 0, 1
READY = "surgebench stub listening on "


def _pin(core: int) -> Callable[[], None]:
    def apply() -> None:
        os.sched_setaffinity(0, {core})
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    return apply


# -- the naive baseline server -------------------------------------------------------------


def naive_server(port: int, ttft_ms: float, itl_ms: float) -> None:
    """One task per stream: sleep, json.dumps a chunk, write it; once per token."""
    import uvloop
    from aiohttp import web

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await asyncio.sleep(ttft_ms / 1000)
        for i in range(int(body["max_tokens"])):
            if i:
                await asyncio.sleep(itl_ms / 1000)
            chunk = {"object": "chat.completion.chunk", "choices": [{"delta": {"content": " tok"}}]}
            await resp.write(
                b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
            )
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
        print(f"{READY}http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    uvloop.run(serve())


# -- the client --------------------------------------------------------------------------


@dataclass
class Window:
    start_s: float
    end_s: float
    tokens: int = 0


class StreamConnection(asyncio.Protocol):
    """Counts content tokens (spaces: our JSON is compact, every token starts with one)."""

    def __init__(self, request: bytes, window: Window, itl: array[float], ttft: array[float]):
        self.request, self.window, self.itl, self.ttft = request, window, itl, ttft
        self.transport: asyncio.WriteTransport | None = None
        self.in_headers = True
        self.ending = False
        self.tail = b""
        self.t_sent = self.t_last = 0.0
        self.first = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        if time.perf_counter() > self.window.end_s or self.transport.is_closing():
            self.transport.close()
            return
        self.in_headers, self.ending, self.first, self.tail = True, False, True, b""
        self.t_sent = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.in_headers:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                return
            self.in_headers, data = False, data[end + 4 :]
        seen = self.tail + data
        self.tail = seen[-16:]
        if not self.ending:
            # Every content token starts with a space; "data: " adds one per event.
            n = data.count(b" ") - data.count(b"data: ")
            if n:
                win = self.window
                inside = win.start_s <= now <= win.end_s
                if self.first:
                    self.first = False
                    if inside:
                        self.ttft.append(now - self.t_sent)
                elif inside:
                    self.itl.append((now - self.t_last) / n)
                if inside:
                    win.tokens += n
                self.t_last = now
            self.ending = b"data: [DONE]" in seen
        if self.ending and seen.endswith(b"\r\n0\r\n\r\n"):
            self.send()


def client(url: str, streams: int, max_tokens: int, model: str, args: argparse.Namespace) -> None:
    import uvloop

    host, port = url.removeprefix("http://").rsplit(":", 1)
    body = json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "benchmark"}],
            "max_tokens": max_tokens,
            "ignore_eos": True,
            "stream": True,
        }
    ).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def run() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        window = Window(
            t0 + args.ramp_s + args.warmup_s, t0 + args.ramp_s + args.warmup_s + args.window_s
        )
        itl: array[float] = array("d")
        ttft: array[float] = array("d")
        failed = 0
        for i in range(streams):
            await asyncio.sleep(max(0.0, t0 + args.ramp_s * i / streams - time.perf_counter()))
            try:
                await loop.create_connection(
                    lambda: StreamConnection(request, window, itl, ttft), host, int(port)
                )
            except OSError:
                failed += 1
        await asyncio.sleep(max(0.0, window.start_s - time.perf_counter()))
        cpu0 = time.process_time()
        await asyncio.sleep(max(0.0, window.end_s - time.perf_counter()))
        cpu_frac = (time.process_time() - cpu0) / args.window_s
        itl_sorted = sorted(itl)
        return {
            "tokens_per_s": window.tokens / args.window_s,
            "itl_mean_ms": 1000 * sum(itl) / max(1, len(itl)),
            "itl_p99_ms": 1000 * itl_sorted[int(0.99 * (len(itl_sorted) - 1))] if itl else 0.0,
            "ttft_mean_ms": 1000 * sum(ttft) / max(1, len(ttft)),
            "client_cpu_frac": cpu_frac,
            "failed_connections": failed,
        }

    print(json.dumps(uvloop.run(run())), flush=True)


# -- the kernel's floor: one small write to a loopback socket ------------------------------


def write_floor(n_sockets: int, rounds: int = 100) -> float:
    """CPU microseconds per 250-byte ``transport.write`` (uvloop) to loopback sockets whose
    reader runs on the other core: the cost of one SSE chunk before any Python of ours."""
    import socket

    import uvloop

    async def run() -> float:
        loop = asyncio.get_running_loop()
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        reader = subprocess.Popen(
            [sys.executable, "-c", _DRAIN_CODE, str(port), str(n_sockets)],
            preexec_fn=_pin(CLIENT_CORE),  # noqa: PLW1509
        )
        transports = []
        for _ in range(n_sockets):
            conn, _ = await loop.sock_accept(listener)
            transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, conn)
            transports.append(transport)
        payload = b"x" * 250
        cpu0 = time.process_time()
        for _ in range(rounds):
            for transport in transports:
                transport.write(payload)
            await asyncio.sleep(0.005)
        cpu_us = (time.process_time() - cpu0) / (rounds * n_sockets) * 1e6
        reader.kill()
        reader.wait()
        listener.close()
        return cpu_us

    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {SERVER_CORE})
    try:
        return uvloop.run(run())
    finally:
        os.sched_setaffinity(0, allowed)


_DRAIN_CODE = """
import selectors, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
for _ in range(n):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ)
while True:
    for key, _ in sel.select(1):
        try:
            key.fileobj.recv(1 << 16)
        except BlockingIOError:
            pass
"""


# -- orchestration ---------------------------------------------------------------------------


def _start(cmd: list[str], *, quiet: bool) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        # The naive baseline logs a traceback per stream the client leaves at the end.
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
        preexec_fn=_pin(SERVER_CORE),  # noqa: PLW1509
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if READY not in line:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, line.split(READY)[1].strip()


def point(server: str, streams: int, args: argparse.Namespace) -> dict[str, Any]:
    import psutil

    here = os.path.abspath(__file__)
    if server == "naive":
        cmd = [sys.executable, here, "naive-server", str(args.ttft_ms), str(args.itl_ms)]
        model = "naive"
    else:
        cmd = [sys.executable, "-m", "target_stub", "--port", "0", "--log-level", "warning"]
        interval = int(server.split("-si")[1]) if "-si" in server else 1
        cmd += ["--stream-interval", str(interval)]
        if server == "stub-model":
            cmd += ["--preset", "h100-llama3-8b", "--max-num-seqs", str(max(streams, 1024))]
        else:
            cmd += ["--preset", "tiny", "--fixed-ttft-ms", str(args.ttft_ms)]
            cmd += ["--fixed-itl-ms", str(args.itl_ms)]
        model = "meta-llama/Llama-3.1-8B-Instruct" if server == "stub-model" else "tiny-llm"
    proc, url = _start(cmd, quiet=server == "naive")
    try:
        server_ps = psutil.Process(proc.pid)
        client_cmd = [
            sys.executable,
            here,
            "client",
            url,
            str(streams),
            str(args.max_tokens),
            model,
        ]
        client_cmd += [f"--ramp-s={args.ramp_s}", f"--warmup-s={args.warmup_s}"]
        client_cmd += [f"--window-s={args.window_s}"]
        child = subprocess.Popen(
            client_cmd,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_pin(CLIENT_CORE),  # noqa: PLW1509
        )
        time.sleep(args.ramp_s + args.warmup_s)
        cpu0 = sum(server_ps.cpu_times()[:2])
        time.sleep(args.window_s)
        server_cpu = (sum(server_ps.cpu_times()[:2]) - cpu0) / args.window_s
        out, _ = child.communicate(timeout=120)
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # The 1-minute load average: other processes on this machine competing for the cores.
    result.update(
        server=server, streams=streams, server_cpu_frac=server_cpu, load=os.getloadavg()[0]
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", default="run", choices=["run", "client", "naive-server"])
    parser.add_argument("rest", nargs="*")
    parser.add_argument("--streams", default="100,1000,2000,4000")
    parser.add_argument(
        "--servers",
        default="stub,naive,stub-si4,stub-model",
        help="stub = fixed timing, stub-siK = with --stream-interval K, naive = the baseline, "
        "stub-model = the h100-llama3-8b batching model",
    )
    parser.add_argument("--ttft-ms", type=float, default=100.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--max-tokens", type=int, default=100)
    parser.add_argument("--ramp-s", type=float, default=1.5)
    parser.add_argument("--warmup-s", type=float, default=2.5)
    parser.add_argument("--window-s", type=float, default=4.0)
    args = parser.parse_args()
    if args.role == "naive-server":
        naive_server(0, float(args.rest[0]), float(args.rest[1]))
        return
    if args.role == "client":
        url, streams, max_tokens, model = args.rest
        client(url, int(streams), int(max_tokens), model, args)
        return
    floor_us = write_floor(1000)
    print(f"kernel floor: {floor_us:.1f} CPU us per 250-byte loopback write (1,000 sockets)\n")
    print(
        "| server | streams | tokens/s | tokens per server CPU-s | ITL mean ms | ITL error "
        "| ITL p99 ms | TTFT mean ms | server CPU | client CPU | load avg |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for server in args.servers.split(","):
        for streams in (int(s) for s in args.streams.split(",")):
            r = point(server, streams, args)
            error = (
                f"{100 * (r['itl_mean_ms'] / args.itl_ms - 1):+.1f}%"
                if server != "stub-model"
                else "n/a (model)"
            )
            per_cpu = r["tokens_per_s"] / max(1e-9, r["server_cpu_frac"])
            print(
                f"| {server} | {streams} | {r['tokens_per_s']:,.0f} | {per_cpu:,.0f} | "
                f"{r['itl_mean_ms']:.2f} | "
                f"{error} | {r['itl_p99_ms']:.1f} | {r['ttft_mean_ms']:.1f} | "
                f"{r['server_cpu_frac']:.2f} | {r['client_cpu_frac']:.2f} | {r['load']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
