"""The per-request record contract (schema v1), written by the load generator.

One JSON object per line in ``requests/<process_id>.jsonl``; ``analysis.schema`` reads the
same fields and a contract test keeps the two in sync. Every ``t_*_s`` is seconds since the
run's t0 (``manifest.json`` ``t0_epoch_s``), measured with ``time.perf_counter`` in the
writing process and mapped onto the shared t0 once at process start.

Columns (units in the names):

==================  ==========  ==============================================================
request_id          str         unique per request (process id + counter)
process_id          str         Locust process: "local", "master", "worker-<index>-<pid>"
user_class          str         Locust user class name (or "open_loop")
endpoint            str         "chat", "completions", "embeddings", "images"
stage               str | null  profile stage name at the intended (else sent) time
tier                str | null  user tier ("free", "paid", ...)
t_intended_s        float|null  open loop: when the request should have been sent; closed: null
t_sent_s            float       first attempt's start on the wire: before the TCP/TLS connect
                                on a new connection, else its send on a kept-alive one
t_first_chunk_s     float|null  first SSE event of any kind (vLLM's role chunk) / response body
t_first_token_s     float|null  first chunk carrying content (text, image, embedding)
t_last_token_s      float|null  last chunk carrying content
t_done_s            float       stream finished, failed, dropped or abandoned
prompt_tokens       int|null    from the usage chunk when present, else the client's estimate
output_tokens       int         from the usage chunk when present, else counted
n_chunks            int         content-carrying chunks received
itl_s               list|null   gaps between consecutive content chunks, divided by the tokens
                                the later chunk carried (one entry per chunk after the first)
status              int         HTTP status of the final attempt; 0 = no response
error_kind          str|null    one of ERROR_KINDS, null on success
error               str|null    short human-readable error (never contains secrets)
retries             int         retries before the final attempt
==================  ==========  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

import orjson

SCHEMA_VERSION: Final = 1

ERROR_KINDS: Final = (
    "connect",
    "timeout",
    "status",
    "protocol",
    "aborted",
    "dropped",
    "abandoned",
)

ENDPOINTS: Final = ("chat", "completions", "embeddings", "images")


@dataclass(slots=True)
class RequestRecord:
    """One request as the client saw it; see the module docstring for units."""

    request_id: str
    process_id: str
    user_class: str
    endpoint: str
    stage: str | None
    tier: str | None
    t_intended_s: float | None
    t_sent_s: float
    t_first_chunk_s: float | None
    t_first_token_s: float | None
    t_last_token_s: float | None
    t_done_s: float
    prompt_tokens: int | None
    output_tokens: int
    n_chunks: int
    itl_s: list[float] | None
    status: int
    error_kind: str | None
    error: str | None
    retries: int

    def __post_init__(self) -> None:
        if self.error_kind is not None and self.error_kind not in ERROR_KINDS:
            raise ValueError(
                f"Unknown error_kind {self.error_kind!r}; known: {', '.join(ERROR_KINDS)}"
            )

    def to_json_line(self) -> str:
        """Serialise as one compact JSON line (with the trailing newline).

        orjson on a flat dict: one record per request is written by the load generator's
        hot path, and ``json.dumps(asdict(...))`` costs about 30x more.
        """
        values = {name: getattr(self, name) for name in FIELD_NAMES}
        return orjson.dumps(values).decode() + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        values: dict[str, Any] = {name: data.get(name) for name in FIELD_NAMES}
        return cls(**values)


FIELD_NAMES: Final = tuple(f.name for f in fields(RequestRecord))
