// The service seen from a page: the bearer token in localStorage, JSON requests, refusals as ApiError.
const TOKEN = "coilyard.session";

export class ApiError extends Error {
  // status 0: the network (no answer at all); 4xx/5xx: the service's refusal {"error", "detail", "field"}.
  constructor(status, body) {
    super(body?.detail || body?.error || (status ? `HTTP ${status}` : "no network"));
    this.status = status;
    this.body = body || {};
  }
  get offline() { return this.status === 0; }
  get retryable() { return this.status === 0 || this.status >= 500 || this.status === 429; }
}

export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(TOKEN) || "null");
    if (s && s.expires_at * 1000 > Date.now()) return s;
  } catch { /* a damaged entry is no session */ }
  return null;
}

export function forget() { localStorage.removeItem(TOKEN); }

export async function login(username, password) {
  const reply = await request("POST", "/api/auth/token", { username, password }, { auth: false });
  localStorage.setItem(TOKEN, JSON.stringify(reply));
  return reply;
}

// A fresh idempotency key: random, URL-safe, within the service's pattern (works without a secure context).
export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return "t-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function request(method, path, body, { key, auth = true, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const s = session();
    if (!s) throw new ApiError(401, { error: "unauthorised", detail: "log in first" });
    headers.Authorization = `Bearer ${s.access_token}`;
  }
  if (key) headers["Idempotency-Key"] = key;
  let reply;
  try {
    reply = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError(0, { error: "network", detail: "no network: the service did not answer" });
  }
  const text = await reply.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 200) }; }
  if (!reply.ok) throw new ApiError(reply.status, data);
  return data;
}

export const get = (path, opts) => request("GET", path, undefined, opts);

// Path segments are IDs from scans: encode them so a stray character cannot change the route.
export const seg = (id) => encodeURIComponent(id);
