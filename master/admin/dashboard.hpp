// The admin listener's live view (GET /): one self-contained page, no external assets,
// that polls /stats once a second and draws per-worker rows and charts. Owns the page;
// leaves the data to /stats (render_json) and serving it to admin_http.
#pragma once

#include <string_view>

namespace ringfork::master {

/// The page. Its script sets body[data-ok] after every good refresh and body[data-error]
/// on any script error, which the headless-browser test reads.
inline constexpr std::string_view dashboard_html = R"RFPAGE(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ringfork</title>
<link rel="icon" href="data:,">
<style>
:root{--bg:#0f1419;--panel:#171e26;--line:#263241;--fg:#d8dee6;--dim:#7d8a99;--a:#4fb3ff;--b:#ffb454;--c:#7fd962;--d:#f26d78}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.4 system-ui,sans-serif}
header{display:flex;gap:18px;align-items:baseline;padding:14px 20px;border-bottom:1px solid var(--line);flex-wrap:wrap}
header h1{font-size:18px;margin:0;letter-spacing:.5px}header span{color:var(--dim)}
#conn{margin-left:auto;font-size:12px;padding:2px 8px;border-radius:9px;background:#233;color:var(--c)}
#conn.down{background:#3a1d22;color:var(--d)}
main{padding:16px 20px;display:grid;gap:16px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.tile{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.tile b{display:block;font-size:22px;font-variant-numeric:tabular-nums}.tile small{color:var(--dim)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
.chart{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.chart h2{font-size:13px;margin:0 0 6px;color:var(--dim);font-weight:500}
canvas{width:100%;height:150px;display:block}
table{width:100%;border-collapse:collapse;background:var(--panel);border:1px solid var(--line);border-radius:8px;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;text-align:right;border-bottom:1px solid var(--line);white-space:nowrap}
th{color:var(--dim);font-weight:500;font-size:12px}th:nth-child(-n+4),td:nth-child(-n+4),td:last-child,th:last-child{text-align:left}
.pill{padding:1px 8px;border-radius:9px;font-size:12px}.ready{background:#1f3a25;color:var(--c)}
.starting{background:#3a3320;color:var(--b)}.draining{background:#3a1d22;color:var(--d)}
.bar{display:inline-block;height:8px;background:var(--a);border-radius:4px;vertical-align:middle;margin-right:6px}
</style></head>
<body>
<header><h1>ringfork</h1><span id="ver"></span><span id="mpid"></span><span id="up"></span><span id="conn">connecting</span></header>
<main>
<section class="tiles">
<div class="tile"><small>requests / s</small><b id="t-rps">–</b></div>
<div class="tile"><small>requests total</small><b id="t-req">–</b></div>
<div class="tile"><small>open connections</small><b id="t-open">–</b></div>
<div class="tile"><small>p50 / p99 (last second)</small><b id="t-lat">–</b></div>
<div class="tile"><small>4xx / 5xx</small><b id="t-err">–</b></div>
<div class="tile"><small>workers / respawns</small><b id="t-wk">–</b></div>
</section>
<section class="charts">
<div class="chart"><h2>requests / s — total and per worker</h2><canvas id="c-rps"></canvas></div>
<div class="chart"><h2>latency — p50 and p99 per second (µs)</h2><canvas id="c-lat"></canvas></div>
<div class="chart"><h2>restarts — respawns so far</h2><canvas id="c-rst"></canvas></div>
</section>
<table><thead><tr><th>slot</th><th>pid</th><th>gen</th><th>state</th><th>uptime</th><th>req/s</th><th>requests</th>
<th>open</th><th>p50</th><th>p99</th><th>restarts</th><th>last exit</th></tr></thead><tbody id="rows"></tbody></table>
<table id="tasks"><thead><tr><th>job</th><th>task</th><th>state</th><th>elapsed</th><th>runner pid</th></tr></thead>
<tbody id="jobs"></tbody></table>
<table id="apps" hidden><thead><tr><th>app</th><th>index</th><th>pid</th><th>state</th><th>port</th><th>gen</th>
<th>uptime</th><th>requests</th><th>restarts</th><th>last exit</th></tr></thead><tbody id="app-rows"></tbody></table>
</main>
<script>
"use strict";
window.onerror = function (msg) { document.body.dataset.error = String(msg); };
window.addEventListener("unhandledrejection", function (e) { document.body.dataset.error = String(e.reason); });
const N = 120, COLORS = ["#4fb3ff", "#ffb454", "#7fd962", "#f26d78", "#c792ea", "#5ccfe6", "#f29e74", "#bae67e"];
const hist = { t: [], rps: [], p50: [], p99: [], rst: [], workers: {} };
let prev = null, refreshes = 0;
const $ = (id) => document.getElementById(id);
const fmtN = (n) => n >= 1e6 ? (n / 1e6).toFixed(2) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k"
  : n < 10 && n % 1 ? n.toFixed(1) : String(Math.round(n));
const fmtUs = (us) => us < 1000 ? us + "µs" : us < 1e6 ? (us / 1e3).toFixed(1) + "ms" : (us / 1e6).toFixed(2) + "s";
function fmtDur(s) {
  s = Math.floor(s);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d" + String(Math.floor(s % 86400 / 3600)).padStart(2, "0") + "h";
}
function quantile(buckets, q) {
  let n = 0; for (const c of buckets) n += c;
  if (!n) return 0;
  const rank = Math.floor(q * (n - 1)) + 1; let seen = 0;
  for (let i = 0; i < buckets.length; i++) { seen += buckets[i]; if (seen >= rank) return 2 ** i; }
  return 2 ** (buckets.length - 1);
}
function push(arr, v) { arr.push(v); if (arr.length > N) arr.shift(); }
function draw(canvas, series) {
  const dpr = window.devicePixelRatio || 1, w = canvas.clientWidth || 300, h = canvas.clientHeight || 150;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const g = canvas.getContext("2d"); g.scale(dpr, dpr); g.clearRect(0, 0, w, h);
  let max = 1; for (const s of series) for (const v of s.values) if (v > max) max = v;
  g.strokeStyle = "#263241"; g.fillStyle = "#7d8a99"; g.font = "11px system-ui"; g.lineWidth = 1;
  for (let i = 0; i <= 3; i++) {
    const y = 4 + (h - 18) * i / 3; g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    g.fillText(fmtN(max * (3 - i) / 3), 2, y + 11);
  }
  for (const s of series) {
    g.strokeStyle = s.color; g.lineWidth = s.width || 1.5; g.beginPath();
    s.values.forEach((v, i) => { const x = w - (s.values.length - 1 - i) * w / (N - 1), y = 4 + (h - 18) * (1 - v / max);
      i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  }
}
function cell(text, pill) {
  const td = document.createElement("td");
  if (pill) { const s = document.createElement("span"); s.className = "pill " + pill; s.textContent = text; td.append(s); }
  else td.textContent = text;
  return td;
}
function render(s, now) {
  const t = s.totals, m = s.master, dt = prev ? (now - prev.now) / 1000 : 0;
  $("ver").textContent = "v" + m.version; $("mpid").textContent = "master " + m.pid;
  $("up").textContent = "up " + fmtDur(m.uptime_s) + (m.stopping ? " — stopping" : "");
  const rps = prev && dt > 0 ? Math.max(0, t.requests - prev.s.totals.requests) / dt : 0;
  let p50 = 0, p99 = 0;
  if (prev) {
    const d = t.latency_buckets.map((c, i) => Math.max(0, c - prev.s.totals.latency_buckets[i]));
    p50 = Math.min(quantile(d, 0.5), t.latency_us.max); p99 = Math.min(quantile(d, 0.99), t.latency_us.max);
  }
  push(hist.t, now); push(hist.rps, rps); push(hist.p50, p50); push(hist.p99, p99); push(hist.rst, m.respawns);
  $("t-rps").textContent = fmtN(rps); $("t-req").textContent = fmtN(t.requests);
  $("t-open").textContent = fmtN(t.connections_open);
  $("t-lat").textContent = prev ? fmtUs(p50) + " / " + fmtUs(p99) : "–";
  $("t-err").textContent = fmtN(t.responses["4xx"]) + " / " + fmtN(t.responses["5xx"]);
  $("t-wk").textContent = s.workers.length + "/" + m.slots + " / " + m.respawns;
  const rows = $("rows"), seen = {}, total = Math.max(1, rps);
  rows.replaceChildren();
  for (const w of s.workers) {
    const before = prev && prev.pids[w.pid], wr = before && dt > 0 ? Math.max(0, w.requests - before.requests) / dt : 0;
    const key = "slot" + w.slot; seen[key] = true;
    if (!hist.workers[key]) hist.workers[key] = new Array(hist.rps.length - 1).fill(0);
    push(hist.workers[key], wr);
    const tr = document.createElement("tr"); tr.className = "worker"; tr.dataset.slot = w.slot; tr.dataset.pid = w.pid;
    const rate = cell(""); const bar = document.createElement("span"); bar.className = "bar";
    bar.style.width = Math.round(40 * wr / total) + "px"; bar.style.background = COLORS[w.slot % COLORS.length];
    rate.append(bar, document.createTextNode(fmtN(wr)));
    tr.append(cell(w.slot), cell(w.pid), cell(w.generation), cell(w.state, w.state), cell(fmtDur(w.uptime_s)),
      rate, cell(fmtN(w.requests)), cell(w.connections_open), cell(fmtUs(w.latency_us.p50)), cell(fmtUs(w.latency_us.p99)),
      cell(w.restarts), cell(w.last_exit || "–"));
    rows.append(tr);
  }
  for (const k of Object.keys(hist.workers)) if (!seen[k]) push(hist.workers[k], 0);
  const jobs = $("jobs");
  jobs.replaceChildren();
  for (const j of (s.tasks && s.tasks.jobs) || []) {
    const tr = document.createElement("tr"); tr.className = "job"; tr.dataset.id = j.id;
    tr.append(cell(j.id), cell(j.task), cell(j.state, j.state === "running" ? "ready" : "starting"),
      cell(fmtDur(j.elapsed_s)), cell(j.runner_pid || "–"));
    jobs.append(tr);
  }
  const apps = s.apps || [], appRows = $("app-rows");
  $("apps").hidden = apps.length === 0; appRows.replaceChildren();
  for (const a of apps) {
    const tr = document.createElement("tr"); tr.className = "app"; tr.dataset.pid = a.pid;
    tr.append(cell(a.app), cell(a.index), cell(a.pid || "–"), cell(a.state, a.state === "stopping" ? "draining" : a.state),
      cell(a.port), cell(a.generation), cell(fmtDur(a.uptime_s)), cell(fmtN(a.requests)), cell(a.restarts),
      cell(a.last_exit || "–"));
    appRows.append(tr);
  }
  draw($("c-rps"), [{ values: hist.rps, color: "#d8dee6", width: 2 }].concat(Object.keys(hist.workers).map(
    (k) => ({ values: hist.workers[k], color: COLORS[Number(k.slice(4)) % COLORS.length] }))));
  draw($("c-lat"), [{ values: hist.p50, color: "#4fb3ff" }, { values: hist.p99, color: "#ffb454", width: 2 }]);
  draw($("c-rst"), [{ values: hist.rst, color: "#f26d78", width: 2 }]);
  const pids = {}; for (const w of s.workers) pids[w.pid] = w;
  prev = { s: s, now: now, pids: pids };
}
async function refresh() {
  let s;
  try {
    const r = await fetch("/stats", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    s = await r.json();
  } catch (e) {
    $("conn").textContent = "disconnected: " + e.message; $("conn").className = "down";
    return;
  }
  render(s, performance.now()); // a throw here is a bug: it reaches unhandledrejection
  $("conn").textContent = "live"; $("conn").className = "";
  document.body.dataset.refreshes = String(++refreshes); document.body.dataset.ok = "1";
}
refresh(); setInterval(refresh, 1000);
</script>
</body></html>
)RFPAGE";

} // namespace ringfork::master
