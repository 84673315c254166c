// The trainee console's page: plain JS, no library. It polls the console's JSON API
// (/api/state, /api/charts), draws the charts as inline SVG, and sends the forms' requests;
// every refusal is shown in words (the collector's sentence naming the field and what is allowed).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const CHART_W = 120, CHART_H = 40;
let config = null;
let catalog = null;
let lastState = null;
const rendered = {}; // list id -> the JSON last drawn, so a list (and the focus in it) is only redrawn when it changed

// ------------------------------------------------------------------------ helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function clock(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return new Date(seconds * 1000).toISOString().slice(11, 19) + "Z";
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(seconds < 600 ? 1 : 0)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function formatValue(value, unit) {
  if (value === null || value === undefined) return "no data";
  switch (unit) {
    case "rps": return `${value.toFixed(1)} req/s`;
    case "seconds": return `${(value * 1000).toFixed(0)} ms`;
    case "bytes": return `${(value / 1e6).toFixed(0)} MB`;
    case "ratio": return `${(value * 100).toPrecision(value >= 0.1 ? 3 : 2)} %`;
    default: return value.toPrecision(3);
  }
}

function say(text, kind) {
  const box = document.getElementById("messages");
  const line = el("p", { class: `message ${kind || ""}`, text });
  box.prepend(line);
  while (box.children.length > 4) box.lastChild.remove();
  setTimeout(() => line.remove(), kind === "error" ? 30000 : 8000);
}

async function api(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      // every write is JSON, an empty one too: the console refuses anything else (no cross-site form can post it)
      headers: method === "GET" ? {} : { "Content-Type": "application/json" },
      body: method === "GET" ? undefined : JSON.stringify(body === undefined ? {} : body),
    });
  } catch (e) {
    return { ok: false, status: 0, body: { error: `the console does not answer (${e.message})` } };
  }
  let data = null;
  try { data = await response.json(); } catch (e) { data = { error: `HTTP ${response.status} with no JSON body` }; }
  return { ok: response.ok, status: response.status, body: data };
}

function errorText(reply) {
  const b = reply.body || {};
  let text = b.error || (Array.isArray(b.detail) ? b.detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ") : JSON.stringify(b));
  return reply.status ? `HTTP ${reply.status}: ${text}` : text;
}

function redraw(id, data, draw) {
  const key = JSON.stringify(data);
  if (rendered[id] === key) return;
  rendered[id] = key;
  const node = document.getElementById(id);
  const hadFocus = node.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
  node.replaceChildren(...draw(data));
  if (hadFocus) {
    const again = node.querySelector(`[data-focus-key="${CSS.escape(hadFocus)}"]`);
    if (again) again.focus();
  }
}

// ------------------------------------------------------------------------ the forms

function numberField(name, label, limits, value, step) {
  const id = `${name}-${Math.random().toString(36).slice(2, 8)}`;
  return el("label", { for: id },
    `${label} (${limits.min}–${limits.max})`,
    el("input", { id, name, type: "number", inputmode: "decimal", min: limits.min, max: limits.max, step, value }));
}

function drawForms() {
  const limits = catalog.limits;
  document.getElementById("limits").textContent =
    `At most ${limits.max_concurrent_incidents} incidents at once. Durations and delays in seconds.`;
  const forms = catalog.kinds.map((kind) => {
    const intensity = kind.parameters.intensity;
    const serviceId = `service-${kind.kind}`;
    const form = el("form", { class: "kind", id: `trigger-${kind.kind}`, novalidate: true, "aria-labelledby": `title-${kind.kind}` },
      el("h3", { id: `title-${kind.kind}`, text: kind.kind }),
      el("p", { text: kind.description }),
      el("div", { class: "fields" },
        el("label", { for: serviceId }, "Service",
          el("select", { id: serviceId, name: "service" }, ...catalog.services.map((s) => el("option", { value: s, text: s })))),
        numberField("intensity", "Intensity", intensity, intensity.default, "0.1"),
        numberField("duration_seconds", "Duration, s", limits.duration_seconds, limits.duration_seconds.default, "10"),
        numberField("delay_seconds", "Delay, s", limits.delay_seconds, limits.delay_seconds.default, "10"),
        el("button", { type: "submit", class: "trigger" }, `▶ Trigger ${kind.kind}`)));
    form.addEventListener("submit", (event) => { event.preventDefault(); trigger(kind.kind, form); });
    return form;
  });
  document.getElementById("forms").replaceChildren(...forms);
}

function numberOrText(text) {
  const t = text.trim();
  if (t === "") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t; // the collector names the field when it is not a number
}

async function trigger(kind, form) {
  const data = new FormData(form);
  const body = { kind, service: data.get("service") };
  for (const name of ["intensity", "duration_seconds", "delay_seconds"]) {
    const v = numberOrText(form.elements[name].value);
    if (v !== undefined) body[name] = v;
  }
  const reply = await api("POST", "/api/incidents", body);
  if (reply.ok) {
    const i = reply.body;
    say(`Incident ${i.id} triggered: ${i.kind} on ${i.service}, intensity ${i.intensity}, for ${duration(i.duration_seconds)}, starting ${clock(i.start_seconds)}.`, "done");
  } else {
    say(`Could not trigger ${kind} on ${body.service}: ${errorText(reply)}`, "error");
  }
  refresh();
}

async function stopOne(id) {
  const reply = await api("DELETE", `/api/incidents/${encodeURIComponent(id)}`);
  if (reply.ok) say(`Incident ${id} stopped.`, "done");
  else say(`Could not stop incident ${id}: ${errorText(reply)}`, "error");
  refresh();
}

async function panic() {
  const reply = await api("DELETE", "/api/incidents");
  if (reply.ok) say(`Stopped ${reply.body.stopped.length} incident(s); the chaos schedule is paused.`, "done");
  else say(`Could not stop the incidents: ${errorText(reply)}`, "error");
  refresh();
}

// ------------------------------------------------------------------------ the state

function setPill(id, state, text) {
  const pill = document.getElementById(id);
  pill.dataset.state = state;
  pill.textContent = text;
}

function drawStatus(state) {
  const c = state.collector, d = state.detector;
  const problems = [];
  if (c.status === "ok") setPill("collector-status", "ok", `✔ Collector: up, ${c.health.active_incidents} active`);
  else {
    setPill("collector-status", "bad", "✖ Collector: down");
    problems.push(`Collector down: ${c.error}`);
  }
  const h = d.health || {};
  if (d.status === "down") {
    setPill("detector-status", "bad", "✖ Detector: down");
    problems.push(`Detector down: ${d.error}. Flags, detected incidents and the scoreboard come back when it answers.`);
  } else if (d.status === "warming_up") {
    setPill("detector-status", "warn", `⏳ Detector: warming up (${Math.round(100 * (h.warmup_ratio || 0))} %)`);
    problems.push(`Detector warming up: ${duration(h.history_seconds)} of the ${duration(h.history_needed_seconds)} of history it needs; it flags nothing until then.`);
  } else if (d.status === "settling") {
    setPill("detector-status", "warn", "⏳ Detector: settling");
    problems.push("Detector settling: its rate windows are filling with live samples; it scores in a moment.");
  } else if (d.status === "degraded") {
    setPill("detector-status", "bad", "⚠ Detector: degraded");
    problems.push(`Detector degraded: ${h.last_error || "no successful cycle lately"}.`);
  } else if (d.status === "ok") setPill("detector-status", "ok", "✔ Detector: scoring");
  else setPill("detector-status", "warn", `Detector: ${d.status}`);

  const chaos = c.chaos;
  if (!chaos) setPill("chaos-status", "unknown", "Chaos: unknown");
  else if (!chaos.enabled) setPill("chaos-status", "ok", "Chaos: off");
  else if (chaos.paused) setPill("chaos-status", "warn", "⏸ Chaos: paused");
  else setPill("chaos-status", "warn", `⚡ Chaos: every ${duration(chaos.every_seconds)}, next ${clock(chaos.next_run_seconds)}`);
  redraw("problems", problems, (list) => list.map((text) => el("p", { class: "problem", text })));
}

function drawIncidents(incidents) {
  const order = { active: 0, pending: 1, stopped: 2, ended: 2 };
  const rows = [...incidents].sort((a, b) => (order[a.state] - order[b.state]) || (b.start_seconds - a.start_seconds));
  if (!rows.length) return [el("li", { class: "empty", text: "None yet: trigger one." })];
  return rows.slice(0, 20).map((i) => {
    const icon = { active: "●", pending: "◷", stopped: "■", ended: "✓" }[i.state] || "";
    const li = el("li", { "data-incident-id": i.id, "data-state": i.state },
      el("span", { class: `state state-${i.state}`, text: `${icon} ${i.state}` }), " ",
      `#${i.id} ${i.kind} on ${i.service} ×${i.intensity}, `,
      el("span", { class: "when", text: `${clock(i.start_seconds)}–${clock(i.stopped_seconds || i.end_seconds)}` }));
    if (i.state === "active" || i.state === "pending") {
      li.append(el("button", { type: "button", class: "stop", "data-focus-key": `stop-${i.id}`, "aria-label": `Stop incident ${i.id} (${i.kind} on ${i.service})`, onclick: () => stopOne(i.id) }, "■ Stop"));
    }
    return li;
  });
}

function drawFlags(anomalies) {
  if (!anomalies.length) return [el("li", { class: "empty", text: "No flags yet." })];
  // one line per flagged series: its newest flag (the list comes newest first)
  const seen = new Set();
  const newest = anomalies.filter((a) => !seen.has(`${a.service}/${a.signal}`) && seen.add(`${a.service}/${a.signal}`));
  return newest.map((a) => el("li", { class: "flag", "data-service": a.service, "data-signal": a.signal, "data-time": a.timestamp_seconds },
    el("span", { class: "when", text: `▲ ${clock(a.timestamp_seconds)} ` }),
    el("span", { class: "flag-text", text: a.explanation || `${a.service} ${a.signal}` })));
}

function drawDetected(detected) {
  if (!detected.length) return [el("li", { class: "empty", text: "None yet." })];
  const isOpen = (d) => (d.closed_seconds === null || d.closed_seconds === undefined ? 1 : 0);
  const rows = [...detected].sort((a, b) => (isOpen(b) - isOpen(a)) || (b.opened_seconds - a.opened_seconds));
  return rows.slice(0, 15).map((d) => {
    const cause = d.probable_cause || {};
    const open = d.closed_seconds === null || d.closed_seconds === undefined;
    return el("li", { class: "detected", "data-detected-id": d.id, "data-cause-service": cause.service, "data-cause-signal": cause.signal },
      el("span", { class: `state ${open ? "state-active" : "state-ended"}`, text: open ? "● open" : "✓ closed" }), " ",
      `D${d.id} on ${(d.services || []).join(", ")}: probable cause `,
      el("strong", { class: "cause", text: `${cause.service} ${cause.signal}` }), " ",
      el("span", { class: "when", text: open ? `since ${clock(d.opened_seconds)}` : `${clock(d.opened_seconds)}–${clock(d.closed_seconds)}` }));
  });
}

function drawScoreboard(board) {
  if (!board) return [el("p", { class: "empty", text: "The detector is down: no scoreboard." })];
  if (board.status !== "ok") return [el("p", { class: "empty", text: `Not scoring yet: ${board.reason || board.status}.` })];
  // one row per model (several when a champion scores beside the baseline)
  const rows = board.rows.map((r) => el("li", { class: "model", "data-model": r.model },
    el("strong", { text: `${r.model}: ` }),
    `${r.detected ?? "—"} of ${r.incidents ?? "—"} detected` + (r.waiting ? ` (${r.waiting} waiting)` : "") +
    ` · ${r.missed ?? "—"} missed · ${r.false_alarms ?? "—"} false alarm${r.false_alarms === 1 ? "" : "s"}` +
    ` · median time to detect ${r.median_time_to_detect_seconds === null || r.median_time_to_detect_seconds === undefined ? "—" : duration(r.median_time_to_detect_seconds)}`));
  const outcomes = (board.by_incident || []).slice(-6).reverse().map((i) => el("li", { "data-incident-id": i.id },
    `#${i.id} ${i.kind} on ${i.service}: `,
    el("strong", { text: i.outcome === "detected" ? `✔ detected after ${duration(i.time_to_detect_seconds)}` : i.outcome === "missed" ? "✖ missed" : "◷ waiting" })));
  return [el("ul", { class: "rows models" }, ...rows), el("ul", { class: "rows" }, ...outcomes)];
}

function serviceHealth(service, state) {
  const active = (state.collector.incidents || []).filter((i) => i.service === service && i.state === "active");
  const openDetected = (state.detector.detected || []).some((d) => (d.closed_seconds === null || d.closed_seconds === undefined) && (d.services || []).includes(service));
  const recentFlag = (state.detector.anomalies || []).some((a) => a.service === service && state.time_seconds - a.timestamp_seconds < 120);
  const detected = openDetected || recentFlag;
  if (active.length && detected) return ["incident", `● ${active.map((i) => i.kind).join(", ")}; ⚠ flagged`];
  if (active.length) return ["incident", `● ${active.map((i) => i.kind).join(", ")}`];
  if (detected) return ["flagged", "⚠ flagged"];
  return ["ok", "✔ normal"];
}

let refreshing = false; // a slow answer is not asked for again before it comes

async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try { await drawState(); } finally { refreshing = false; }
}

async function drawState() {
  const reply = await api("GET", "/api/state");
  if (!reply.ok) {
    redraw("problems", [errorText(reply)], (list) => list.map((text) => el("p", { class: "problem", text: `The console does not answer: ${text}` })));
    return;
  }
  const state = reply.body;
  lastState = state;
  drawStatus(state);
  redraw("incidents", state.collector.incidents || [], drawIncidents);
  redraw("flags", state.detector.anomalies || [], drawFlags);
  redraw("detected", state.detector.detected || [], drawDetected);
  redraw("scoreboard", state.detector.scoreboard, drawScoreboard);
  drawHealth(state);
  document.getElementById("updated").textContent = `Updated ${clock(state.time_seconds)} (every ${config.refresh_every_seconds} s).`;
}

// ------------------------------------------------------------------------ the fleet and its charts

function drawFleetSkeleton() {
  const head = document.querySelector("#fleet-table thead tr");
  for (const s of config.signals) head.append(el("th", { scope: "col", text: s.label }));
  const body = document.querySelector("#fleet-table tbody");
  for (const service of catalog.services) {
    const row = el("tr", { "data-service": service },
      el("th", { scope: "row", class: "service" }, service, el("span", { class: "health", id: `health-${service}`, text: "" })));
    for (const s of config.signals) {
      row.append(el("td", { class: "cell", id: `cell-${service}-${s.name}` },
        el("span", { class: "value", text: "…" })));
    }
    body.append(row);
  }
  document.getElementById("chart-window").textContent = duration(config.chart_window_seconds);
}

function drawHealth(state) {
  if (!catalog) return;
  for (const service of catalog.services) {
    const [kind, text] = serviceHealth(service, state);
    const node = document.getElementById(`health-${service}`);
    if (node) { node.className = `health health-${kind}`; node.textContent = text; }
  }
}

function points(pairs, x, y) {
  return pairs.filter((p) => p[1] !== null).map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
}

function chart(data, start, end) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", `0 0 ${CHART_W} ${CHART_H}`);
  svg.setAttribute("aria-hidden", "true");
  const all = [];
  for (const k of ["actual", "lower", "upper", "expected"]) for (const p of data[k] || []) if (p[1] !== null) all.push(p[1]);
  if (!all.length) return svg;
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi - lo < 1e-12) { hi += Math.abs(hi) * 0.05 + 1e-9; lo -= Math.abs(lo) * 0.05 + 1e-9; }
  const x = (t) => ((t - start) / (end - start)) * CHART_W;
  const y = (v) => CHART_H - 3 - ((v - lo) / (hi - lo)) * (CHART_H - 6);
  const add = (tag, attrs) => {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    svg.append(n);
  };
  const lower = data.lower || [], upper = data.upper || [];
  if (lower.length && upper.length) {
    const up = upper.filter((p) => p[1] !== null), low = lower.filter((p) => p[1] !== null).reverse();
    add("polygon", { class: "band", points: points(up, x, y) + " " + points(low, x, y) });
  }
  if (data.expected) add("polyline", { class: "expected", points: points(data.expected, x, y) });
  if (data.actual) add("polyline", { class: "actual", points: points(data.actual, x, y) });
  const actualAt = new Map((data.actual || []).map((p) => [p[0], p[1]]));
  for (const [t, v] of data.flag || []) {
    if (v !== 1) continue;
    const yy = actualAt.has(t) && actualAt.get(t) !== null ? y(actualAt.get(t)) : 6;
    const xx = x(t);
    add("polygon", { class: "flag", points: `${xx - 3},${yy + 3} ${xx + 3},${yy + 3} ${xx},${yy - 3}` });
  }
  return svg;
}

let charting = false;

async function refreshCharts() {
  if (charting) return;
  charting = true;
  try { await drawCharts(); } finally { charting = false; }
}

async function drawCharts() {
  const reply = await api("GET", "/api/charts");
  const problem = document.getElementById("charts-error");
  const warming = reply.ok && reply.body.status === "warming";
  problem.classList.toggle("warming", warming);
  if (warming) {  // the console started moments ago and is still reading the charts: ask again shortly
    problem.hidden = false;
    problem.textContent = `Charts warming up: ${reply.body.error}`;
    setTimeout(refreshCharts, 1000);
    return;
  }
  if (!reply.ok || reply.body.status !== "ok") {
    problem.hidden = false;
    problem.textContent = `No charts: ${reply.ok ? reply.body.error : errorText(reply)}`;
    return;
  }
  problem.hidden = true;
  const { series, start_seconds: start, end_seconds: end } = reply.body;
  for (const service of catalog.services) {
    for (const s of config.signals) {
      const cell = document.getElementById(`cell-${service}-${s.name}`);
      if (!cell) continue;
      const data = (series[service] || {})[s.name] || {};
      const actual = (data.actual || []).filter((p) => p[1] !== null);
      const last = actual.length ? actual[actual.length - 1][1] : null;
      const flags = (data.flag || []).filter((p) => p[1] === 1);
      const flaggedNow = flags.length && flags[flags.length - 1][0] >= end - 60;
      cell.classList.toggle("flagged", Boolean(flaggedNow));
      const text = formatValue(last, s.unit) + (flaggedNow ? " ▲ flagged" : "");
      cell.replaceChildren(el("span", { class: "value", text }), chart(data, start, end));
      cell.setAttribute("aria-label", `${service} ${s.label}: ${text}`);
    }
  }
}

// ------------------------------------------------------------------------ start

function drawGrafana() {
  const nav = document.getElementById("grafana");
  if (!config.grafana) return;
  const names = { fleet: "Fleet overview", explorer: "Anomaly explorer", scoreboard: "Workshop scoreboard", health: "Detector health", mlops: "AIOps vs MLOps" };
  nav.replaceChildren("Grafana: ", ...Object.entries(config.grafana).map(([k, url]) => el("a", { href: url, target: "_blank", rel: "noopener", text: names[k] || k })));
  nav.hidden = false;
}

async function start() {
  document.getElementById("panic").addEventListener("click", panic);
  const c = await api("GET", "/api/config");
  config = c.body;
  drawGrafana();
  while (!catalog) {
    const reply = await api("GET", "/api/catalog");
    if (reply.ok) catalog = reply.body;
    else {
      document.getElementById("forms").replaceChildren(el("p", { class: "problem", text: `No incident catalog: ${errorText(reply)}. Retrying…` }));
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
  drawForms();
  drawFleetSkeleton();
  await refresh();
  refreshCharts();
  setInterval(refresh, config.refresh_every_seconds * 1000);
  setInterval(refreshCharts, Math.max(5, 2 * config.refresh_every_seconds) * 1000);
}

document.addEventListener("DOMContentLoaded", start);
