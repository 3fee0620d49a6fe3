"""Kernel receive stamps: converted right (``arrival_perf``) and used by a plain socket's reads.

The socket test is real loopback TCP with blocking sockets (no gevent): the reader reads
0.1 s after the write, as a busy process would, and the arrival time must still be the
write's (Linux, where the kernel stamps reads), or the read's return elsewhere.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

import pytest

from locustfiles.connection import (
    KERNEL_RX_TIMESTAMPS,
    SO_TIMESTAMPNS,
    HttpConnection,
    arrival_perf,
    timestamp_keeper,
)

_NS = 1_000_000_000


def _stamp(epoch_ns: int) -> list[tuple[int, int, bytes]]:
    return [(socket.SOL_SOCKET, SO_TIMESTAMPNS, struct.pack("@qq", *divmod(epoch_ns, _NS)))]


def test_the_stamp_age_is_subtracted_from_the_read_time() -> None:
    now_ns = 1_764_000_000 * _NS + 123_456_789
    assert arrival_perf(_stamp(now_ns - 5_000_000), 100.0, now_ns) == pytest.approx(99.995)
    assert arrival_perf(_stamp(now_ns), 100.0, now_ns) == 100.0


@pytest.mark.parametrize(
    "ancillary",
    [
        [],
        _stamp(1_764_000_000 * _NS + 1_000),  # from the future: a clock step back
        _stamp(1_764_000_000 * _NS - 61 * _NS),  # older than a minute: a clock step forward
        [(socket.SOL_SOCKET + 1, SO_TIMESTAMPNS, struct.pack("@qq", 1_764_000_000, 0))],
        [(socket.SOL_SOCKET, SO_TIMESTAMPNS + 1, struct.pack("@qq", 1_764_000_000, 0))],
        [(socket.SOL_SOCKET, SO_TIMESTAMPNS, b"\x00" * 8)],  # too short for a timespec
    ],
)
def test_unusable_stamps_leave_the_read_time(ancillary: list[tuple[int, int, bytes]]) -> None:
    assert arrival_perf(ancillary, 100.0, 1_764_000_000 * _NS) == 100.0


def test_a_late_read_keeps_the_arrival_time() -> None:
    keeper = timestamp_keeper()  # as a ConnectionPool holds one
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
        conn = HttpConnection(client)
        lateness_s = []
        for _ in range(3):
            written = time.perf_counter()
            server.sendall(b"x" * 100)
            time.sleep(0.1)  # busy elsewhere: the read comes 0.1 s late
            assert conn.recv(deadline_perf=time.perf_counter() + 5) == b"x" * 100
            lateness_s.append(conn.last_read_perf - written)
        conn.close()
        server.close()
    finally:
        listener.close()
        if keeper is not None:
            keeper.close()
    if KERNEL_RX_TIMESTAMPS:
        assert sys.platform.startswith("linux")
        assert all(-0.001 <= late < 0.01 for late in lateness_s), lateness_s
    else:
        assert all(late >= 0.09 for late in lateness_s), lateness_s
