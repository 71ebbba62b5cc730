// The agent desktop: a supervisor listening to, coaching or joining my call is shown
// (issue 17). No buttons: monitoring is the supervisor's move, from the wallboard.
// The call's status says it (`monitored`: listen, whisper, barge or null); as
// monitoring changes nothing in my agent state, this panel reads the status again
// every few seconds while I am on a call.
"use strict";

(function () {
  const SAYS = {
    listen: "A supervisor is listening to this call",
    whisper: "A supervisor is coaching you: only you hear them",
    barge: "A supervisor has joined this call: the caller hears them too",
  };
  const EVERY_MS = 3000;

  function render(status, node) {
    const mode = status && status.monitored;
    node.hidden = !mode;
    node.replaceChildren(...(mode ? [acd.el("span", {
      id: "monitored", class: "monitored", role: "status", "data-mode": mode,
    }, "● " + (SAYS[mode] || "A supervisor is on this call"))] : []));
  }

  acdDesk.addPanel({ id: "monitor", render });

  // Only this panel is redrawn by the poll: the others keep what is being typed.
  setInterval(async () => {
    const status = acdDesk.status;
    if (!status || !status.agent_id) return;
    try {
      const now = await acd.api("GET", `/api/desk/agents/${status.agent_id}/call/moves`);
      if (acdDesk.status) {
        acdDesk.status.monitored = now.monitored;
        render(now, document.getElementById("panel-monitor"));
      }
    } catch (e) { /* the call ended: the agent state's change refreshes the desk */ }
  }, EVERY_MS);
})();
