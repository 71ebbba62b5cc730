// The wallboard: Listen / Whisper / Barge / Stop on each agent on a call (issue 17).
// The supervisor's own phone (a PJSIP endpoint, kept in this browser) rings first;
// a mode switch keeps it ringing on the same call. The moves go to the agent's call
// (POST /api/desk/agents/{id}/call/{move}): the API checks the role, the call
// checks the endpoint, and every move is audited.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const MODES = [["listen", "Listen"], ["whisper", "Whisper"], ["barge", "Barge"]];
  const monitoring = {};  // agent id -> the mode I set up on their call
  let focused = null;     // the id of one of my buttons that had the focus

  const phone = acd.el("input", {
    id: "monitor-phone", size: 18, placeholder: "PJSIP/super1",
    value: localStorage.getItem("acd-monitor-phone") || "",
    "aria-label": "my phone for monitoring",
    oninput: (ev) => localStorage.setItem("acd-monitor-phone", ev.target.value.trim()),
  });
  const box = acd.el("p", { class: "row", id: "monitor-box" },
    acd.el("label", { for: "monitor-phone" }, "My phone for monitoring"), phone,
    acd.el("span", { id: "monitor-msg", class: "error", role: "alert" }));
  const agentsTable = $("agents").closest("table");
  agentsTable.before(box);

  async function move(agentId, name) {
    $("monitor-msg").textContent = "";
    try {
      const body = name === "monitor_stop" ? {} : { endpoint: phone.value.trim() };
      const answer = await acd.api("POST", `/api/desk/agents/${agentId}/call/${name}`, body);
      if (name === "monitor_stop") delete monitoring[agentId];
      else monitoring[agentId] = answer.mode;
    } catch (e) {
      $("monitor-msg").textContent = `${agentId}: ${e.message}`;
      if (e.status === 404 || (e.body && e.body.error_id === "not_monitored")) {
        delete monitoring[agentId];
      }
    }
    decorate();
  }

  function controls(row) {
    const id = row.id.slice("agent-".length);
    const mode = monitoring[id];
    const button = (name, label) => acd.el("button", {
      type: "button", id: `mon-${name}-${id}`, class: mode === name ? "primary" : null,
      "aria-pressed": name === "monitor_stop" ? null : String(mode === name),
      onclick: () => move(id, name),
    }, label);
    return acd.el("span", { class: "monitor-moves", "data-monitoring": mode || "" },
      ...MODES.map(([name, label]) => button(name, label)),
      ...(mode ? [button("monitor_stop", "Stop")] : []));
  }

  // The wallboard redraws its rows on every snapshot: the buttons go back in each time.
  function decorate() {
    for (const row of $("agents").querySelectorAll("tr")) {
      const id = row.id.slice("agent-".length);
      const old = row.querySelector(".monitor-moves");
      if (old) old.remove();
      if (row.dataset.state !== "on_call") { delete monitoring[id]; continue; }
      row.lastElementChild.append(controls(row));
    }
    const again = focused && document.getElementById(focused);
    if (again && document.activeElement !== again) again.focus();
  }

  document.addEventListener("focusin", (ev) => {
    focused = ev.target.id && ev.target.id.startsWith("mon-") ? ev.target.id : null;
  });
  new MutationObserver(decorate).observe($("agents"), { childList: true });
})();
