// surgebench LLM view: polls llm/data every 2 s and draws SVG line charts (no libraries, no CDN).
"use strict";

(function () {
  const POLL_MS = 2000;
  const SVG = "http://www.w3.org/2000/svg";
  const W = 560, H = 230, PAD = { l: 56, r: 12, t: 26, b: 50 };
  const COLORS = ["#2e6bd9", "#e8710a", "#1a7f37", "#c62828", "#8e44ad", "#00838f", "#6d4c41"];

  const CHARTS = [
    { id: "ttft", title: "TTFT (ms)", slo: "TTFT", series: [["ttft_p50_ms", "p50"], ["ttft_p95_ms", "p95"]] },
    { id: "tpot", title: "TPOT (ms)", slo: "TPOT", series: [["tpot_p50_ms", "p50"], ["tpot_p95_ms", "p95"]] },
    { id: "e2e", title: "E2E latency (ms)", slo: "E2E", series: [["e2e_p50_ms", "p50"], ["e2e_p95_ms", "p95"]] },
    { id: "tps", title: "Output tokens/s", series: [["output_tps", "tokens/s"]] },
    { id: "load", title: "Offered vs achieved (req/s)",
      series: [["target_rps", "offered (profile)"], ["attempted_rps", "finished (any outcome)"], ["completed_rps", "achieved (ok)"]] },
    { id: "users", title: "Users", series: [["target_users", "target"], ["users", "running"]] },
    { id: "errors", title: "Error, shed and dropped (% of requests)", scale: 100,
      series: [["error_frac", "errors"], ["shed_frac", "shed (429/503)"], ["dropped_frac", "dropped (client cap)"]] },
    { id: "queue", title: "Server queue (requests)", series: [["waiting", "waiting"], ["running", "running"]] },
    { id: "kv", title: "Server KV cache use (%)", scale: 100, series: [["kv_mean_frac", "mean"], ["kv_max_frac", "max"]] },
    { id: "replicas", title: "Server replicas", series: "replicas" },
  ];

  let runSeq = null, lastSeq = 0, points = [];

  function el(tag, attrs, parent, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    if (a >= 1000) return Math.round(v).toLocaleString("en-US");
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    return v.toFixed(2);
  }

  function tick(v, step) {
    const decimals = Math.max(0, -Math.floor(Math.log10(step)));
    return v.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  }

  function niceStep(span, n) {
    const raw = span / Math.max(1, n), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  }

  function seriesOf(chart) {
    if (chart.series !== "replicas") return chart.series;
    const keys = new Set();
    for (const p of points) for (const k of Object.keys(p.replicas || {})) keys.add(k);
    return [...keys].sort().map((k) => [k, k, (p) => (p.replicas || {})[k]]);
  }

  function draw(chart, refs) {
    const fig = document.getElementById("chart-" + chart.id);
    const scale = chart.scale || 1;
    const series = seriesOf(chart).map(([key, label, get], i) => ({
      key, label, color: COLORS[i % COLORS.length],
      xy: points.map((p) => [p.t_s, get ? get(p) : p[key]])
        .filter(([, y]) => y !== null && y !== undefined && Number.isFinite(y))
        .map(([x, y]) => [x, y * scale]),
    })).filter((s) => s.xy.length > 0);
    fig.classList.toggle("hidden", fig.classList.contains("server") && series.length === 0);
    fig.replaceChildren();
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, "data-chart": chart.id, role: "img" }, fig);
    el("text", { x: PAD.l, y: 16, class: "title" }, svg, chart.title);
    const xs = points.map((p) => p.t_s);
    const x0 = xs.length ? Math.min(...xs) : 0, x1 = Math.max(x0 + 10, ...xs);
    let ymax = 0;
    for (const s of series) for (const [, y] of s.xy) ymax = Math.max(ymax, y);
    for (const r of refs) ymax = Math.max(ymax, r.y);
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    const px = (x) => PAD.l + ((x - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
    const py = (y) => H - PAD.b - (y / ymax) * (H - PAD.t - PAD.b);
    const ystep = niceStep(ymax, 4);
    for (let y = 0; y <= ymax; y += ystep) {
      el("line", { x1: PAD.l, x2: W - PAD.r, y1: py(y), y2: py(y), class: "grid" }, svg);
      el("text", { x: PAD.l - 6, y: py(y) + 4, "text-anchor": "end" }, svg, tick(y, ystep));
    }
    const xstep = niceStep(x1 - x0, 6);
    for (let x = Math.ceil(x0 / xstep) * xstep; x <= x1; x += xstep) {
      el("text", { x: px(x), y: H - PAD.b + 14, "text-anchor": "middle" }, svg, tick(x, xstep) + " s");
    }
    el("line", { x1: PAD.l, x2: W - PAD.r, y1: py(0), y2: py(0), class: "axis" }, svg);
    for (const r of refs) {
      el("line", { x1: PAD.l, x2: W - PAD.r, y1: py(r.y), y2: py(r.y), class: "ref", stroke: "#c62828" }, svg);
      el("text", { x: W - PAD.r, y: py(r.y) - 4, "text-anchor": "end", fill: "#c62828" }, svg, r.label);
    }
    let lx = PAD.l, ly = H - 20;
    for (const s of series) {
      el("polyline", {
        points: s.xy.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" "),
        stroke: s.color, "data-series": s.key, "data-n": s.xy.length,
        "data-last": s.xy[s.xy.length - 1][1],
      }, svg);
      const width = 24 + 6 * s.label.length;
      if (lx + width > W && lx > PAD.l) { lx = PAD.l; ly += 13; }
      el("rect", { x: lx, y: ly - 9, width: 10, height: 10, fill: s.color }, svg);
      el("text", { x: lx + 14, y: ly }, svg, s.label);
      lx += width;
    }
    if (series.length === 0) {
      el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg, "no data yet");
    }
  }

  function setTile(id, value, text, cls) {
    const node = document.getElementById(id);
    node.dataset.value = value === null || value === undefined ? "" : String(value);
    node.textContent = text !== undefined ? text : fmt(value);
    node.className = cls || "";
  }

  function table(id, head, rows) {
    const t = document.getElementById(id);
    t.replaceChildren();
    const tr = t.insertRow();
    for (const h of head) { const th = document.createElement("th"); th.textContent = h; tr.appendChild(th); }
    for (const row of rows) {
      const r = t.insertRow();
      for (const [text, cls] of row) { const c = r.insertCell(); c.textContent = text; if (cls) c.className = cls; }
    }
  }

  function render(body) {
    const s = body.summary || {}, last = points[points.length - 1] || {};
    document.getElementById("state").textContent = body.state || "";
    document.getElementById("state").dataset.value = body.state || "";
    document.getElementById("stage").textContent = last.stage ? "stage: " + last.stage : "";
    document.getElementById("run-dir").textContent = s.run_dir ? "run: " + s.run_dir : "";
    setTile("tile-ttft", last.ttft_p95_ms);
    setTile("tile-tpot", last.tpot_p95_ms);
    setTile("tile-e2e", last.e2e_p95_ms);
    setTile("tile-tps", last.output_tps);
    setTile("tile-rps", last.completed_rps);
    document.getElementById("tile-offered").textContent =
      last.target_rps != null ? "offered " + fmt(last.target_rps) + " req/s" : "last 10 s";
    const errPct = last.error_frac == null ? null :
      100 * (last.error_frac + (last.shed_frac || 0) + (last.dropped_frac || 0));
    setTile("tile-errors", errPct, undefined, errPct > 0 ? "bad" : "");
    const slo = s.slo || [];
    const breached = slo.filter((x) => x.status === "breached");
    if (slo.length === 0) setTile("tile-slo", null, "none set", "");
    else if (slo.every((x) => x.status === "no data")) setTile("tile-slo", "no data", "no data", "");
    else setTile("tile-slo", breached.length ? "breached" : "met", breached.length ? "BREACHED" : "met",
      breached.length ? "bad" : "ok");
    document.getElementById("tile-slo-detail").textContent =
      slo.map((x) => `${x.metric} p${x.q} ≤ ${fmt(x.limit_ms)}`).join(", ") || "set --slo-*-p95-ms";
    const refs = {};
    for (const x of slo) (refs[x.metric] = refs[x.metric] || []).push({ y: x.limit_ms, label: `SLO p${x.q} ${fmt(x.limit_ms)} ms` });
    for (const chart of CHARTS) draw(chart, refs[chart.slo] || []);
    const anyServer = points.some((p) => p.waiting != null || p.kv_mean_frac != null);
    document.getElementById("server-note").style.display = anyServer ? "none" : "";
    const run = s.run || {};
    table("run-table", ["metric", "n", "p50", "p95", "p99", "last 10 s p95"],
      Object.entries(run).map(([m, q]) => [[m], [String(q.n)], [fmt(q.p50_ms)], [fmt(q.p95_ms)], [fmt(q.p99_ms)],
        [fmt(((s.window || {})[m] || {}).p95_ms)]]));
    table("slo-table", ["SLO", "limit", "last 10 s", "run", "status"],
      slo.map((x) => [[`${x.metric} p${x.q}`], [fmt(x.limit_ms) + " ms"], [fmt(x.window_ms)], [fmt(x.run_ms)], [x.status, x.status.replace(" ", "-")]]));
    const link = document.getElementById("report-link");
    link.classList.toggle("disabled", !body.report_ready);
    link.title = body.report_ready ? "Build (first time) and open the capacity report" : "Available once the run has stopped";
  }

  async function poll() {
    try {
      const res = await fetch(`llm/data?since=${lastSeq}`, { cache: "no-store" });
      if (res.ok) {
        const body = await res.json();
        if (body.run_seq !== runSeq) { runSeq = body.run_seq; points = []; lastSeq = 0; }
        for (const p of body.points) { points.push(p); lastSeq = Math.max(lastSeq, p.seq); }
        if (points.length > 3600) points = points.slice(-3600);
        render(body);
      }
    } catch (err) {
      document.getElementById("state").textContent = "disconnected";
    }
    setTimeout(poll, POLL_MS);
  }

  poll();
})();
