// The agent desktop: state with a reason, screen pop, hang-up, wrap-up, my day.
"use strict";

const $ = (id) => document.getElementById(id);
const CALL_STATES = ["reserved", "ringing", "on_call", "wrap_up"];
let me = null;        // /api/me
let config = null;    // /api/desk
let agent = null;     // my agent in the last snapshot
let pop = null;       // the screen pop shown
let popFor = null;    // the call id it is (being) loaded for

function show(id, on) { $(id).hidden = !on; }

// Moves in the middle of a call (hold, transfer, ...). Each kind of move is a script
// of its own (agent-*.js) that adds a panel: render(status) shows its buttons for the
// call's state as GET .../call/moves says it (status.moves: the moves it takes now).
const acdDesk = window.acdDesk = {
  panels: [],
  status: null,
  addPanel(panel) {
    const node = acd.el("div", { class: "row", id: "panel-" + panel.id });
    $("moves-panels").append(node);
    this.panels.push({ ...panel, node });
    if (this.status) panel.render(this.status, node);
  },
  can(move) { return !!this.status && this.status.moves.split(",").includes(move); },
  // A move on my call; the answer (or its refusal) is shown, then the state is read again.
  async move(name, args) {
    $("moves-msg").textContent = "";
    try { return await acd.api("POST", `/api/desk/agents/${me.agent_id}/call/${name}`, args || {}); }
    catch (e) { $("moves-msg").textContent = e.message; return null; }
    finally { await this.refresh(); }
  },
  async refresh() {
    let status = null;
    if (agent && agent.state === "on_call") {
      try { status = await acd.api("GET", `/api/desk/agents/${me.agent_id}/call/moves`); }
      catch (e) { if (e.status !== 404) $("moves-msg").textContent = e.message; }
    }
    this.status = status;
    show("moves", !!status);
    $("moves-status").textContent = status ? status.phase : "";
    $("moves-status").dataset.phase = status ? status.phase : "";
    for (const p of this.panels) p.render(status, p.node);
  },
};

async function act(fn, errorBox) {
  $(errorBox).textContent = "";
  try { return await fn(); } catch (e) { $(errorBox).textContent = e.message; }
}

function renderState() {
  if (!agent) return;
  const s = $("state");
  s.textContent = agent.state.replace("_", " ");
  s.className = "state " + agent.state;
  s.dataset.state = agent.state;
  $("reason").textContent = agent.reason ? "(" + agent.reason + ")" : "";
  $("go-available").disabled = agent.state === "available" || CALL_STATES.slice(0, 3).includes(agent.state);
  $("go-logout").disabled = agent.state === "logged_out" || CALL_STATES.slice(0, 3).includes(agent.state);
}

function tick() {
  if (agent) $("in-state").textContent = acd.duration((acd.nowMs() - agent.since_ms) / 1000);
  if (pop) {
    const answered = agent && agent.state === "on_call";
    $("pop-timer-box").hidden = !answered;
    if (answered) $("pop-timer").textContent = acd.duration((acd.nowMs() - agent.since_ms) / 1000);
  }
}

function renderPop() {
  show("pop", !!pop);
  if (!pop) { show("wrapup", false); return; }
  $("pop-caller").textContent = pop.caller || "unknown number";
  $("pop-queue").textContent = pop.queue;
  $("pop-wait").textContent = acd.duration((acd.nowMs() - pop.enqueued_ms) / 1000);
  const vars = $("pop-vars");
  vars.replaceChildren();
  for (const [k, v] of Object.entries(pop.variables || {})) {
    const masked = /^\*+\d{0,4}$/.test(v) && v.includes("*");
    vars.append(acd.el("dt", {}, k), acd.el("dd", { class: masked ? "masked" : null, "data-var": k }, v));
  }
  $("pop-path").textContent = (pop.path || []).join(" → ");
  const rows = (pop.history || []).map((h) => acd.el("tr", {},
    acd.el("td", {}, new Date(h.at).toLocaleString()), acd.el("td", {}, h.queue || ""),
    acd.el("td", {}, h.agent_id || ""), acd.el("td", {}, h.outcome),
    acd.el("td", {}, h.disposition || ""), acd.el("td", {}, h.notes || "")));
  $("pop-history").replaceChildren(...(rows.length ? rows :
    [acd.el("tr", {}, acd.el("td", { colspan: 6, class: "muted" }, "first call"))]));
  const onCall = agent && agent.state === "on_call";
  show("hangup", onCall);
  const wrapping = agent && agent.state === "wrap_up";
  if (wrapping && $("wrapup").hidden) {
    const sel = $("disposition");
    const codes = (config.queues[pop.queue] || {}).dispositions || [];
    sel.replaceChildren(acd.el("option", { value: "" }, "— choose —"),
                        ...codes.map((c) => acd.el("option", { value: c }, c.replace("_", " "))));
    $("notes").value = "";
    $("wrapup-msg").textContent = "";
  }
  show("wrapup", wrapping);
}

async function loadPop(callId) {
  popFor = callId;
  try {
    const data = await acd.api("GET", `/api/desk/agents/${me.agent_id}/call`);
    if (popFor === data.call_id) pop = data;
  } catch (e) { if (e.status !== 404) $("state-error").textContent = e.message; }
  renderPop();
}

async function loadToday() {
  try {
    const t = await acd.api("GET", `/api/desk/agents/${me.agent_id}/today`);
    $("today-calls").textContent = t.calls;
    $("today-aht").textContent = t.aht_s === null ? "—" : acd.duration(t.aht_s);
    $("today-states").replaceChildren(...Object.entries(t.time_in_state_s).map(([s, secs]) =>
      acd.el("tr", {}, acd.el("td", {}, s.replace("_", " ")), acd.el("td", {}, acd.duration(secs)))));
  } catch (e) { /* figures are a nicety; the desk works without them */ }
}

function onSnapshot(snap) {
  const mine = snap.agents.find((a) => a.id === me.agent_id);
  if (!mine) return;
  const before = agent;
  agent = mine;
  renderState();
  const callId = CALL_STATES.includes(agent.state) ? agent.current_call : null;
  if (callId && callId !== popFor) loadPop(callId);
  else if (!callId && pop) { pop = null; popFor = null; renderPop(); }
  else renderPop();
  if (!before || before.state !== agent.state) { loadToday(); acdDesk.refresh(); }
}

async function main() {
  me = await acd.login(["agent"]);
  $("who").textContent = "— " + me.name + " (agent " + me.agent_id + ")";
  config = await acd.api("GET", "/api/desk");
  const reasons = $("break-reason");
  for (const r of config.break_reasons) reasons.append(acd.el("option", { value: r }, r));
  reasons.addEventListener("change", () => { $("go-break").disabled = !reasons.value; });
  const path = (a) => `/api/agents/${me.agent_id}/${a}`;
  $("go-available").addEventListener("click", () => act(async () => {
    if (agent && agent.state === "logged_out") await acd.api("POST", path("login"));
    await acd.api("POST", path("available"));
  }, "state-error"));
  $("go-break").addEventListener("click", () => act(async () => {
    if (!reasons.value) throw new Error("choose a reason for the break");
    if (agent && agent.state === "logged_out") await acd.api("POST", path("login"));
    await acd.api("POST", path("break"), { reason: reasons.value });
  }, "state-error"));
  $("go-logout").addEventListener("click", () => act(() => acd.api("POST", path("logout")), "state-error"));
  $("hangup").addEventListener("click", () => act(() =>
    acd.api("POST", `/api/desk/agents/${me.agent_id}/hangup`), "state-error"));
  $("wrapup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const callId = pop.call_id;  // the snapshot may clear the pop before the answer
    act(async () => {
      await acd.api("POST", `/api/desk/agents/${me.agent_id}/wrapup`,
                    { call_id: callId, code: $("disposition").value, notes: $("notes").value });
      $("wrapup-msg").textContent = "saved";
      $("wrapup-msg").dataset.saved = callId;
    }, "wrapup-msg");
  });
  $("more-time").addEventListener("click", () => act(async () => {
    const r = await acd.api("POST", `/api/desk/agents/${me.agent_id}/wrapup/extend`);
    $("wrapup-msg").textContent = "wrap-up extended";
    return r;
  }, "wrapup-msg"));
  $("signout").hidden = false;
  $("signout").addEventListener("click", () => acd.logout());
  show("desk", true);
  acd.live(onSnapshot, (up) => {
    $("live-status").textContent = up ? "live" : "reconnecting…";
    $("live-status").dataset.up = up ? "1" : "0";
  });
  setInterval(tick, 250);
}

main();
