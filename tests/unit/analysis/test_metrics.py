"""Window metrics: definitions on hand-made records, and properties on random ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.io import ItlSamples, RunData
from analysis.latency import OUTCOMES, classify_outcomes, derive_requests, good_requests
from analysis.metrics import Windows, window_metrics
from analysis.pipeline import AnalysisOptions, analyse
from analysis.schema import FRAME_COLUMNS
from analysis.slo import parse_slo

SLO = parse_slo("ttft_p95_ms=200,e2e_p95_ms=1000")


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {
        "request_id": "r", "process_id": "local", "user_class": "u", "endpoint": "chat",
        "stage": None, "tier": None, "t_intended_s": np.nan, "t_first_chunk_s": np.nan,
        "prompt_tokens": 10.0, "n_chunks": 0, "error_kind": None, "error": None, "retries": 0,
    }  # fmt: skip
    frame = pd.DataFrame([{**base, **row} for row in rows])
    return frame[list(FRAME_COLUMNS)]


def _random_requests(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sent = rng.uniform(0, 20, n)
    ttft = rng.exponential(0.2, n)
    tokens = rng.integers(1, 40, n)
    last = sent + ttft + rng.exponential(0.5, n)
    status = rng.choice([200, 200, 200, 429, 500, 503], n)
    kinds = [None if s == 200 else "status" for s in status]
    return _frame(
        [
            {"t_sent_s": s, "t_first_token_s": s + f, "t_last_token_s": la, "t_done_s": la,
             "output_tokens": int(k), "status": int(st_), "error_kind": e}
            for s, f, la, k, st_, e in zip(sent, ttft, last, tokens, status, kinds, strict=True)
        ]
    )  # fmt: skip


def test_definitions_on_hand_made_records() -> None:
    requests = _frame(
        [
            # ok: TTFT 100 ms, TPOT (1.1 - 0.1) / 9 s, E2E 1.2 s, completes in second 1
            {"t_sent_s": 0.0, "t_first_token_s": 0.1, "t_last_token_s": 1.1, "t_done_s": 1.2,
             "output_tokens": 10, "status": 200},
            # shed by the server
            {"t_sent_s": 0.5, "t_first_token_s": np.nan, "t_last_token_s": np.nan,
             "t_done_s": 0.6, "output_tokens": 0, "status": 503, "error_kind": "status"},
            # abandoned by the client
            {"t_sent_s": 0.7, "t_first_token_s": np.nan, "t_last_token_s": np.nan,
             "t_done_s": 1.7, "output_tokens": 0, "status": 0, "error_kind": "abandoned"},
        ]
    )  # fmt: skip
    derived = derive_requests(requests)
    assert [OUTCOMES[c] for c in classify_outcomes(requests)] == ["ok", "shed", "abandoned"]
    assert derived["ttft_ms"].iloc[0] == 100.0
    assert np.isclose(derived["tpot_ms"].iloc[0], 1000.0 / 9)
    good = good_requests(derived, parse_slo("ttft_p95_ms=200,e2e_p95_ms=1000"))
    assert good.tolist() == [False, False, False]  # E2E 1.2 s > 1 s
    table = window_metrics(derived, Windows.seconds(2.0), SLO, good)
    assert table["n_started"].tolist() == [3.0, 0.0]
    assert table["achieved_rps"].tolist() == [0.0, 1.0]
    assert np.isclose(table["shed_frac"].iloc[0], 1 / 3)
    assert np.isclose(table["abandoned_frac"].iloc[0], 1 / 3)
    # in flight: [0, 1.2) + [0.5, 0.6) + [0.7, 1.7) -> 1.0 + 0.1 + 0.3 in second 0
    assert np.allclose(table["in_flight_mean"], [1.4, 0.2 + 0.7])
    assert not table["slo_met"].iloc[0]  # two of three failed: error fraction breaks the SLO
    assert pd.isna(table["slo_met"].iloc[1])  # nothing started in second 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300))
def test_goodput_never_exceeds_throughput(seed: int, n: int) -> None:
    derived = derive_requests(_random_requests(seed, n))
    good = good_requests(derived, SLO)
    table = window_metrics(derived, Windows.seconds(25.0), SLO, good)
    assert (table["goodput_rps"] <= table["achieved_rps"] + 1e-12).all()
    assert (
        table["slo_attainment_frac"].fillna(0) <= 1 - table["error_frac"].fillna(0) + 1e-12
    ).all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 200))
def test_window_metrics_do_not_depend_on_row_order(seed: int, n: int) -> None:
    requests = _random_requests(seed, n)
    shuffled = requests.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    tables = []
    for frame in (requests, shuffled):
        derived = derive_requests(frame)
        tables.append(
            window_metrics(derived, Windows.seconds(25.0), SLO, good_requests(derived, SLO))
        )
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=False, rtol=1e-12)


def test_whole_analysis_does_not_depend_on_row_order(mm1_run: RunData) -> None:
    order = np.random.default_rng(5).permutation(len(mm1_run.requests))
    inverse = np.argsort(order)
    shuffled = RunData(
        path=mm1_run.path,
        manifest=mm1_run.manifest,
        source=mm1_run.source,
        requests=mm1_run.requests.iloc[order].reset_index(drop=True),
        itl=ItlSamples(
            mm1_run.itl.values_s, inverse[mm1_run.itl.record_index], mm1_run.itl.counts[order]
        ),
        offered=mm1_run.offered,
        server_metrics=None,
        events=None,
        locust_history=None,
        notes=(),
        missing=(),
    )
    options = AnalysisOptions(n_boot=50, seed=1)
    a, b = analyse(mm1_run, options), analyse(shuffled, options)
    pd.testing.assert_frame_equal(a.stage_table, b.stage_table, check_exact=False, rtol=1e-9)
    assert a.saturation is not None and b.saturation is not None
    assert a.saturation.max_sustainable == b.saturation.max_sustainable
