// Hold / Resume on the agent desktop: a move on my call (POST .../call/hold|unhold).
// While the caller is held the panel says "on hold" (and by whom: the desktop, a
// supervisor or my phone's own hold button) with the time held so far.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let heldSince = null;   // Date.now() at which the hold began, as the call said it

  function clock() {
    const box = $("hold-timer");
    if (!box || heldSince === null) return;
    const s = Math.max(0, Math.floor((Date.now() - heldSince) / 1000));
    box.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function render(status, node) {
    node.replaceChildren();
    if (!status) { heldSince = null; return; }
    const held = !!status.held;
    heldSince = held ? Date.now() - (status.held_s || 0) * 1000 : null;
    node.dataset.held = held ? "1" : "0";
    // Only the move the call takes now (status.moves): no Hold while the caller pays
    // or a transfer or consult runs (acd.calls.phases.conflicts).
    if (held && acdDesk.can("unhold")) {
      node.append(acd.el("button", { id: "unhold", type: "button", class: "primary",
                                     onclick: () => acdDesk.move("unhold") }, "Resume"));
    } else if (!held && acdDesk.can("hold")) {
      node.append(acd.el("button", { id: "hold", type: "button",
                                     onclick: () => acdDesk.move("hold") }, "Hold"));
    }
    if (held) {
      const by = status.held_by && status.held_by !== "desktop" ? ` (${status.held_by})` : "";
      node.append(acd.el("span", { id: "hold-state", class: "badge held", role: "status" },
                         "on hold" + by, " ", acd.el("span", { id: "hold-timer" }, "0:00")));
      clock();
    }
  }

  acdDesk.addPanel({ id: "hold", render });
  setInterval(clock, 1000);
  // A hold from the phone's own button is not in the live stream (no browser polls):
  // the panel shows it once the call's state is read again (any move, e.g. Hold,
  // which the call then refuses as already held by the phone).
})();
