"""The report's methodology section: how every number was computed (kept in step with
docs/analysis.md, which has the same definitions with formulas)."""

from __future__ import annotations

from typing import Final

METHODOLOGY_HTML: Final = """
<h2>Methodology</h2>
<h3>Metric definitions</h3>
<ul>
<li><b>TTFT</b>: first content token − request sent. <b>TTFT (intended)</b>: first token −
intended start (open loop; includes client-side queueing, so stalls are not hidden by
coordinated omission). <b>TTFT (first chunk)</b>: first SSE event of any kind − sent.</li>
<li><b>TPOT</b>: (last token − first token) / (output tokens − 1), requests with ≥ 2 tokens.</li>
<li><b>ITL</b>: gaps between consecutive content chunks divided by the tokens the later chunk
carried, pooled over requests.</li>
<li><b>E2E</b>: done − sent (and done − intended for open loop).</li>
<li>Latency percentiles are exact (numpy, linear interpolation) over the raw records of
<i>successful</i> requests, never Locust's bucketed ones.</li>
<li><b>Offered load</b>: requests by start (intended for open loop, else sent) per second.
<b>Achieved</b>: successful requests by completion time per second; <b>output tok/s</b>
likewise. <b>Goodput</b>: successful requests/s, by completion, whose own TTFT, TPOT and E2E
are each within the SLO thresholds (vLLM's rule; an ITL target is judged on the request's
TPOT). <b>SLO attainment</b>: the fraction of started requests that are good.</li>
<li><b>In flight</b>: exact time-average of the number of requests between sent and done.</li>
<li><b>Outcomes</b>: ok (2xx, no error); shed (429, 503, 529); dropped and abandoned (the
client's own kinds); failed (everything else). Error fraction = 1 − ok / started.</li>
<li><b>SLO met</b> (a window): every percentile target within its threshold and the error
fraction ≤ error_max_frac.</li>
</ul>
<h3>Steady state</h3>
<p>Per stage, warm-up = the first second at which the trailing 5-s mean of in-flight requests
is within max(10%, 1 request) of the median over the stage's second half, clamped to
[10%, 50%] of the stage. A stage whose in-flight count keeps growing through its steady part
is marked unstable (over-saturated). Ramps are reported but are not saturation points.</p>
<h3>Saturation and capacity</h3>
<ul>
<li>Load points: the steady state of each constant stage (≥ 3 needed), else 10-s windows
binned by offered load. x = offered req/s (open loop) or users (closed loop).</li>
<li>SLO crossing: each target's value/threshold is interpolated in x with monotone PCHIP;
the first crossing over all targets (and the error fraction) is x*. Max sustainable load =
the highest achieved req/s at x ≤ x*. Its CI: a seeded bootstrap resampling every point's
percentiles (order-statistic ranks), error fractions (binomial) and completions (Poisson).</li>
<li>Knee: the first x where achieved/offered < 0.95 (closed loop: against the lightest
point's per-user throughput).</li>
<li>USL: X(N) = γN / (1 + α(N−1) + βN(N−1)), bounded least squares (α, β ∈ [0, 1]) on ≥ 6
points, N = achieved × mean E2E (Little's law).</li>
<li>Replicas: N = ceil(λ_peak / (u · e · X_slo)); surge headroom m = min(M, 1 + (M−1) ·
T_react / T_ramp); N+1 adds one replica to the surge count; Erlang C (log space) as a
cross-check; ranges from the CI of X_slo.</li>
</ul>
<h3>Surges</h3>
<p>Onsets: stage starts whose target jumps ≥ 1.5×, ramps growing ≥ 1.5×, and every event in
events.jsonl. The SLO is judged on consecutive status windows; recovery = the SLO met again
for a sustained window; drain = from the in-flight peak back to within 10% (+1) of the
30-s pre-onset baseline; burn rate = (not-good fraction) / (1 − availability target).</p>
"""
