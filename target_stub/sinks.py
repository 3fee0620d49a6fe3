"""Engine sinks: where engine steps turn into bytes on a socket or a finished future.

They run synchronously inside the engine's step timer (never block, never await). The SSE
sink writes each stream's events for a step as one pre-framed HTTP chunk straight to the
transport (one ``write`` per stream per step, ``stream_interval_tokens`` tokens per content
event, the first token always at once so TTFT is exact), and finishes the handler's future.
A client that went away is noticed at its next token (``transport.is_closing()``) or, while
queued, by handler cancellation; either way its sequence is aborted at once and quietly.

A killed replica ends its requests with ``on_finish(seq, "abort")``; what the client sees
follows the replica's ``abort_mode``: ``"error"`` sends ``data: {"error": ...}`` and
``data: [DONE]`` (a non-streamed request gets the error response), ``"drop"`` closes the
connection with no further byte (``transport.abort()``).
"""

from __future__ import annotations

import asyncio

from target_stub.engine import FinishReason, Sequence
from target_stub.errors import ApiError
from target_stub.replica import Replica
from target_stub.sse import DONE_EVENT, ChunkEncoder, error_event, http_chunk
from target_stub.text import TextSource

Outcome = FinishReason | None
"""How a request ended: the engine's finish reason, or None when the client went away."""

_TEXT_MASK = 4095  # TextSource's sequence length is 4096 (a power of two)


def replica_failed_error(replica: Replica) -> ApiError:
    return ApiError(
        503,
        f"The replica serving this request ({replica.name}) failed; please retry.",
        type_="server_error",
        code="replica_failed",
    )


class SseSink:
    """Streams one chat or text completion as server-sent events."""

    __slots__ = (
        "_chunked",
        "_done",
        "_encoder",
        "_interval",
        "_offset",
        "_pending",
        "_prompt_tokens",
        "_replica",
        "_role",
        "_sent",
        "_tokens",
        "_transport",
    )

    def __init__(
        self,
        *,
        transport: asyncio.Transport,
        encoder: ChunkEncoder,
        source: TextSource,
        offset: int,
        interval_tokens: int,
        prompt_tokens: int,
        replica: Replica,
        done: asyncio.Future[Outcome],
        chunked: bool = True,
    ) -> None:
        self._transport = transport
        self._chunked = chunked
        self._encoder = encoder
        self._tokens = source.tokens
        self._offset = offset
        self._interval = interval_tokens
        self._prompt_tokens = prompt_tokens
        self._replica = replica
        self._done = done
        self._role = encoder.role()
        self._sent = 0
        self._pending = 0

    def _text(self, n_tokens: int) -> bytes:
        start = self._offset + self._sent
        tokens = self._tokens
        if n_tokens == 1:
            return tokens[start & _TEXT_MASK]
        return b"".join(tokens[(start + i) & _TEXT_MASK] for i in range(n_tokens))

    def on_tokens(self, seq: Sequence, n_new: int) -> None:
        transport = self._transport
        if transport.is_closing():
            self._gone(seq)
            return
        pending = self._pending + n_new
        sent = self._sent
        if sent and pending < self._interval:
            self._pending = pending
            return
        payload = self._encoder.content(self._text(pending))
        if not sent:
            payload = self._role + payload
        self._sent = sent + pending
        self._pending = 0
        if self._chunked:
            transport.write(b"%x\r\n%b\r\n" % (len(payload), payload))
        else:
            transport.write(payload)

    def on_finish(self, seq: Sequence, reason: FinishReason) -> None:
        if self._done.done():
            return
        transport = self._transport
        if transport.is_closing():
            self._done.set_result(None)
            return
        if reason == "abort" and self._replica.abort_mode == "drop":
            transport.abort()
            self._done.set_result(reason)
            return
        parts = []
        if self._pending:
            parts.append(self._encoder.content(self._text(self._pending)))
            self._sent += self._pending
            self._pending = 0
        if reason == "abort":
            parts.append(error_event(replica_failed_error(self._replica)))
        else:
            parts.append(self._encoder.final(reason))
            parts.append(
                self._encoder.usage(prompt_tokens=self._prompt_tokens, completion_tokens=self._sent)
            )
        parts.append(DONE_EVENT)
        payload = b"".join(parts)
        transport.write(http_chunk(payload) if self._chunked else payload)
        self._done.set_result(reason)

    def _gone(self, seq: Sequence) -> None:
        self._replica.abort(seq)
        if not self._done.done():
            self._done.set_result(None)


class CollectSink:
    """Waits for the sequences it is told to expect (non-streamed text, embeddings, images)."""

    __slots__ = ("_done", "_remaining", "_replica", "_transport", "reasons")

    def __init__(
        self,
        *,
        transport: asyncio.Transport | None,
        replica: Replica,
        done: asyncio.Future[Outcome],
    ) -> None:
        self._remaining = 0
        self._transport = transport
        self._replica = replica
        self._done = done
        self.reasons: list[FinishReason] = []

    def expect(self, count: int) -> None:
        self._remaining = count

    def on_tokens(self, seq: Sequence, n_new: int) -> None:
        transport = self._transport
        if transport is not None and transport.is_closing():
            self._replica.abort(seq)
            if not self._done.done():
                self._done.set_result(None)

    def on_finish(self, seq: Sequence, reason: FinishReason) -> None:
        if self._done.done():
            return
        self.reasons.append(reason)
        self._remaining -= 1
        if reason == "abort" and self._replica.abort_mode == "drop" and self._transport:
            self._transport.abort()
        if reason == "abort" or self._remaining == 0:
            self._done.set_result(reason)
