"""HTTP/1.1 response framing, incremental and pure (no sockets): head parsing and body decoding.

``BodyDecoder.feed`` turns whatever bytes the socket returned into body bytes at once, for the
three framings a server may use (Content-Length, chunked, read-until-close); it never waits
for more data than it has, which is what keeps the first-token timestamp exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

HEAD_END: Final = b"\r\n\r\n"
_HEX_SIZE: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
_MAX_CHUNK_LINE_BYTES: Final = 4096


class ProtocolError(Exception):
    """The peer sent bytes that are not valid HTTP/1.1 framing."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    reason: str
    headers: dict[str, str]
    """Lower-case names; repeated headers joined with ", "."""

    @property
    def keep_alive(self) -> bool:
        return "close" not in self.headers.get("connection", "").lower()


def parse_head(raw: bytes) -> ResponseHead:
    """Parse the status line and headers (``raw`` excludes the blank line ending the head)."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0][:80]!r}; expected 'HTTP/1.x NNN reason'")
    try:
        status = int(parts[1])
    except ValueError as exc:
        raise ProtocolError(f"bad status code in {lines[0][:80]!r}") from exc
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return ResponseHead(status=status, reason=parts[2] if len(parts) > 2 else "", headers=headers)


class BodyDecoder:
    """Incremental body decoder; ``complete`` turns true once the framing says the body ended."""

    __slots__ = ("_buf", "_chunk_left", "_in_trailer", "_left", "_mode", "complete")

    def __init__(self, head: ResponseHead, *, request_method: str = "POST") -> None:
        self._buf = b""
        self._chunk_left = 0  # body bytes left in the current chunk, then its CRLF
        self._in_trailer = False
        self._left = 0
        self.complete = False
        te = head.headers.get("transfer-encoding", "").lower()
        if request_method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
            self._mode = "none"
            self.complete = True
        elif "chunked" in te:
            self._mode = "chunked"
        elif "content-length" in head.headers:
            try:
                self._left = int(head.headers["content-length"])
            except ValueError as exc:
                raise ProtocolError(
                    f"bad Content-Length {head.headers['content-length']!r}"
                ) from exc
            self._mode = "length"
            self.complete = self._left == 0
        else:
            self._mode = "close"

    @property
    def until_close(self) -> bool:
        """True when the body ends only when the server closes the connection."""
        return self._mode == "close"

    @property
    def between_chunks(self) -> bool:
        """Chunked and at a chunk boundary: the next bytes start a chunk-size line."""
        return (
            self._mode == "chunked"
            and not self.complete
            and not self._buf
            and not self._chunk_left
            and not self._in_trailer
        )

    def feed(self, data: bytes) -> bytes:
        """Return the body bytes contained in ``data``; extra bytes after the end are an error."""
        if self._mode == "chunked":
            return self._feed_chunked(data)
        if self._mode == "length":
            if len(data) > self._left:
                raise ProtocolError(f"{len(data) - self._left} bytes beyond Content-Length")
            self._left -= len(data)
            self.complete = self._left == 0
            return data
        if self._mode == "close":
            return data
        if data:
            raise ProtocolError(f"{len(data)} unexpected bytes after a bodyless response")
        return b""

    def _feed_chunked(self, data: bytes) -> bytes:
        if not self._buf and not self._chunk_left and not self._in_trailer:
            whole = _one_whole_chunk(data)
            if whole is not None:
                return whole
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while pos < end and not self.complete:
            if self._chunk_left > 0:
                take = min(self._chunk_left - 2, end - pos)
                if take > 0:
                    out.append(buf[pos : pos + take])
                    pos += take
                    self._chunk_left -= take
                    continue
                # Only the CRLF after the chunk data is left.
                if end - pos < self._chunk_left:
                    break
                if buf[pos : pos + self._chunk_left] != b"\r\n"[2 - self._chunk_left :]:
                    raise ProtocolError("chunk data not followed by CRLF")
                pos += self._chunk_left
                self._chunk_left = 0
                continue
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                if end - pos > _MAX_CHUNK_LINE_BYTES:
                    raise ProtocolError("chunk size line too long")
                break
            line = buf[pos:eol]
            pos = eol + 2
            if self._in_trailer:
                self.complete = not line
                continue
            size_text = line.split(b";", 1)[0].strip()
            if not _HEX_SIZE.fullmatch(size_text):
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                self._in_trailer = True
            else:
                self._chunk_left = size + 2
        rest = buf[pos:]
        if self.complete and rest:
            raise ProtocolError(f"{len(rest)} bytes after the last chunk")
        self._buf = rest
        return b"".join(out) if len(out) != 1 else out[0]


def _one_whole_chunk(data: bytes) -> bytes | None:
    """The payload when ``data`` is exactly one complete non-empty chunk, else None.

    A streaming server writes one chunk per event, so this is what almost every read holds;
    anything else (several chunks, a partial one, extensions, the last chunk) takes the
    general path, which gives the same result.
    """
    eol = data.find(b"\r\n", 0, 18)
    if eol <= 0 or not _HEX_SIZE.fullmatch(data, 0, eol):
        return None
    size = int(data[:eol], 16)
    end = eol + 2 + size
    if size <= 0 or len(data) != end + 2 or data[end:] != b"\r\n":
        return None
    return data[eol + 2 : end]
