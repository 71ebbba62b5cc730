// Transfers on the agent desktop (issue 17): blind transfer to an agent, a queue or a
// number; consult (attended) an agent, a queue or a number (the same picker), then
// complete, cancel or make a conference; escalate to the first available supervisor
// with a reason.
"use strict";

(function () {
  const el = (tag, attrs, ...kids) => acd.el(tag, attrs, ...kids);
  let polling = null;
  const typed = { kind: "agent", to: "", reason: "" };  // kept across re-renders

  function target(node) {
    const kind = node.querySelector("#xfer-kind").value;
    const to = node.querySelector("#xfer-to").value.trim();
    return to ? `${kind}:${to}` : "";
  }

  function button(id, text, onClick, opts) {
    const b = el("button", { id, type: "button", class: (opts && opts.cls) || "" }, text);
    b.addEventListener("click", onClick);
    return b;
  }

  // What the agent is doing with the target, by transfer_state.
  const LABEL = { consulting: "Consulting", conference: "Conference with" };

  function render(status, node) {
    if (polling) { clearTimeout(polling); polling = null; }
    node.replaceChildren();
    if (!status) return;
    const busy = status.transfer;  // a transfer or consult under way: its target
    if (busy) {
      const state = status.transfer_state;  // asking, ringing, consulting, conference
      node.append(el("span", { id: "xfer-busy", "data-state": state || "" },
                     `${LABEL[state] || "Transfer to"} ${busy}` +
                     (state === "ringing" ? " (ringing)" : "")));
      // Only what the call takes now (status.moves): complete and conference once
      // the target talks, cancel while a consult rings or talks.
      if (acdDesk.can("complete")) {
        node.append(button("xfer-complete", "Complete", () => acdDesk.move("complete")));
      }
      if (acdDesk.can("conference")) {
        node.append(button("xfer-conference", "Conference", () => acdDesk.move("conference")));
      }
      if (acdDesk.can("cancel")) {
        node.append(button("xfer-cancel", "Cancel", () => acdDesk.move("cancel"),
                           { cls: "danger" }));
      }
      // The target may answer or fail meanwhile: read the call's state again.
      if (state !== "conference") polling = setTimeout(() => acdDesk.refresh(), 2000);
      return;
    }
    // None of these while the caller pays or is held (acd.calls.phases.conflicts).
    if (!["transfer", "consult", "escalate"].some((m) => acdDesk.can(m))) return;
    const kind = el("select", { id: "xfer-kind", "aria-label": "Transfer to" },
                    el("option", { value: "agent" }, "agent"),
                    el("option", { value: "queue" }, "queue"),
                    el("option", { value: "number" }, "number"));
    const to = el("input", { id: "xfer-to", "aria-label": "Agent id, queue or number",
                             placeholder: "a2, support, 0555..." , size: "14" });
    const reason = el("input", { id: "xfer-reason", "aria-label": "Escalation reason",
                                 placeholder: "reason", size: "14", maxlength: "200" });
    kind.value = typed.kind;
    to.value = typed.to;
    reason.value = typed.reason;
    kind.addEventListener("change", () => { typed.kind = kind.value; });
    to.addEventListener("input", () => { typed.to = to.value; });
    reason.addEventListener("input", () => { typed.reason = reason.value; });
    node.append(
      el("label", { for: "xfer-kind" }, "Transfer"), kind, to,
      ...[
        acdDesk.can("transfer") && button("xfer-blind", "Transfer", () => {
          const t = target(node);
          if (t) acdDesk.move("transfer", { to: t });
        }),
        acdDesk.can("consult") && button("xfer-consult", "Consult", () => {
          const t = target(node);
          if (t) acdDesk.move("consult", { to: t });
        }),
        acdDesk.can("escalate") && reason,
        acdDesk.can("escalate") && button("xfer-escalate", "Escalate", () =>
          acdDesk.move("escalate", { reason: reason.value.trim() }), { cls: "danger" }),
      ].filter(Boolean),
    );
  }

  acdDesk.addPanel({ id: "transfer", render });
})();
