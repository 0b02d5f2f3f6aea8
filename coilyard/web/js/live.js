// The live yard view: the plant plan as SVG, vehicles and cranes moved by live events, stock occupancy
// shading, the vehicle list, open orders and the alerts panel (acknowledge, close, counts chart).
// Data: /api/terminal/plan once, /api/terminal/yard snapshots (after each reconnect and when ledger or
// fleet events say something changed), and vehicle/crane/alert events applied as they arrive.
import { ApiError, get, login, newKey, request, session } from "./api.js";
import { alertChart } from "./chart.js";
import { follow } from "./events.js";

const NS = "http://www.w3.org/2000/svg";
const $ = (sel) => document.querySelector(sel);
const AREA = { flat: "#dbe7f3", ingot: "#efe3d3", high_bay: "#e3def0", station: "#e2eee0" };
const AREA_EDGE = { flat: "#6f90b0", ingot: "#a98a62", high_bay: "#8677a8", station: "#6f9a68" };

let plan = null;
let flipY = 0;
const positionEls = new Map(); // location id -> {el, group}
const groups = [];
const vehicleEls = new Map();
const craneEls = new Map();
let snapshot = null;
const alerts = new Map();

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const Y = (y) => flipY - y;
const pts = (ring) => ring.map(([x, y]) => `${x},${Y(y)}`).join(" ");

// ------------------------------------------------------------------------------------------ drawing

function drawPlan() {
  const [x0, y0, x1, y1] = plan.bounds;
  flipY = y0 + y1;
  const w = x1 - x0, hgt = y1 - y0, m = Math.max(w, hgt) * 0.02;
  const font = Math.max(w, hgt) / 90;
  const root = svg("svg", { viewBox: `${x0 - m} ${y0 - m} ${w + 2 * m} ${hgt + 2 * m}`, id: "plan-svg",
    preserveAspectRatio: "xMidYMin meet", "font-size": font });
  root.append(svg("polygon", { points: pts(plan.outline), fill: "#ffffff", stroke: "#17212b", "stroke-width": font / 6 }));
  const areas = svg("g", { id: "areas" });
  for (const a of plan.areas) {
    areas.append(svg("polygon", { points: pts(a.outline), fill: AREA[a.kind] || "#eee", stroke: AREA_EDGE[a.kind] || "#999",
      "stroke-width": font / 10, "data-area": a.id }));
  }
  root.append(areas);
  const net = svg("g", { id: "network", fill: "none" });
  for (const e of plan.edges) {
    net.append(svg("polyline", { points: pts(e.points), stroke: e.rail ? "#55606a" : "#b7c0c8",
      "stroke-width": e.rail ? font / 4 : font / 2.5, "stroke-dasharray": e.rail ? `${font} ${font / 2}` : null, "stroke-linecap": "round" }));
  }
  root.append(net);
  for (const r of plan.runways) {
    root.append(svg("line", { x1: r.start[0], y1: Y(r.start[1]), x2: r.end[0], y2: Y(r.end[1]), stroke: "#d97706",
      "stroke-width": font / 8, "stroke-dasharray": `${font / 2} ${font / 3}`, opacity: 0.7 }));
  }
  const places = svg("g", { id: "positions" });
  for (const p of plan.positions) {
    const el = p.kind === "saddle"
      ? svg("circle", { cx: p.x, cy: Y(p.y), r: p.r })
      : svg("rect", { x: p.x - p.r, y: Y(p.y) - p.r, width: 2 * p.r, height: 2 * p.r, rx: p.r / 5 });
    el.setAttribute("class", `pos ${p.kind}${p.upper ? " upper" : ""}`);
    el.setAttribute("stroke", "#6b7a86");
    el.setAttribute("stroke-width", font / 14);
    el.setAttribute("fill", "#ffffff");
    el.setAttribute("id", `pos-${p.ids[0]}`);
    el.append(svg("title", {}, p.ids.length > 1 ? `${p.ids[0]} … (${p.ids.length} levels)` : p.ids[0]));
    const group = { el, ids: p.ids };
    groups.push(group);
    for (const id of p.ids) positionEls.set(id, group);
    places.append(el);
  }
  root.append(places);
  const labels = svg("g", { id: "labels", fill: "#17212b" });
  for (const a of plan.areas) {
    const xs = a.outline.map((q) => q[0]), ys = a.outline.map((q) => q[1]);
    const room = Math.max(...xs) - Math.min(...xs) - font * 0.6;
    // the station's name if it fits its outline, else its id, shrunk until it fits
    const text = [a.label, a.id].filter(Boolean).find((t) => t.length * font * 0.6 <= room) || a.id;
    const size = Math.min(font, room / Math.max(1, text.length * 0.6));
    labels.append(svg("text", { x: Math.min(...xs) + font / 3, y: Y(Math.max(...ys)) + size * 1.1, "font-weight": 700,
      "font-size": size, fill: AREA_EDGE[a.kind] || "#333" }, text));
  }
  for (const n of plan.nodes.filter((q) => q.kind !== "waypoint")) {
    labels.append(svg("circle", { cx: n.x, cy: Y(n.y), r: font / 4, fill: "#55606a" }));
    labels.append(svg("text", { x: n.x + font / 3, y: Y(n.y) - font / 3, "font-size": font * 0.7, fill: "#55606a" }, n.id));
  }
  root.append(labels);
  const cranes = svg("g", { id: "plan-cranes" });
  for (const c of plan.cranes) {
    const g = svg("g", { class: "crane", id: `crane-${c.id}`, "data-id": c.id });
    const turn = svg("g", { class: "turn" }); // the bridge turns with the runway, the label stays upright
    turn.append(svg("rect", { class: "body", x: -font / 3, y: -10, width: (2 * font) / 3, height: 20, fill: "#d97706", opacity: 0.85 }));
    g.append(turn);
    g.append(svg("text", { y: -font / 2, x: font / 2, "font-size": font * 0.8, "font-weight": 700, fill: "#92400e" }, c.id));
    cranes.append(g);
    craneEls.set(c.id, g);
  }
  root.append(cranes);
  const vehicles = svg("g", { id: "plan-vehicles" });
  for (const v of plan.vehicles) {
    const g = svg("g", { class: "vehicle", id: `vehicle-${v.id}`, "data-id": v.id });
    g.append(svg("rect", { class: "body", x: -v.length / 2, y: -v.width / 2, width: v.length, height: v.width, rx: v.width / 5,
      fill: "#16a34a", stroke: "#14532d", "stroke-width": font / 10 }));
    g.append(svg("text", { class: "label", x: 0, y: -v.width / 2 - font / 3, "text-anchor": "middle", "font-size": font * 0.85, "font-weight": 700 }, v.id));
    vehicles.append(g);
    vehicleEls.set(v.id, g);
  }
  root.append(vehicles);
  $("#plan").prepend(root);
  root.dataset.font = font;
}

function placeVehicle(v) {
  const g = vehicleEls.get(v.id);
  if (!g) return;
  const moved = g.dataset.x !== String(v.x) || g.dataset.y !== String(v.y);
  g.dataset.x = v.x;
  g.dataset.y = v.y;
  g.dataset.state = v.state;
  g.style.transform = `translate(${v.x}px, ${Y(v.y)}px)${v.heading != null ? ` rotate(${-v.heading}deg)` : ""}`;
  const body = g.querySelector(".body");
  body.setAttribute("fill", v.state === "error" ? "#dc2626" : v.state === "unavailable" ? "#9ca3af" : v.load ? "#0f766e" : "#16a34a");
  let title = g.querySelector("title");
  if (!title) { title = svg("title"); g.append(title); }
  title.textContent = `${v.id} · ${v.state}${v.load ? ` · carrying ${v.load}` : ""}`;
  return moved;
}

function placeCrane(c) {
  const g = craneEls.get(c.id);
  if (!g) return;
  g.dataset.x = c.x;
  g.dataset.y = c.y;
  g.dataset.along = c.along;
  const body = g.querySelector(".body");
  // the bridge spans the runway, across the travel direction
  body.setAttribute("height", c.span);
  body.setAttribute("y", -c.span / 2);
  body.setAttribute("fill", c.state === "error" ? "#dc2626" : c.load ? "#b45309" : "#d97706");
  g.style.transform = `translate(${c.x}px, ${Y(c.y)}px)`;
  g.querySelector(".turn").setAttribute("transform", `rotate(${-c.angle})`);
}

function shade(occupied, reserved) {
  for (const group of groups) {
    const used = group.ids.filter((id) => occupied[id]).length;
    const held = group.ids.some((id) => reserved[id]);
    const fraction = used / group.ids.length;
    group.el.setAttribute("fill", used ? `rgba(43, 93, 138, ${0.35 + 0.65 * fraction})` : "#ffffff");
    group.el.setAttribute("stroke", held ? "#f0a830" : "#6b7a86");
    group.el.setAttribute("stroke-width", (held ? 3 : 1) * Number($("#plan-svg").dataset.font) / 14);
    group.el.dataset.occupied = String(used);
    group.el.dataset.reserved = held ? "1" : "0";
    const who = group.ids.flatMap((id) => occupied[id] || []);
    group.el.querySelector("title").textContent = `${group.ids[0]}${group.ids.length > 1 ? ` (+${group.ids.length - 1})` : ""}: ${who.join(", ") || "free"}${held ? " · reserved" : ""}`;
  }
}

// ------------------------------------------------------------------------------------------ panels

function fmtTime(t) { return t ? new Date(t * 1000).toLocaleTimeString() : ""; }

function drawVehicles() {
  const rows = [...snapshot.vehicles.map((v) => [v.id, v.state, v.node, v.order || "", v.battery != null ? `${Math.round(v.battery * 100)} %` : "", v.load || ""]),
    ...snapshot.cranes.map((c) => [c.id, c.state, `${c.store} @ ${c.along.toFixed(1)} m`, "", "", c.load || ""])];
  $("#vehicle-table").replaceChildren(
    h("tr", {}, ["", "state", "where", "order", "battery", "load"].map((t) => h("th", {}, t))),
    ...rows.map((r) => h("tr", { "data-vehicle": r[0] }, h("td", { class: "mono" }, r[0]), h("td", { class: `state-${r[1]}` }, r[1]),
      ...r.slice(2).map((c) => h("td", {}, c)))));
}

function drawOrders() {
  const rows = [
    ...snapshot.orders.map((o) => [o.order, "transport", o.state, o.vehicle || "", (o.destinations || []).map((d) => d.node).join(" → ")]),
    ...snapshot.moves.map((m) => [m.move, m.purpose, m.state, m.carrier || "", `${m.unit}: ${m.source} → ${m.target}`]),
  ];
  $("#order-table").replaceChildren(h("tr", {}, ["order", "kind", "state", "by", "what"].map((t) => h("th", {}, t))),
    ...(rows.length ? rows.slice(0, 60).map((r) => h("tr", {}, r.map((c, i) => h("td", { class: i === 0 ? "mono" : "" }, c))))
      : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "none open"))]));
}

function drawStores() {
  const names = Object.fromEntries(plan.stores.map((s) => [s.id, s.name]));
  $("#stores").replaceChildren(...Object.entries(snapshot.stores).map(([id, f]) => h("div", { style: "margin-bottom:.4rem", "data-store": id },
    h("div", { style: "display:flex;justify-content:space-between;font-size:.85rem" }, h("span", {}, h("b", {}, id), ` ${names[id] || ""}`),
      h("span", {}, `${f.occupied}/${f.places} · ${Math.round(f.fill * 100)} %`)),
    h("div", { class: "fillbar" }, h("div", { style: `width:${Math.min(100, f.fill * 100)}%` })))));
}

function drawAlerts() {
  const active = [...alerts.values()].filter((a) => a.state !== "closed").sort((a, b) => b.id - a.id);
  $("#alert-count").textContent = String(active.length);
  $("#alert-count").className = `tag ${active.some((a) => a.severity === "critical") ? "critical" : active.length ? "warning" : "ok"}`;
  $("#alerts").replaceChildren(...(active.length ? active.map((a) => h("div", { class: `alert ${a.severity}`, id: `alert-${a.id}`, "data-state": a.state },
    h("div", {}, h("b", {}, a.message)),
    h("small", { class: "muted" }, `#${a.id} ${a.rule} · raised ${fmtTime(a.raised_at)}`,
      a.cleared_at ? ` · cleared ${fmtTime(a.cleared_at)}` : " · still holds",
      a.acknowledged_by ? ` · ack ${a.acknowledged_by}` : ""),
    h("div", { class: "actions" },
      h("span", { class: `tag ${a.state}` }, a.state),
      a.state === "open" ? h("button", { class: "ack", onclick: () => decide(a.id, "acknowledge") }, "Acknowledge") : null,
      a.state === "acknowledged" ? h("button", { class: "close secondary", disabled: !a.cleared_at, title: a.cleared_at ? "" : "closable once cleared",
        onclick: () => decide(a.id, "close") }, "Close") : null)))
    : [h("p", { class: "muted" }, "No open alerts.")]));
}

async function decide(id, action) {
  try {
    const updated = await request("POST", `/api/alerts/${id}/${action}`, { note: "" }, { key: newKey() });
    alerts.set(updated.id, updated);
    drawAlerts();
    refreshChart();
  } catch (error) {
    alert(error instanceof ApiError ? error.message : String(error));
  }
}

let chartTimer = null;
function refreshChart() {
  clearTimeout(chartTimer);
  chartTimer = setTimeout(async () => {
    try {
      const counts = await get("/api/alerts/counts?hours=24&buckets=24");
      $("#alert-chart").replaceChildren(alertChart(counts));
    } catch { /* the chart waits for the next change */ }
  }, 300);
}

// ------------------------------------------------------------------------------------------ updates

async function loadSnapshot() {
  snapshot = await get("/api/terminal/yard");
  for (const v of snapshot.vehicles) placeVehicle(v);
  for (const c of snapshot.cranes) placeCrane(c);
  shade(snapshot.occupied, snapshot.reserved);
  alerts.clear();
  for (const a of snapshot.alerts) alerts.set(a.id, a);
  drawVehicles();
  drawOrders();
  drawStores();
  drawAlerts();
  refreshChart();
  document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
}

let snapTimer = null;
function soon() {
  clearTimeout(snapTimer);
  snapTimer = setTimeout(() => loadSnapshot().catch(() => {}), 250);
}

const nodeAt = () => Object.fromEntries(plan.nodes.map((n) => [n.id, n]));
let nodes = null;

function onEvent(event) {
  document.body.dataset.events = String(Number(document.body.dataset.events || 0) + 1);
  if (event.type === "vehicle" && snapshot) {
    const v = snapshot.vehicles.find((q) => q.id === event.vehicle);
    if (!v) return;
    nodes = nodes || nodeAt();
    if (event.x != null && event.y != null) { v.x = event.x; v.y = event.y; }
    else if (event.node && nodes[event.node]) { v.x = nodes[event.node].x; v.y = nodes[event.node].y; v.node = event.node; }
    for (const k of ["state", "load", "heading", "error"]) if (k in event) v[k] = event[k];
    if (event.node) v.node = event.node;
    if (event.energy_kwh != null && v.battery != null && v.energy_kwh) v.battery = (v.battery * event.energy_kwh) / v.energy_kwh;
    if (event.energy_kwh != null) v.energy_kwh = event.energy_kwh;
    placeVehicle(v);
    drawVehicles();
  } else if (event.type === "crane") {
    soon(); // the crane's plant coordinates come from its runway: the snapshot has them
  } else if (event.type === "alert" && event.alert) {
    alerts.set(event.alert.id, event.alert);
    drawAlerts();
    refreshChart();
  } else if (event.type === "ledger" || event.type === "fleet") {
    soon();
  }
}

function tick() { $("#clock").textContent = new Date().toLocaleTimeString(); }

async function start() {
  plan = await get("/api/terminal/plan");
  $("#title").textContent = `coilyard · ${plan.name} · live`;
  drawPlan();
  await loadSnapshot();
  follow({
    onEvent,
    onOpen: () => loadSnapshot().catch(() => {}),
    onState: (state) => {
      const pill = $("#stream");
      pill.textContent = state;
      pill.className = `pill ${state === "live" ? "online" : "offline"}`;
      document.body.dataset.stream = state;
    },
  });
  setInterval(() => loadSnapshot().catch(() => {}), 15000);
  setInterval(tick, 1000);
  tick();
}

function askLogin() {
  const form = h("form", { class: "card" }, h("h2", {}, "Log in to the live view"),
    h("label", { for: "user" }, "User"), h("input", { id: "user", autocomplete: "username" }),
    h("label", { for: "password" }, "Password"), h("input", { id: "password", type: "password", autocomplete: "current-password" }),
    h("button", { class: "big", type: "submit" }, "Log in"), h("p", { class: "muted", id: "login-error" }));
  const overlay = h("div", { class: "login-overlay" }, form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await login(form.querySelector("#user").value.trim(), form.querySelector("#password").value);
      overlay.remove();
      start();
    } catch (error) {
      form.querySelector("#login-error").textContent = error.message;
    }
  });
  document.body.append(overlay);
}

if (session()) start().catch((error) => { if (error instanceof ApiError && error.status === 401) askLogin(); else console.error(error); });
else askLogin();
