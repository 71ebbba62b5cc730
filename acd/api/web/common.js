// Shared by the agent desktop and the wallboard: plain JavaScript, no library.
"use strict";

const acd = {
  // Build an element; children are nodes or text (never parsed as HTML).
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  },

  async api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body || {});
    }
    const resp = await fetch(path, opts);
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = new Error(data.message || resp.statusText);
      err.status = resp.status;
      err.body = data;
      throw err;
    }
    return data;
  },

  // Seconds as m:ss or h:mm:ss.
  duration(s) {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  },

  // The server's clock now (ms), from the last snapshot: acd may run its clock
  // faster than real time (tests), so scale the time passed since it came.
  clock: { serverMs: Date.now(), atMs: Date.now(), speed: 1 },
  nowMs() {
    return this.clock.serverMs + (Date.now() - this.clock.atMs) * this.clock.speed;
  },

  // Log in when needed; resolves with the user (/api/me).
  async login(roles) {
    try {
      const me = await this.api("GET", "/api/me");
      if (roles.includes(me.role)) return me;
    } catch (e) { if (e.status !== 401) throw e; }
    const form = document.getElementById("login");
    const error = document.getElementById("login-error");
    form.hidden = false;
    form.querySelector("input").focus();
    return new Promise((resolve) => {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        error.textContent = "";
        const data = new FormData(form);
        try {
          const me = await this.api("POST", "/api/login",
                                    { name: data.get("name"), password: data.get("password") });
          if (!roles.includes(me.role)) {
            error.textContent = "This page is for: " + roles.join(", ");
            return;
          }
          form.hidden = true;
          resolve(me);
        } catch (e) { error.textContent = e.message; }
      });
    });
  },

  async logout() {
    try { await this.api("POST", "/api/logout"); } finally { location.reload(); }
  },

  // The live snapshot over SSE: a whole snapshot first, then deltas patched in.
  // EventSource reconnects by itself and sends Last-Event-ID, so nothing is polled.
  live(onSnapshot, onStatus) {
    const source = new EventSource("/api/live");
    let snap = null;
    const shown = (data) => {
      this.clock = { serverMs: data.now_ms, atMs: Date.now(), speed: data.speed || 1 };
      onSnapshot(snap);
    };
    source.addEventListener("snapshot", (ev) => {
      snap = JSON.parse(ev.data);
      shown(snap);
    });
    source.addEventListener("delta", (ev) => {
      if (!snap) return;  // a snapshot always comes first
      const d = JSON.parse(ev.data);
      const agents = new Map(snap.agents.map((a) => [a.id, a]));
      for (const a of d.agents_changed) agents.set(a.id, a);
      for (const id of d.agents_removed) agents.delete(id);
      const { agents_changed, agents_removed, base, ...rest } = d;
      snap = { ...snap, ...rest,
               agents: [...agents.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) };
      shown(d);
    });
    source.addEventListener("open", () => onStatus && onStatus(true));
    source.addEventListener("error", () => onStatus && onStatus(false));
    return source;
  },
};
