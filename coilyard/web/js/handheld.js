// The handheld terminal: one page per task (receive, putaway, move, retrieve, count, hold/release, lookup),
// driven by scans. Every change goes through the outbox (outbox.js) so it survives a lost network;
// reads and putaway proposals need the network and say so when it is missing.
import { ApiError, forget, get, login, newKey, request, seg, session } from "./api.js";
import * as outbox from "./outbox.js";
import { installScanner } from "./scanner.js";

const $ = (sel) => document.querySelector(sel);
const view = $("#view");
const SETTINGS = "coilyard.terminal";

// ------------------------------------------------------------------------------------------ helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function settings() {
  try { return JSON.parse(localStorage.getItem(SETTINGS) || "{}"); } catch { return {}; }
}
function saveSettings(patch) { localStorage.setItem(SETTINGS, JSON.stringify({ ...settings(), ...patch })); }

let feedbackTimer = null;
// kind: ok (green), bad (red), wait (amber: saved, not sent yet)
function say(kind, text, detail = "") {
  const box = $("#feedback");
  box.className = `feedback ${kind}`;
  box.replaceChildren(text, detail ? h("span", { class: "detail" }, detail) : "");
  box.dataset.kind = kind;
  document.body.classList.remove("flash-ok", "flash-bad");
  void document.body.offsetWidth; // restart the animation
  if (kind !== "wait") document.body.classList.add(kind === "ok" ? "flash-ok" : "flash-bad");
  beep(kind);
  if (navigator.vibrate) navigator.vibrate(kind === "bad" ? [120, 60, 120] : 60);
  clearTimeout(feedbackTimer);
  if (kind === "ok") feedbackTimer = setTimeout(() => box.classList.add("hidden"), 8000);
}

let audio = null;
function beep(kind) {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = kind === "bad" ? 220 : kind === "ok" ? 1320 : 660;
    gain.gain.value = 0.05;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + (kind === "bad" ? 0.35 : 0.1));
  } catch { /* no sound is fine */ }
}

function explain(error) {
  if (error instanceof ApiError) {
    if (error.offline) return "No network: this needs the service. Try again when online.";
    const field = error.body?.field ? ` (${error.body.field})` : "";
    return `${error.message}${field}`;
  }
  return String(error);
}

function scanForm(placeholder, label = "Scan, or type and press OK") {
  return h("form", { class: "scanform", autocomplete: "off" },
    h("label", {}, label),
    h("div", { class: "scanrow" },
      h("input", { "data-scan": "", name: "code", placeholder, autocapitalize: "characters", spellcheck: "false",
                   inputmode: "text", "aria-label": placeholder }),
      h("button", { type: "submit" }, "OK")));
}

function prompt(step, text) {
  return [h("div", { class: "step" }, step), h("div", { class: "prompt", id: "prompt" }, text)];
}

// Queue an action and try to send it now; the feedback says whether it was applied, refused or saved.
const awaited = new Set(); // outbox entries whose outcome `act` reports itself
async function act(label, steps, { success } = {}) {
  const entry = outbox.add(label, steps);
  awaited.add(entry.id);
  let outcome = null;
  const off = outbox.onChange((event) => {
    if (event.entry?.id === entry.id && event.type !== "changed") outcome = event;
  });
  await outbox.replay();
  off();
  awaited.delete(entry.id);
  if (outcome?.type === "applied") {
    say("ok", success || `Done: ${label}`, outcome.result?.replayed ? "(already applied earlier)" : "");
    return outcome.result;
  }
  if (outcome?.type === "refused") {
    say("bad", `Refused: ${label}`, explain(outcome.error));
    return null;
  }
  say("wait", `Saved on this device: ${label}`, "It will be sent when the network is back.");
  return null;
}

// A scanned code to a coil ID: a coil, or an RFID tag bound to one. Offline, the code is taken as it is.
async function coilOf(code) {
  try {
    const found = await get(`/api/terminal/scan/${seg(code)}`);
    if (found.kind === "coil" || found.kind === "tag") return found;
    throw new ApiError(404, { detail: found.kind === "location" ? `${code} is a location, not a coil` : found.detail });
  } catch (error) {
    if (error instanceof ApiError && error.offline) return { code, kind: "coil", coil: code, location: null, offline: true };
    throw error;
  }
}

let plan = null;
async function plantPlan() {
  if (plan) return plan;
  try {
    plan = await get("/api/terminal/plan");
    localStorage.setItem("coilyard.plan", JSON.stringify({ stores: plan.stores, cranes: plan.cranes, vehicles: plan.vehicles }));
  } catch {
    plan = JSON.parse(localStorage.getItem("coilyard.plan") || '{"stores":[],"cranes":[],"vehicles":[]}');
  }
  return plan;
}

function storeOf(location) {
  return (plan?.stores || []).map((s) => s.id).find((id) => location.startsWith(`${id}-`)) || null;
}

// The carrier recorded for a move: the terminal's setting, else the first crane serving the target's store.
function carrierFor(target) {
  const chosen = settings().carrier;
  if (chosen) return chosen;
  const store = storeOf(target);
  const crane = (plan?.cranes || []).find((c) => c.store === store) || (plan?.cranes || [])[0];
  return crane?.id || (plan?.vehicles || [])[0]?.id || "manual";
}

function dl(pairs) {
  return h("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "-")]));
}

// ------------------------------------------------------------------------------------------ pages

const pages = {};
let current = null;

pages.login = {
  title: "Log in",
  render() {
    const form = h("form", { class: "card", id: "login" },
      h("h2", {}, "Log in"),
      h("label", { for: "user" }, "User"),
      h("input", { id: "user", name: "user", autocomplete: "username", autocapitalize: "none", required: true }),
      h("label", { for: "password" }, "Password"),
      h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
      h("button", { class: "big", type: "submit" }, "Log in"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await login(form.user.value.trim(), form.password.value);
        say("ok", `Logged in as ${session().user}`);
        location.hash = "#menu";
        outbox.replay();
      } catch (error) {
        say("bad", "Login failed", explain(error));
      }
    });
    return form;
  },
  onScan(code) {
    // a badge scanned at the login page names the user
    $("#user").value = code;
    $("#password").focus();
  },
};

const TILES = [
  ["receive", "Receive", "new coil at a handover"],
  ["putaway", "Putaway", "coil → proposed place"],
  ["move", "Move", "coil → any place"],
  ["retrieve", "Retrieve", "planned retrievals"],
  ["count", "Count", "cycle count a place"],
  ["hold", "Hold / release", "QA, damage, customer"],
  ["lookup", "Lookup", "coil, place or tag"],
];

pages.menu = {
  title: "Menu",
  render() {
    const s = session();
    const carrier = h("select", { id: "carrier", onchange: (e) => saveSettings({ carrier: e.target.value }) },
      h("option", { value: "" }, "automatic (crane of the store)"));
    plantPlan().then((p) => {
      for (const c of [...p.cranes, ...p.vehicles]) carrier.append(h("option", { value: c.id }, `${c.id} (${c.kind})`));
      carrier.value = settings().carrier || "";
    });
    const failed = outbox.failed();
    return [
      h("nav", { class: "menu" }, TILES.map(([id, name, hint]) => h("a", { href: `#${id}`, id: `go-${id}` }, name, h("small", {}, hint)))),
      h("div", { class: "card" },
        h("label", { for: "carrier" }, "Carrier (crane or vehicle) recorded for moves"), carrier,
        failed.length ? h("div", {},
          h("h3", { style: "margin-top:1rem" }, `${failed.length} refused while offline`),
          h("ul", { class: "list" }, failed.slice(-5).map((f) => h("li", {}, h("span", { class: "grow" }, f.label, h("br"), h("small", { class: "muted" }, f.lastError))))),
          h("button", { class: "secondary", onclick: () => { outbox.clearFailed(); route(); } }, "Clear")) : null,
        h("p", { class: "muted" }, `Logged in as ${s?.user} (${s?.role}). `,
          h("a", { href: "#logout" }, "Log out"), " · ", h("a", { href: "/ui/live.html" }, "Live yard view"))),
    ];
  },
};

pages.logout = {
  title: "Log out",
  render() {
    request("POST", "/api/auth/logout", undefined, { key: newKey() }).catch(() => {});
    forget();
    location.hash = "#login";
    return [];
  },
};

// --- receive: scan the coil label, scan the arrival place, check the attributes, send.
pages.receive = {
  title: "Receive",
  state: {},
  render() {
    this.state = { coil: "", location: settings().arrival || "" };
    const f = (name, label, value, extra = {}) => h("div", {}, h("label", { for: `r-${name}` }, label),
      h("input", { id: `r-${name}`, name, value, ...extra }));
    this.form = h("form", { class: "card", id: "receive-form" },
      f("alloy", "Alloy", settings().alloy || "5182"),
      h("div", { class: "grid2" },
        f("width", "Width (m)", "1.5", { inputmode: "decimal" }),
        f("gauge", "Gauge (mm)", "2.0", { inputmode: "decimal" }),
        f("outer_diameter", "Outer Ø (m)", "1.8", { inputmode: "decimal" }),
        f("inner_diameter", "Inner Ø (m)", "0.6", { inputmode: "decimal" }),
        f("weight", "Weight (t)", "10", { inputmode: "decimal" }),
        f("temperature", "Temperature (°C)", "25", { inputmode: "decimal" })),
      h("button", { class: "big", type: "submit", id: "receive-send" }, "Receive coil"));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.send(); });
    return [
      h("div", { class: "card" }, prompt("Receive", "Scan the coil label"),
        dl([["Coil", h("span", { id: "r-coil" }, "-")], ["Arrives at", h("span", { id: "r-location" }, this.state.location || "-")]]),
        scanForm("coil ID, then arrival place")),
      this.form,
    ];
  },
  onScan(code) {
    if (!this.state.coil) {
      this.state.coil = code;
      $("#r-coil").textContent = code;
      $("#prompt").textContent = this.state.location ? "Check the attributes and send, or scan the arrival place" : "Scan the arrival place";
    } else {
      this.state.location = code;
      $("#r-location").textContent = code;
      $("#prompt").textContent = "Check the attributes and send";
    }
  },
  async send() {
    const { coil, location: where } = this.state;
    if (!coil || !where) { say("bad", "Scan the coil and the arrival place first"); return; }
    const form = this.form;
    const num = (n) => Number(form[n].value);
    const body = {
      coil, location: where, alloy: form.alloy.value.trim(), width: num("width"), gauge: num("gauge"),
      outer_diameter: num("outer_diameter"), inner_diameter: num("inner_diameter"), weight: num("weight"),
      temperature: num("temperature"),
    };
    saveSettings({ arrival: where, alloy: body.alloy });
    await act(`receive ${coil} at ${where}`, [{ method: "POST", path: "/api/wms/coils", body }], { success: `Received ${coil} at ${where}` });
    this.state.coil = "";
    $("#r-coil").textContent = "-";
    $("#prompt").textContent = "Scan the next coil label";
  },
};

// --- putaway: scan the coil -> see the proposed position -> scan the position to confirm.
pages.putaway = {
  title: "Putaway",
  render() {
    this.move = null;
    const storeSelect = h("select", { id: "p-store", onchange: (e) => saveSettings({ store: e.target.value }) });
    plantPlan().then((p) => {
      for (const s of p.stores) storeSelect.append(h("option", { value: s.id }, `${s.id} · ${s.name}`));
      storeSelect.value = settings().store || p.stores.find((s) => s.kind === "flat")?.id || p.stores[0]?.id || "";
    });
    this.card = h("div", { class: "card", id: "putaway" }, prompt("Step 1 of 2", "Scan the coil"),
      h("div", { id: "p-proposal" }), scanForm("coil ID or RFID tag"));
    return [this.card, h("div", { class: "card" }, h("label", { for: "p-store" }, "Store to put away into"), storeSelect)];
  },
  showStep(step, text) {
    this.card.querySelector(".step").textContent = step;
    $("#prompt").textContent = text;
    this.card.querySelector("input[data-scan]").placeholder = this.move ? "position label" : "coil ID or RFID tag";
  },
  async cancel() {
    // give the reserved place back: the proposal is cancelled in the service, not just forgotten here
    const move = this.move;
    this.reset();
    await act(`cancel putaway of ${move.unit}`, [{ method: "POST", path: `/api/wms/moves/${seg(move.move)}/cancel`,
      body: { reason: "cancelled at the terminal" } }], { success: `Putaway of ${move.unit} cancelled, ${move.target} is free again` });
  },
  async onScan(code) {
    if (!this.move) return this.propose(code);
    return this.confirm(code);
  },
  async propose(code) {
    let found;
    try {
      found = await coilOf(code);
      if (found.offline) throw new ApiError(0, {});
    } catch (error) {
      say("bad", `Cannot propose a place for ${code}`, explain(error));
      return;
    }
    const coil = found.coil;
    try {
      let move = null;
      const where = await get(`/api/wms/coils/${seg(coil)}`);
      if (where.move) {
        const planned = await get(`/api/wms/moves/${seg(where.move)}`);
        if (planned.state === "planned") move = planned;
      }
      if (!move) {
        const store = $("#p-store").value;
        move = await request("POST", "/api/wms/putaway", { coil, store }, { key: newKey() });
      }
      this.move = move;
      $("#p-proposal").replaceChildren(
        dl([["Coil", move.unit], ["From", move.source], ["Move", move.move]]),
        h("div", { class: "step", style: "margin-top:.6rem" }, "Proposed position"),
        h("div", { class: "target", id: "p-target" }, move.target),
        h("button", { class: "secondary big", id: "p-cancel", onclick: () => this.cancel() }, "Cancel putaway"));
      this.showStep("Step 2 of 2", "Put the coil down there, then scan the position label");
      say("ok", `${coil}: put it at ${move.target}`);
    } catch (error) {
      say("bad", `No putaway for ${coil}`, explain(error));
    }
  },
  async confirm(code) {
    const move = this.move;
    if (code !== move.target) {
      say("bad", `Wrong position ${code}`, `${move.unit} goes to ${move.target}. Scan that label.`);
      return;
    }
    const carrier = carrierFor(move.target);
    this.reset();
    await act(`put away ${move.unit} at ${move.target}`, [
      { method: "POST", path: `/api/wms/moves/${seg(move.move)}/start`, body: { carrier } },
      { method: "POST", path: `/api/wms/moves/${seg(move.move)}/complete` },
    ], { success: `Stored ${move.unit} at ${move.target}` });
  },
  reset() {
    this.move = null;
    $("#p-proposal").replaceChildren();
    this.showStep("Step 1 of 2", "Scan the next coil");
  },
};

// --- move: scan the coil, scan where it went (a move done by hand: plan, lift, set down at once).
pages.move = {
  title: "Move",
  render() {
    this.coil = null;
    return h("div", { class: "card" }, prompt("Step 1 of 2", "Scan the coil"),
      h("div", { id: "m-coil" }), scanForm("coil ID or RFID tag, then target"));
  },
  async onScan(code) {
    if (!this.coil) {
      try {
        const found = await coilOf(code);
        this.coil = found.coil;
        $("#m-coil").replaceChildren(dl([["Coil", found.coil], ["Now at", found.location || "(offline)"]]));
        $("#prompt").textContent = "Set it down, then scan the target position";
        document.querySelector(".step").textContent = "Step 2 of 2";
      } catch (error) { say("bad", `Not a coil: ${code}`, explain(error)); }
      return;
    }
    const coil = this.coil;
    this.coil = null;
    $("#m-coil").replaceChildren();
    $("#prompt").textContent = "Scan the next coil";
    document.querySelector(".step").textContent = "Step 1 of 2";
    await act(`move ${coil} to ${code}`, [{ method: "POST", path: "/api/wms/moves/direct",
      body: { unit: coil, target: code, carrier: carrierFor(code), reason: "terminal" } }],
      { success: `Moved ${coil} to ${code}` });
  },
};

// --- retrieve: the planned retrieval and relocation moves; pick one (or scan its coil), scan the target.
pages.retrieve = {
  title: "Retrieve",
  render() {
    this.move = null;
    this.list = h("ul", { class: "list", id: "r-moves" }, h("li", { class: "muted" }, "Loading…"));
    this.load();
    return [
      h("div", { class: "card" }, prompt("Retrieve", "Scan a coil from the list"), h("div", { id: "r-chosen" }), scanForm("coil ID, then target")),
      h("div", { class: "card" }, h("h3", {}, "Planned moves"), this.list),
    ];
  },
  async load() {
    try {
      const page = await get("/api/wms/moves?state=planned&limit=200");
      this.moves = page.items.filter((m) => m.purpose === "retrieval" || m.purpose === "relocation");
      this.list.replaceChildren(...(this.moves.length ? this.moves.map((m) =>
        h("li", {}, h("span", { class: "grow" }, h("b", {}, m.unit), ` ${m.source} → ${m.target}`, h("br"), h("small", { class: "muted" }, `${m.purpose} ${m.move}`)),
          h("button", { class: "secondary", onclick: () => this.choose(m) }, "Do"))) : [h("li", { class: "muted" }, "Nothing planned.")]));
    } catch (error) {
      this.list.replaceChildren(h("li", { class: "muted" }, explain(error)));
    }
  },
  choose(move) {
    this.move = move;
    $("#r-chosen").replaceChildren(dl([["Coil", move.unit], ["From", move.source]]), h("div", { class: "target" }, move.target));
    $("#prompt").textContent = "Take it there, then scan the target label";
  },
  async onScan(code) {
    if (!this.move) {
      const found = await coilOf(code).catch(() => ({ coil: code }));
      const move = (this.moves || []).find((m) => m.unit === found.coil);
      if (!move) { say("bad", `No planned retrieval for ${code}`); return; }
      this.choose(move);
      return;
    }
    const move = this.move;
    if (code !== move.target) { say("bad", `Wrong place ${code}`, `${move.unit} goes to ${move.target}.`); return; }
    this.move = null;
    $("#r-chosen").replaceChildren();
    $("#prompt").textContent = "Scan a coil from the list";
    await act(`retrieve ${move.unit} to ${move.target}`, [
      { method: "POST", path: `/api/wms/moves/${seg(move.move)}/start`, body: { carrier: carrierFor(move.source) } },
      { method: "POST", path: `/api/wms/moves/${seg(move.move)}/complete` },
    ], { success: `${move.unit} is at ${move.target}` });
    this.load();
  },
};

// --- count: scan the place, scan every coil seen there, finish.
pages.count = {
  title: "Count",
  render() {
    this.location = null;
    this.seen = [];
    this.items = h("ul", { class: "list", id: "c-seen" });
    return h("div", { class: "card" }, prompt("Count", "Scan the position label"), h("div", { id: "c-where" }),
      this.items, scanForm("position, then each coil"),
      h("button", { class: "big", id: "c-finish", onclick: () => this.finish() }, "Finish count"));
  },
  draw() {
    this.items.replaceChildren(...this.seen.map((c, i) => h("li", {}, h("span", { class: "grow mono" }, c),
      h("button", { class: "secondary", onclick: () => { this.seen.splice(i, 1); this.draw(); } }, "Remove"))));
  },
  async onScan(code) {
    if (!this.location) {
      this.location = code;
      $("#c-where").replaceChildren(dl([["Position", code]]));
      $("#prompt").textContent = "Scan every coil there, then Finish (none: Finish now)";
      return;
    }
    let coil = code;
    try { coil = (await coilOf(code)).coil; } catch { /* keep what was scanned: the count records it */ }
    if (!this.seen.includes(coil)) this.seen.push(coil);
    this.draw();
  },
  async finish() {
    if (!this.location) { say("bad", "Scan the position first"); return; }
    const where = this.location;
    const observed = [...this.seen];
    const result = await act(`count ${where}: ${observed.length} coil(s)`, [
      { method: "POST", path: `/api/wms/locations/${seg(where)}/counts`, body: { observed } }],
      { success: `Count of ${where} recorded` });
    const found = result?.result;
    if (found?.discrepancy) {
      say("bad", `Count of ${where} differs from the books`,
        `books: ${found.expected.join(", ") || "empty"}; seen: ${found.observed.join(", ") || "empty"}`);
    }
    this.location = null;
    this.seen = [];
    this.draw();
    $("#c-where").replaceChildren();
    $("#prompt").textContent = "Scan the next position label";
  },
};

// --- hold and release
pages.hold = {
  title: "Hold / release",
  render() {
    this.coil = null;
    this.detail = h("div", { id: "h-detail" });
    const form = h("form", { class: "card hidden", id: "h-form" },
      h("h3", {}, "Place a hold"),
      h("label", { for: "h-kind" }, "Kind"),
      h("select", { id: "h-kind", name: "kind" }, ["qa", "damage", "customer", "cooling"].map((k) => h("option", { value: k }, k))),
      h("label", { for: "h-reason" }, "Reason"),
      h("input", { id: "h-reason", name: "reason", required: true, maxlength: 500 }),
      h("button", { class: "big danger", type: "submit" }, "Place hold"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const coil = this.coil;
      await act(`hold ${coil} (${form.kind.value})`, [{ method: "POST", path: `/api/wms/coils/${seg(coil)}/holds`,
        body: { kind: form.kind.value, reason: form.reason.value.trim() } }], { success: `${coil} is on hold` });
      form.reason.value = "";
      this.show(coil);
    });
    this.form = form;
    return [h("div", { class: "card" }, prompt("Hold / release", "Scan the coil"), this.detail, scanForm("coil ID or RFID tag")), form];
  },
  async onScan(code) {
    try {
      const found = await coilOf(code);
      this.coil = found.coil;
      this.form.classList.remove("hidden");
      await this.show(found.coil);
    } catch (error) { say("bad", `Not a coil: ${code}`, explain(error)); }
  },
  async show(coil) {
    try {
      const where = await get(`/api/wms/coils/${seg(coil)}`);
      this.detail.replaceChildren(dl([["Coil", coil], ["At", where.location], ["Status", where.status]]),
        h("h3", { style: "margin-top:.75rem" }, where.holds.length ? "Holds" : "No holds"),
        // each hold reads "<id> <kind>: <reason>"; the id is what a release names
        h("ul", { class: "list" }, where.holds.map((hold) => h("li", {}, h("span", { class: "grow" }, hold),
          h("button", { class: "secondary", "data-hold": hold.split(" ")[0],
            onclick: () => this.release(coil, hold.split(" ")[0]) }, "Release")))));
    } catch (error) {
      this.detail.replaceChildren(dl([["Coil", coil]]), h("p", { class: "muted" }, explain(error)));
    }
  },
  async release(coil, hold) {
    await act(`release ${hold} of ${coil}`, [{ method: "POST", path: `/api/wms/coils/${seg(coil)}/holds/${seg(hold)}/release`,
      body: { reason: "released at terminal" } }], { success: `Released ${hold} of ${coil}` });
    this.show(coil);
  },
};

// --- lookup: a coil (where, holds, blockers, history, tags, label) or a place (occupants, locks).
pages.lookup = {
  title: "Lookup",
  render() {
    this.binding = null;
    this.out = h("div", { id: "l-out" });
    return [h("div", { class: "card" }, prompt("Lookup", "Scan a coil, position or RFID tag"), scanForm("coil, position or tag")), this.out];
  },
  async onScan(code) {
    if (this.binding) return this.bind(this.binding, code);
    try {
      const found = await get(`/api/terminal/scan/${seg(code)}`);
      if (found.kind === "coil" || found.kind === "tag") return this.coil(found.coil, found);
      if (found.kind === "location") return this.place(found.location);
      say("bad", `Unknown: ${code}`, found.detail);
    } catch (error) { say("bad", `Lookup of ${code} failed`, explain(error)); }
  },
  async coil(coil, found) {
    const [where, history] = await Promise.all([get(`/api/wms/coils/${seg(coil)}`), get(`/api/wms/coils/${seg(coil)}/history`)]);
    this.out.replaceChildren(h("div", { class: "card", id: "l-coil" },
      h("h2", { class: "mono" }, coil), found.kind === "tag" ? h("p", { class: "muted" }, `scanned RFID tag ${found.code}`) : null,
      dl([["At", where.location], ["Status", where.status], ["Holds", where.holds.join(", ") || "none"],
          ["Reserved for", where.reserved_for], ["Move", where.move], ["Blocked by", where.blocked_by.join(", ") || "nothing"],
          ["Weight", where.weight_t != null ? `${where.weight_t} t` : null],
          ["Temperature", where.temperature_c != null ? `${Math.round(where.temperature_c)} °C` : null]]),
      h("h3", { style: "margin-top:.75rem" }, "History"),
      h("ul", { class: "list" }, history.slice(-6).reverse().map((r) => h("li", {}, h("span", { class: "grow" },
        h("b", {}, r.what), r.from || r.to ? ` ${r.from || "?"} → ${r.to || "?"}` : "", r.why ? ` (${r.why})` : "", h("br"), h("small", { class: "muted" }, `${new Date(r.at * 1000).toLocaleString()} · ${r.actor}`))))),
      h("div", { class: "grid2" },
        h("button", { class: "secondary big", onclick: () => this.label(`/api/labels/coils/${seg(coil)}.pdf`) }, "Label PDF"),
        h("button", { class: "secondary big", id: "l-bind", onclick: () => this.startBind(coil) }, "Bind RFID tag"))));
  },
  async place(id) {
    const loc = await get(`/api/wms/locations/${seg(id)}`);
    this.out.replaceChildren(h("div", { class: "card", id: "l-place" }, h("h2", { class: "mono" }, id),
      dl([["Kind", loc.kind], ["Store", loc.store], ["Holds", loc.occupants.join(", ") || "empty"], ["Reserved by", loc.reserved_by],
          ["Locked in", loc.locked_in], ["Locked out", loc.locked_out]]),
      h("button", { class: "secondary big", onclick: () => this.label(`/api/labels/locations/${seg(id)}.pdf`) }, "Label PDF")));
  },
  startBind(coil) {
    this.binding = coil;
    $("#prompt").textContent = `Scan the RFID tag to bind to ${coil}`;
  },
  async bind(coil, tag) {
    this.binding = null;
    $("#prompt").textContent = "Scan a coil, position or RFID tag";
    await act(`bind tag ${tag} to ${coil}`, [{ method: "POST", path: "/api/labels/rfid", body: { tag, coil } }],
      { success: `Tag ${tag} now names ${coil}` });
  },
  async label(path) {
    try {
      const s = session();
      const reply = await fetch(path, { headers: { Authorization: `Bearer ${s.access_token}` } });
      if (!reply.ok) throw new ApiError(reply.status, await reply.json().catch(() => ({})));
      window.open(URL.createObjectURL(await reply.blob()), "_blank");
    } catch (error) { say("bad", "No label", explain(error)); }
  },
};

// ------------------------------------------------------------------------------------------ shell

function route() {
  let page = (location.hash || "#menu").slice(1);
  if (!session()) page = "login";
  else if (!pages[page] || page === "login") page = "menu";
  if (location.hash !== `#${page}`) history.replaceState(null, "", `#${page}`);
  current = pages[page];
  document.body.dataset.page = page;
  $("#title").textContent = current.title;
  document.title = `${current.title} · coilyard terminal`;
  view.replaceChildren(...[current.render()].flat());
  const first = view.querySelector("input[data-scan]");
  if (first && matchMedia("(pointer: fine)").matches) first.focus();
}

function showNetwork() {
  const online = navigator.onLine;
  const net = $("#net");
  net.className = `pill ${online ? "online" : "offline"}`;
  net.textContent = online ? "online" : "offline";
  const count = outbox.pending().length;
  const badge = $("#pending");
  badge.textContent = `${count} to send`;
  badge.classList.toggle("hidden", count === 0);
  badge.dataset.count = String(count);
}

installScanner((code, source) => {
  if (!current?.onScan) return;
  document.body.dataset.lastScan = `${source}:${code}`;
  Promise.resolve(current.onScan(code, source)).catch((error) => say("bad", "Scan failed", explain(error)));
});
outbox.onChange((event) => {
  showNetwork();
  // a queued action applied in the background (after the network came back): say so
  if (event.entry && awaited.has(event.entry.id)) return;
  if (event.type === "applied") say("ok", `Sent: ${event.entry.label}`, "saved while offline, now applied");
  if (event.type === "refused") say("bad", `Refused: ${event.entry.label}`, explain(event.error));
});
window.addEventListener("online", showNetwork);
window.addEventListener("offline", showNetwork);
window.addEventListener("hashchange", route);
outbox.start(4000);
showNetwork();
route();
// the app shell survives a reload without network (where the browser allows service workers)
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/ui/sw.js").catch(() => {});
