"""A minimal HTTP/1.1 keep-alive client on plain sockets that hands over bytes as they arrive.

Why not Locust's clients: FastHttpUser's ``iter_lines()`` waits for 1 KiB blocks and doubles
TTFT (docs/loadgen.md). Here every ``recv`` returns whatever the kernel has, and the caller
timestamps it immediately. Under Locust the stdlib ``socket``/``ssl`` modules are gevent's
(monkey-patched), so the same code is cooperative there and plain blocking elsewhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import socket
import ssl
import struct
import sys
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from locustfiles.http_wire import HEAD_END, BodyDecoder, ProtocolError, ResponseHead, parse_head

RECV_BYTES: Final = 65536
SO_TIMESTAMPNS: Final = 35
"""Linux's ``SO_TIMESTAMPNS`` (also the ``SCM_TIMESTAMPNS`` control message type); the
``socket`` module does not export it."""
KERNEL_RX_TIMESTAMPS: Final = sys.platform.startswith("linux")
ANCILLARY_BYTES: Final = 64  # room for one timespec control message
_TIMESPEC: Final = struct.Struct("@qq")  # tv_sec, tv_nsec (64-bit Linux)
_MAX_AGE_NS: Final = 60_000_000_000  # an older stamp means a clock step: not used
_HAS_RECVMSG: Final = hasattr(socket.socket, "recvmsg")  # not on Windows
_MAX_HEAD_BYTES: Final = 65536


class ConnectError(Exception):
    """The TCP or TLS connection could not be opened."""


class ConnectionClosedError(Exception):
    """The peer closed the connection before the response was complete."""


class NothingReceivedError(ConnectionClosedError):
    """Closed before a single response byte: on a reused keep-alive socket, a stale connection."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests go: scheme, host, port and the path prefix of the base URL."""

    scheme: str
    host: str
    port: int
    path_prefix: str

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"Unsupported URL scheme in {url!r}; expected http or https")
        if not parts.hostname:
            raise ValueError(f"No host in URL {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"

    @property
    def display_url(self) -> str:
        """The base URL without credentials or query: safe to write into a manifest."""
        return f"{self.scheme}://{self.host_header}{self.path_prefix}"


def api_endpoint(url: str, api_prefix: str) -> Endpoint:
    """The endpoint whose ``path_prefix`` is the API base: the URL's path plus ``api_prefix``,
    unless the path already ends with it (``http://host:8000/v1``, as OpenAI SDK base URLs
    are written, and ``http://host:8000`` both give ``/v1``)."""
    endpoint = Endpoint.from_url(url)
    base = endpoint.path_prefix
    if api_prefix and not base.endswith(api_prefix):
        base += api_prefix
    return dataclasses.replace(endpoint, path_prefix=base)


def encode_request(
    method: str, path: str, host_header: str, headers: Mapping[str, str], body: bytes
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}"]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpConnection:
    """One socket; reusable for the next request once a response was read to its end."""

    __slots__ = (
        "_leftover", "_sock", "_stamped", "_timeout_s", "_tls", "last_read_perf",
        "last_send_perf", "requests_sent", "reusable",
    )  # fmt: skip

    def __init__(self, sock: socket.socket, *, tls: bool = False) -> None:
        self._sock = sock
        self._tls = tls
        # Kernel receive timestamps for every read of a plain-TCP socket (see ``recv``).
        self._stamped = not tls and _HAS_RECVMSG and KERNEL_RX_TIMESTAMPS
        if self._stamped:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            except OSError:
                self._stamped = False
        self._timeout_s: float | None = -1.0  # unknown: the first call sets it
        self._leftover = b""
        self.last_read_perf = 0.0
        """When the latest read's bytes arrived, on ``time.perf_counter``: the kernel's receive
        stamp where there is one (plain TCP on Linux), else right after the read returned."""
        self.last_send_perf = 0.0
        """``time.perf_counter()`` right before the latest request was handed to the socket."""
        self.reusable = True
        self.requests_sent = 0

    @classmethod
    def open(
        cls,
        endpoint: Endpoint,
        *,
        timeout_s: float,
        tls: ssl.SSLContext | None,
    ) -> HttpConnection:
        try:
            sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if endpoint.scheme == "https":
                context = tls or ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=endpoint.host)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"{type(exc).__name__}: {exc}") from exc
        return cls(sock, tls=endpoint.scheme == "https")

    def _set_timeout(self, deadline_perf: float) -> None:
        timeout_s = _remaining_s(deadline_perf)
        # Without a deadline, leave the socket blocking: under gevent a socket timeout costs
        # a timer per read, and the caller then guards the whole request with one timer.
        if timeout_s is not None or self._timeout_s is not None:
            self._sock.settimeout(timeout_s)
            self._timeout_s = timeout_s

    def send(self, data: bytes, *, deadline_perf: float) -> None:
        self._set_timeout(deadline_perf)
        self.requests_sent += 1
        # Stamped here, at the send itself: a pause (a GC, another greenlet) between
        # building the request and sending it is not the target's latency.
        self.last_send_perf = time.perf_counter()
        self._sock.sendall(data)

    def recv(self, *, deadline_perf: float) -> bytes:
        """Whatever bytes are available (blocking until at least one); b"" at EOF.

        Raises TimeoutError when nothing arrived before ``deadline_perf`` (a
        ``time.perf_counter`` value; ``math.inf`` waits forever).
        """
        if self._leftover:
            data, self._leftover = self._leftover, b""
            return data
        if deadline_perf != math.inf or self._timeout_s is not None:
            self._set_timeout(deadline_perf)
        if not self._stamped:
            data = self._sock.recv(RECV_BYTES)
            self.last_read_perf = time.perf_counter()
            return data
        data, ancillary, _, _ = self._sock.recvmsg(RECV_BYTES, ANCILLARY_BYTES)
        t = time.perf_counter()
        self.last_read_perf = arrival_perf(ancillary, t, time.time_ns()) if ancillary else t
        return data

    def loop_socket(self) -> socket.socket | None:
        """This connection's socket, switched to non-blocking reads, for an event loop to read
        the body from directly; or None.

        Timeout 0: a read with nothing to read raises BlockingIOError at once instead of
        waiting (under gevent, waiting inside the event loop's own callback is an error); the
        next ``send`` or ``recv`` restores the timeout it needs. Reads carry kernel receive
        timestamps where the platform has them (``SO_TIMESTAMPNS``, Linux; read them with
        ``recvmsg(RECV_BYTES, ANCILLARY_BYTES)`` and ``arrival_perf``). None for TLS (the
        ``ssl`` layer must do the reads), where sockets have no ``recvmsg`` (Windows), and
        when bytes are already buffered here (the caller must take them through ``recv``).
        """
        if self._leftover or self._tls or not _HAS_RECVMSG:
            return None
        if self._timeout_s != 0.0:
            self._sock.settimeout(0.0)
            self._timeout_s = 0.0
        return self._sock

    def read_head(self, *, deadline_perf: float) -> tuple[ResponseHead, bytes]:
        """Read up to the end of the response head; returns it and the body bytes already read."""
        buf = b""
        while True:
            data = self.recv(deadline_perf=deadline_perf)
            if not data:
                self.reusable = False
                if not buf:
                    raise NothingReceivedError("connection closed before any response byte")
                raise ConnectionClosedError("connection closed in the middle of the response head")
            buf += data
            end = buf.find(HEAD_END)
            if end >= 0:
                head = parse_head(buf[:end])
                if 100 <= head.status < 200:
                    # An interim response (100 Continue): the real head follows.
                    buf = buf[end + len(HEAD_END) :]
                    if buf:
                        self._leftover = buf
                        buf = b""
                    continue
                if not head.keep_alive:
                    self.reusable = False
                return head, buf[end + len(HEAD_END) :]
            if len(buf) > _MAX_HEAD_BYTES:
                self.reusable = False
                raise ProtocolError(f"response head longer than {_MAX_HEAD_BYTES} bytes")

    def iter_body(
        self, decoder: BodyDecoder, first: bytes, *, deadline_perf: float
    ) -> Iterator[bytes]:
        """Yield body bytes as each read returns them (empty pieces are skipped)."""
        data = first
        while True:
            if data:
                piece = decoder.feed(data)
                if piece:
                    yield piece
            if decoder.complete:
                return
            data = self.recv(deadline_perf=deadline_perf)
            if not data:
                self.reusable = False
                if decoder.until_close:
                    return
                raise ConnectionClosedError("connection closed in the middle of the body")

    def close(self) -> None:
        self.reusable = False
        with contextlib.suppress(OSError):
            self._sock.close()


def timestamp_keeper() -> socket.socket | None:
    """A socket whose only job is to keep the kernel's receive timestamps switched on.

    Linux starts stamping received packets, for the whole host, in deferred work after the
    first socket asks, and stops when the last one closes: packets that arrive before that
    work ran carry no stamp (measured: the first reads of a process fell back to their
    return time). A pool holds one for its lifetime. It returns once stamping works: over a
    loopback TCP pair of its own (TCP, because a UDP read gets a stamp even from a packet
    that has none), it sends itself a byte until one comes back stamped, for at most about
    0.5 s; after that, reads without a stamp fall back to their return time. None where
    there are no kernel receive timestamps.
    """
    if not KERNEL_RX_TIMESTAMPS:
        return None
    try:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            keeper = socket.create_connection(listener.getsockname(), timeout=1.0)
            peer, _ = listener.accept()
    except OSError:
        return None
    with peer:
        try:
            keeper.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            for _ in range(25):
                peer.sendall(b"t")
                _, ancillary, _, _ = keeper.recvmsg(16, ANCILLARY_BYTES)
                if ancillary:
                    break
                time.sleep(0.02)
        except OSError:
            keeper.close()
            return None
    return keeper


def arrival_perf(
    ancillary: list[tuple[int, int, bytes]], read_perf: float, read_epoch_ns: int
) -> float:
    """The ``perf_counter`` time the kernel stamped on a read's data (``SO_TIMESTAMPNS``).

    ``read_perf`` and ``read_epoch_ns`` (``time.time_ns()``) are taken right after the read;
    the stamp's age on the real-time clock (exact integer nanoseconds) is subtracted from
    ``read_perf``. A read of several segments carries the last one's stamp. A missing,
    future or implausibly old stamp (a clock step) leaves ``read_perf``.
    """
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            age_ns: int = read_epoch_ns - (sec * 1_000_000_000 + nsec)
            if 0 <= age_ns < _MAX_AGE_NS:
                return read_perf - age_ns / 1e9
    return read_perf


def _remaining_s(deadline_perf: float) -> float | None:
    if deadline_perf == math.inf:
        return None
    remaining = deadline_perf - time.perf_counter()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    return remaining


def get_json(
    endpoint: Endpoint, path: str, headers: Mapping[str, str], *, timeout_s: float
) -> tuple[int, object]:
    """One GET on a fresh connection: ``(status, parsed JSON body or None)``."""
    conn = HttpConnection.open(endpoint, timeout_s=timeout_s, tls=None)
    deadline = time.perf_counter() + timeout_s
    try:
        wire = encode_request(
            "GET", endpoint.path_prefix + path, endpoint.host_header, headers, b""
        )
        conn.send(wire, deadline_perf=deadline)
        head, first = conn.read_head(deadline_perf=deadline)
        body = b"".join(
            conn.iter_body(BodyDecoder(head, request_method="GET"), first, deadline_perf=deadline)
        )
    finally:
        conn.close()
    try:
        return head.status, json.loads(body)
    except ValueError:
        return head.status, None


class ConnectionPool:
    """Idle keep-alive connections to one endpoint; opens a new one when none is idle.

    Size is bounded by the callers' concurrency (one connection per in-flight request), not here.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        connect_timeout_s: float,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._connect_timeout_s = connect_timeout_s
        self._tls = tls
        self._idle: list[HttpConnection] = []
        keeper = timestamp_keeper()
        # Closed by close(), or when the pool is collected (no warning about a lost socket).
        self._close_keeper = weakref.finalize(self, keeper.close) if keeper else None

    def acquire(self) -> HttpConnection:
        if self._idle:
            return self._idle.pop()
        return self.open()

    def open(self) -> HttpConnection:
        """A new connection (not taken from the idle list)."""
        return HttpConnection.open(self.endpoint, timeout_s=self._connect_timeout_s, tls=self._tls)

    def release(self, conn: HttpConnection) -> None:
        if conn.reusable:
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
        if self._close_keeper is not None:
            self._close_keeper()
