// The reports page: fetches /api/reports/* and /api/staffing/forecast, draws with uPlot.
"use strict";

const $ = (id) => document.getElementById(id);
const charts = {};

function isoDay(d) {
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

function query(extra) {
  const p = new URLSearchParams({ from: $("from").value, to: $("to").value,
                                  interval: $("interval").value, ...extra });
  if ($("queue").value) p.set("queue", $("queue").value);
  return p.toString();
}

async function getJson(url) {
  const resp = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.message || resp.statusText);
  return body;
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 3 : 1);
  if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k} ${fmt(x)}`).join(", ");
  return String(v);
}

function fillTable(id, rows, cols) {
  const table = $(id);
  const head = table.querySelector("thead");
  const body = table.querySelector("tbody");
  head.innerHTML = "";
  body.innerHTML = "";
  const tr = document.createElement("tr");
  for (const c of cols) {
    const th = document.createElement("th");
    th.textContent = c.replace(/_/g, " ");
    tr.appendChild(th);
  }
  head.appendChild(tr);
  for (const r of rows) {
    const row = document.createElement("tr");
    for (const c of cols) {
      const td = document.createElement("td");
      td.textContent = fmt(r[c]);
      if (c === "service_level" && r[c] !== null && r[c] < r.target_sl) td.className = "below";
      row.appendChild(td);
    }
    body.appendChild(row);
  }
}

function plot(id, series, xs, ys, opts = {}) {
  const el = $(id);
  if (charts[id]) charts[id].destroy();
  el.innerHTML = "";
  const colors = ["#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd"];
  const conf = {
    width: Math.max(300, el.clientWidth || 580), height: 240,
    scales: { x: { time: true }, y: opts.y || {} },
    series: [{}].concat(series.map((label, i) => ({
      label, stroke: colors[i % colors.length], width: 2,
      dash: label.startsWith("target") ? [6, 4] : undefined,
    }))),
    axes: [{}, { size: 50 }],
  };
  charts[id] = new uPlot(conf, [xs, ...ys], el);
}

const secs = (iso) => Date.parse(iso) / 1000;

async function show() {
  const status = $("status");
  status.className = "";
  status.textContent = "Loading…";
  try {
    const [queues, intervals, agents, abandoned] = await Promise.all([
      getJson(`/api/reports/queues?${query({})}`),
      getJson(`/api/reports/intervals?${query({})}`),
      getJson(`/api/reports/agents?${query({})}`),
      getJson(`/api/reports/abandoned?${query({})}`),
    ]);
    fillTable("queues", queues.rows, ["queue", "offered", "answered", "abandoned",
      "short_abandons", "service_level", "target_sl", "asa_s", "asa_p90_s", "aht_s",
      "avg_abandon_s", "longest_wait_s", "transfers", "callbacks"]);
    fillTable("agents", agents.rows, ["agent_id", "answered", "talk_s", "logged_in_s",
      "break_s", "occupancy", "utilisation", "breaks_s"]);
    fillTable("abandoned", abandoned.rows.slice(0, 200), ["enqueued_at", "queue", "caller",
      "wait_s", "short"]);
    const rows = intervals.rows.filter((r) => !$("queue").value || r.queue === $("queue").value);
    const xs = rows.map((r) => secs(r.interval));
    plot("plot-volume", ["offered", "answered", "abandoned"], xs,
      [rows.map((r) => r.offered), rows.map((r) => r.answered), rows.map((r) => r.abandoned)]);
    plot("plot-sl", ["service level", "target"], xs,
      [rows.map((r) => r.service_level), rows.map((r) => r.target_sl)],
      { y: { range: [0, 1] } });
    plot("plot-asa", ["ASA (s)", "ASA p90 (s)"], xs,
      [rows.map((r) => r.asa_s), rows.map((r) => r.asa_p90_s)]);
    plot("plot-agents", ["agents needed", "agents logged in", "to schedule"], xs,
      [rows.map((r) => r.agents_needed), rows.map((r) => r.agents_logged_in),
       rows.map((r) => r.scheduled)]);
    const next = new Date(Date.parse($("to").value) + 86400000).toISOString().slice(0, 10);
    $("fc-day").textContent = next;
    const fq = new URLSearchParams({ date: next });
    if ($("queue").value) fq.set("queue", $("queue").value);
    const fc = await getJson(`/api/staffing/forecast?${fq}`);
    const frows = fc.rows.filter((r) => !$("queue").value || r.queue === $("queue").value);
    plot("plot-forecast", ["forecast calls", "agents needed", "to schedule"],
      frows.map((r) => secs(r.interval)),
      [frows.map((r) => r.offered), frows.map((r) => r.agents_needed),
       frows.map((r) => r.scheduled)]);
    for (const kind of ["queues", "intervals", "agents", "abandoned"]) {
      $(`csv-${kind}`).href = `/api/reports/${kind}?${query({ format: "csv" })}`;
    }
    $("csv-forecast").href = `/api/staffing/forecast?${fq}&format=csv`;
    status.textContent = `${queues.from} – ${queues.to} (${queues.timezone}), ` +
      `${rows.length} intervals`;
    status.dataset.ready = "1";
  } catch (err) {
    status.className = "error";
    status.textContent = `Could not load the reports: ${err.message}`;
  }
}

async function init() {
  const today = new Date();
  $("to").value = isoDay(new Date(today.getTime() - 86400000));
  $("from").value = isoDay(new Date(today.getTime() - 7 * 86400000));
  const params = new URLSearchParams(location.search);
  for (const k of ["from", "to", "interval"]) if (params.get(k)) $(k).value = params.get(k);
  const queues = await getJson(`/api/reports/queues?${query({})}`).catch(() => ({ rows: [] }));
  const sel = $("queue");
  for (const r of queues.rows) {
    const o = document.createElement("option");
    o.value = o.textContent = r.queue;
    sel.appendChild(o);
  }
  if (params.get("queue")) sel.value = params.get("queue");
  $("controls").addEventListener("submit", (ev) => { ev.preventDefault(); show(); });
  sel.addEventListener("change", show);
  await show();
}

init();
