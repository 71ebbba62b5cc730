// Recording and agent-assisted payment (#17): the call's recording (indicator, pause,
// resume, start when the queue records on demand) and the Payment button, which
// sends the caller to the payment flow; the agent sees only the result.
"use strict";

(() => {
  const LABEL = { active: "● Recording", paused: "Recording paused" };
  let poll = null;  // while the caller pays: the result is read again every second

  function button(id, text, move, args) {
    return acd.el("button", { id, type: "button", onclick: () => acdDesk.move(move, args) }, text);
  }

  function render(status, node) {
    node.replaceChildren();
    clearTimeout(poll);
    if (!status) return;
    const rec = status.recording;
    node.append(acd.el("span", { id: "rec-state", class: "muted", "data-recording": rec || "off" },
                       LABEL[rec] || "Not recorded"));
    if (rec === "active" && acdDesk.can("record_pause")) {
      node.append(button("rec-pause", "Pause recording", "record_pause"));
    } else if (rec === "paused" && acdDesk.can("record_resume")) {
      node.append(button("rec-resume", "Resume recording", "record_resume"));
    } else if (!rec && acdDesk.can("record_start")) {
      node.append(button("rec-start", "Record", "record_start"));
    }
    const pay = status.payment;
    if (acdDesk.can("payment")) {  // not while paying, on hold, in a transfer
      node.append(button("pay-start", "Take payment", "payment"));
    }
    if (pay) {
      const text = pay === "running" ? "Caller is paying…"
        : pay === "paid" ? `Payment: paid (reference ${status.payment_reference})`
        : `Payment: ${pay}`;
      node.append(acd.el("span", { id: "pay-result", "data-payment": pay, role: "status" }, text));
    }
    if (pay === "running") poll = setTimeout(() => acdDesk.refresh(), 1000);
  }

  acdDesk.addPanel({ id: "record", render });
})();
