// The supervisor wallboard: queues and agents live, breaks, log-outs, skills.
"use strict";

const $ = (id) => document.getElementById(id);
let config = null;
let snap = null;
// What the supervisor chose or typed in a row, kept across redraws.
const reasonChoice = {};
const skillsDraft = {};
const BUSY = ["reserved", "ringing", "on_call"];

function level(value, warn, alert, lowerIsWorse) {
  if (value === null || value === undefined) return "";
  if (lowerIsWorse) return value < alert ? "alert" : value < warn ? "warn" : "ok";
  return value >= alert ? "alert" : value >= warn ? "warn" : "ok";
}

function elapsed(ms) { return (acd.nowMs() - ms) / 1000; }

function canTake(agent, queue) {
  return Object.entries(queue.skills || {}).every(([s, lvl]) => (agent.skills[s] || 0) >= lvl);
}

function queueRow(q) {
  const t = (config.queues[q.name]) || {};
  const today = (snap.today.queues || {})[q.name] || {};
  const staffed = snap.agents.filter((a) => a.state !== "logged_out" && canTake(a, q));
  const count = (...states) => staffed.filter((a) => states.includes(a.state)).length;
  const oldest = q.oldest_waited_s || 0;
  const longest = q.waiting ? oldest + (Date.now() - acd.clock.atMs) * acd.clock.speed / 1000 : 0;
  const sl = today.service_level;
  const cell = (v, cls, attrs) => acd.el("td", { class: cls || null, ...(attrs || {}) }, v);
  return acd.el("tr", { id: "q-" + q.name },
    cell(q.name),
    cell(q.waiting, level(q.waiting, t.waiting_warn, t.waiting_alert), { "data-waiting": q.waiting }),
    cell(q.waiting ? acd.duration(longest) : "—", level(longest, t.longest_wait_warn, t.longest_wait_alert),
         { "data-longest": "1" }),
    cell(count("available")), cell(count("reserved", "ringing")), cell(count("on_call")),
    cell(count("wrap_up")), cell(count("break")),
    cell(today.offered || 0), cell(today.answered || 0), cell(today.abandoned || 0),
    cell(sl === null || sl === undefined ? "—" : sl + " %",
         level(sl, t.service_level_warn, t.service_level_alert, true)),
    cell(today.asa_s === undefined || today.asa_s === null ? "—" : acd.duration(today.asa_s)),
    cell(today.aht_s === undefined || today.aht_s === null ? "—" : acd.duration(today.aht_s)));
}

function skillsText(skills) {
  // A stable order, the strongest skill first: the server's order is a hash's.
  return Object.entries(skills).sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([s, l]) => s + ":" + l).join(", ");
}

function parseSkills(text) {
  const out = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [name, lvl] = part.split(":").map((p) => p.trim());
    const n = Number(lvl);
    if (!name || !Number.isInteger(n)) throw new Error("skills read like: sales:5, support:2");
    out[name] = n;
  }
  return out;
}

async function action(fn) {
  $("action-error").textContent = "";
  try { await fn(); } catch (e) { $("action-error").textContent = e.message; }
}

function agentRow(a) {
  const today = (snap.today.agents || {})[a.id] || {};
  const reason = acd.el("select", { "aria-label": "break reason for " + a.id, id: "reason-" + a.id,
                                    onchange: (ev) => { reasonChoice[a.id] = ev.target.value; } },
    ...config.break_reasons.map((r) => acd.el("option", { value: r }, r)));
  if (reasonChoice[a.id]) reason.value = reasonChoice[a.id];
  const skills = acd.el("input", { value: skillsDraft[a.id] ?? skillsText(a.skills), size: 16,
                                   id: "skills-" + a.id, "aria-label": "skills of " + a.id,
                                   oninput: (ev) => { skillsDraft[a.id] = ev.target.value; } });
  const busy = BUSY.includes(a.state);
  const onCall = a.state === "on_call";
  return acd.el("tr", { id: "agent-" + a.id, "data-state": a.state },
    acd.el("td", {}, a.id), acd.el("td", {}, a.name),
    acd.el("td", {}, acd.el("span", { class: "state " + a.state }, a.state.replace("_", " "))),
    acd.el("td", {}, a.reason || ""),
    acd.el("td", { "data-since": a.since_ms }, acd.duration(elapsed(a.since_ms))),
    acd.el("td", {}, a.call_queue || ""),
    acd.el("td", onCall ? { "data-since": a.since_ms } : {}, onCall ? acd.duration(elapsed(a.since_ms)) : ""),
    acd.el("td", {}, today.calls || 0),
    acd.el("td", {}, skills,
      acd.el("button", { type: "button", onclick: () => action(async () => {
        await acd.api("PUT", `/api/definitions/agents/${a.id}/skills`, { skills: parseSkills(skills.value) });
        delete skillsDraft[a.id];
      }) }, "Save")),
    acd.el("td", { class: "row" }, reason,
      acd.el("button", { type: "button", id: "break-" + a.id, disabled: busy || a.state === "logged_out",
                         onclick: () => action(() => acd.api("POST", `/api/agents/${a.id}/break`,
                                                             { reason: reason.value })) }, "Break"),
      acd.el("button", { type: "button", id: "logout-" + a.id, disabled: busy || a.state === "logged_out",
                         onclick: () => action(() => acd.api("POST", `/api/agents/${a.id}/logout`)) },
             "Log out")));
}

function render() {
  if (!snap) return;
  $("queues").replaceChildren(...snap.queues.map(queueRow));
  // Redraw every row; the control that had the keyboard focus gets it back.
  const focusedId = document.activeElement && document.activeElement.id;
  $("agents").replaceChildren(...snap.agents.map(agentRow));
  if (focusedId) {
    const again = document.getElementById(focusedId);
    if (again) again.focus();
  }
}

function tick() {
  for (const td of document.querySelectorAll("td[data-since]")) {
    td.textContent = acd.duration(elapsed(Number(td.dataset.since)));
  }
}

async function main() {
  const me = await acd.login(["supervisor", "admin"]);
  $("who").textContent = "— " + me.name;
  config = await acd.api("GET", "/api/desk");
  $("signout").hidden = false;
  $("signout").addEventListener("click", () => acd.logout());
  $("board").hidden = false;
  acd.live((s) => { snap = s; render(); }, (up) => {
    $("live-status").textContent = up ? "live" : "reconnecting…";
    $("live-status").dataset.up = up ? "1" : "0";
  });
  setInterval(tick, 500);
}

main();
