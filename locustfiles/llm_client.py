"""One logical LLM request, timed exactly: send, read the stream, retry, abandon, record.

Timestamps are taken with ``time.perf_counter`` the moment a socket read returns, before any
parsing, and mapped onto the run's t0 axis only when the record is built. Standard library
only (sockets, not gevent): under Locust the sockets are cooperative, and tests can drive it
without Locust.

``t_sent_s`` is the first attempt's send, so TTFT and E2E include retries and backoff waits,
as the user behind the request experiences them.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Final

from locustfiles.api_request import ApiCall
from locustfiles.client_policy import AbandonPolicy, RetryPolicy
from locustfiles.connection import (
    ConnectError,
    ConnectionClosedError,
    ConnectionPool,
    HttpConnection,
    NothingReceivedError,
    encode_request,
)
from locustfiles.http_wire import BodyDecoder, ProtocolError
from locustfiles.records import RequestRecord
from locustfiles.response_reader import (
    Attempt,
    StreamReader,
    failed,
    read_error,
    read_json,
    read_stream,
    timed_out,
)
from locustfiles.timing import RunClock, rounded_inter_token_latencies_s, tokens_per_chunk

INTERRUPTED: Final = "interrupted"
"""Error text prefix of requests cut by the end of the run (Locust killing the greenlet)."""
_ROUND_DIGITS: Final = 6  # microseconds: far below the clock's relevance, keeps lines short


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Per-run client behaviour. ``headers`` may hold the API key: never log or write them."""

    headers: tuple[tuple[str, str], ...]
    request_timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    abandon: AbandonPolicy = field(default_factory=AbandonPolicy)


DeadlineGuard = Callable[[float], AbstractContextManager[object]]
"""``guard(seconds)``: a context manager that raises TimeoutError in its body after that long.

Under gevent one ``gevent.Timeout`` per attempt replaces a timer per socket read (the largest
saving per streamed token); without a guard the sockets carry the deadline themselves.
"""


@dataclass(frozen=True, slots=True)
class CallOutcome:
    record: RequestRecord
    text: str
    """The generated text, when the caller asked for it (multi-turn sessions)."""


class LlmClient:
    """Sends ``ApiCall``s over a shared keep-alive pool and returns one record per call.

    Every record also goes to ``sink(record, live)``; ``live`` is False for requests cut by
    the end of the run, which are written but kept out of Locust's live statistics.
    """

    def __init__(
        self,
        *,
        pool: ConnectionPool,
        image_pool: ConnectionPool | None = None,
        settings: ClientSettings,
        clock: RunClock,
        rng: random.Random,
        process_id: str,
        stage_at: Callable[[float], str | None],
        ids: itertools.count[int],
        sink: Callable[[RequestRecord, bool], None],
        deadline_guard: DeadlineGuard | None = None,
        stream_reader: StreamReader = read_stream,
    ) -> None:
        self._sink = sink
        self._read_stream = stream_reader
        self._guard = deadline_guard
        self._pool = pool
        self._image_pool = image_pool or pool
        self._settings = settings
        self._clock = clock
        self._rng = rng
        self._process_id = process_id
        self._stage_at = stage_at
        self._ids = ids
        self._base_headers = dict(settings.headers)

    def call(
        self,
        api_call: ApiCall,
        *,
        user_class: str,
        t_intended_s: float | None = None,
        collect_text: bool = False,
    ) -> CallOutcome:
        """Run the request (with retries) and hand its record to the sink; also return it.

        If the calling greenlet is killed mid-request (Locust stopping users), the partial
        request is recorded as ``aborted`` before the exception propagates.
        """
        settings = self._settings
        headers = dict(self._base_headers)
        headers["Content-Type"] = "application/json"
        if api_call.stream:
            headers["Accept"] = "text/event-stream"
        headers.update(api_call.headers)
        # Image generation may live on its own service (--image-host).
        pool = self._image_pool if api_call.endpoint == "images" else self._pool
        target = pool.endpoint
        wire = encode_request(
            "POST", target.path_prefix + api_call.path, target.host_header, headers, api_call.body
        )
        t_start = time.perf_counter()
        abandon_at = (
            math.inf
            if settings.abandon.abandon_after_s is None
            else t_start + settings.abandon.abandon_after_s
        )
        retries = 0
        first_attempt = attempt = Attempt()
        try:
            while True:
                self._attempt(
                    pool,
                    attempt,
                    wire=wire,
                    stream=api_call.stream,
                    abandon_at=abandon_at,
                    collect_text=collect_text,
                )
                if not self._retry_wait(attempt, retries, abandon_at):
                    break
                retries += 1
                attempt = Attempt()
        except BaseException as exc:
            # Killed from outside (GreenletExit, KeyboardInterrupt): keep what was measured.
            failed(attempt, "aborted", f"{INTERRUPTED}: {type(exc).__name__}")
            # Not live: a request cut by the end of the run is no failure of the target.
            self._sink(
                self._record(
                    api_call,
                    attempt,
                    t_first_sent=first_attempt.t_sent or t_start,
                    t_intended_s=t_intended_s,
                    user_class=user_class,
                    retries=retries,
                ),
                False,
            )
            raise
        # The first attempt's send; the start of the call if it never sent (connect failed).
        record = self._record(
            api_call,
            attempt,
            t_first_sent=first_attempt.t_sent or t_start,
            t_intended_s=t_intended_s,
            user_class=user_class,
            retries=retries,
        )
        self._sink(record, True)
        return CallOutcome(record=record, text="".join(attempt.text_parts))

    def _retry_wait(self, attempt: Attempt, retries: int, abandon_at: float) -> bool:
        """After a failed attempt: wait and return True to retry, or return False."""
        if attempt.error_kind is None or attempt.error_kind == "abandoned":
            return False
        if attempt.content_times:
            return False  # output already reached the user: not retried
        status = attempt.status or None
        retry = self._settings.retry
        if not retry.should_retry(retries_done=retries, status=status):
            return False
        delay_s = retry.delay_s(
            retries_done=retries, headers=attempt.headers, rng=self._rng, now_epoch_s=time.time()
        )
        if time.perf_counter() + delay_s >= abandon_at:
            time.sleep(max(0.0, abandon_at - time.perf_counter()))
            failed(attempt, "abandoned", "gave up while waiting to retry")
            return False
        time.sleep(delay_s)
        return True

    def _attempt(
        self,
        pool: ConnectionPool,
        attempt: Attempt,
        *,
        wire: bytes,
        stream: bool,
        abandon_at: float,
        collect_text: bool,
    ) -> None:
        timeout_at = time.perf_counter() + self._settings.request_timeout_s
        deadline = min(abandon_at, timeout_at)
        abandons = abandon_at <= timeout_at
        guard = self._guard
        if guard is None or deadline == math.inf:
            self._exchange(pool, attempt, wire, stream, collect_text, deadline, abandons)
            return
        # The guard's TimeoutError surfaces in a socket call inside, handled like a socket's.
        with guard(max(deadline - time.perf_counter(), 0.0)):
            self._exchange(pool, attempt, wire, stream, collect_text, math.inf, abandons)

    def _exchange(  # noqa: PLR0917 - private, called from one place
        self,
        pool: ConnectionPool,
        attempt: Attempt,
        wire: bytes,
        stream: bool,
        collect_text: bool,
        deadline: float,
        abandons: bool,
    ) -> None:
        conn: HttpConnection | None = None
        for fresh in (False, True):
            t_connect = time.perf_counter()
            try:
                conn = pool.acquire() if not fresh else pool.open()
            except ConnectError as exc:
                failed(attempt, "connect", str(exc))
                return
            reused = conn.requests_sent > 0
            try:
                conn.send(wire, deadline_perf=deadline)
                if attempt.t_sent is None:
                    # A new connection's TCP/TLS set-up is part of the request's latency (as
                    # in vllm bench serve); on a kept-alive one, the moment of the send.
                    attempt.t_sent = conn.last_send_perf if reused else t_connect
                head, first = conn.read_head(deadline_perf=deadline)
            except (NothingReceivedError, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                if reused and not fresh:
                    continue  # a keep-alive socket the server had closed: reconnect once
                failed(attempt, "aborted", f"{type(exc).__name__}: {exc}")
                return
            except TimeoutError:
                conn.close()
                timed_out(attempt, abandons)
                return
            except (ConnectionClosedError, ProtocolError, OSError) as exc:
                conn.close()
                kind = "protocol" if isinstance(exc, ProtocolError) else "aborted"
                failed(attempt, kind, f"{type(exc).__name__}: {exc}")
                return
            except BaseException:
                conn.close()
                raise
            break
        assert conn is not None
        attempt.status = head.status
        attempt.headers = head.headers
        try:
            decoder = BodyDecoder(head)
            if head.status != 200:
                read_error(conn, decoder, first, deadline, attempt)
            elif stream:
                self._read_stream(
                    conn,
                    decoder,
                    first,
                    deadline=deadline,
                    attempt=attempt,
                    collect_text=collect_text,
                )
            else:
                read_json(conn, decoder, first, deadline, attempt)
        except TimeoutError:
            conn.close()
            timed_out(attempt, abandons)
            return
        except (ProtocolError, ValueError) as exc:
            conn.close()
            failed(attempt, "protocol", str(exc))
            return
        except (ConnectionClosedError, OSError) as exc:
            conn.close()
            failed(attempt, "aborted", f"{type(exc).__name__}: {exc}")
            return
        except BaseException:
            conn.close()
            raise
        # The arrival of the response's last bytes (a kernel stamp where there is one), not
        # the moment this greenlet got round to finishing it.
        attempt.t_done = conn.last_read_perf
        pool.release(conn)

    def _record(
        self,
        api_call: ApiCall,
        attempt: Attempt,
        *,
        t_first_sent: float,
        t_intended_s: float | None,
        user_class: str,
        retries: int,
    ) -> RequestRecord:
        to_run = self._clock.to_run_s
        t_sent_s = to_run(t_first_sent)
        times = attempt.content_times
        streamed = api_call.stream and attempt.status == 200
        n_chunks = len(attempt.content_chars) if streamed else min(len(attempt.content_chars), 1)
        if attempt.completion_tokens is not None:
            output_tokens = attempt.completion_tokens
        else:
            output_tokens = n_chunks if streamed else 0
        itl: list[float] | None = None
        if streamed and len(times) > 1:
            tokens = tokens_per_chunk(attempt.content_chars, attempt.completion_tokens)
            itl = rounded_inter_token_latencies_s(times, tokens)
        stage_t = t_intended_s if t_intended_s is not None else t_sent_s
        return RequestRecord(
            request_id=f"{self._process_id}-{next(self._ids)}",
            process_id=self._process_id,
            user_class=user_class,
            endpoint=api_call.endpoint,
            stage=self._stage_at(stage_t),
            tier=api_call.tier,
            t_intended_s=None if t_intended_s is None else round(t_intended_s, _ROUND_DIGITS),
            t_sent_s=round(t_sent_s, _ROUND_DIGITS),
            t_first_chunk_s=_run_or_none(to_run, attempt.t_first_chunk),
            t_first_token_s=_run_or_none(to_run, times[0] if times else None),
            t_last_token_s=_run_or_none(to_run, times[-1] if times else None),
            t_done_s=round(to_run(attempt.t_done or time.perf_counter()), _ROUND_DIGITS),
            prompt_tokens=attempt.prompt_tokens
            if attempt.prompt_tokens is not None
            else api_call.prompt_tokens,
            output_tokens=output_tokens,
            n_chunks=n_chunks,
            itl_s=itl,
            status=attempt.status,
            error_kind=attempt.error_kind,
            error=attempt.error,
            retries=retries,
        )


def _run_or_none(to_run: Callable[[float], float], perf: float | None) -> float | None:
    return None if perf is None else round(to_run(perf), _ROUND_DIGITS)
