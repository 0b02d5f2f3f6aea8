// The outbox: every change a terminal makes is first written here (localStorage, survives reloads and
// restarts of the device), then sent. An entry is a list of steps (method, path, body) each with its own
// idempotency key chosen when the entry is made; `done` counts the steps the service confirmed. Replaying
// sends the remaining steps in order with the same keys, so a step whose reply was lost is applied once:
// the service answers a repeated key with the stored first reply. Replay runs on the `online` event, on a
// timer, and right after an entry is added; it stops at the first step without an answer (network down or
// a 5xx) and keeps everything after it, so actions are applied in the order they were made.
import { ApiError, newKey, request, session } from "./api.js";

const STORE = "coilyard.outbox";
const FAILED = "coilyard.outbox.failed";
const listeners = new Set();
let running = null;

function read(name) {
  try { return JSON.parse(localStorage.getItem(name) || "[]"); } catch { return []; }
}
function write(name, items) { localStorage.setItem(name, JSON.stringify(items)); }

export function pending() { return read(STORE); }
export function failed() { return read(FAILED); }
export function clearFailed() { write(FAILED, []); notify({ type: "changed" }); }

export function onChange(listener) { listeners.add(listener); return () => listeners.delete(listener); }
function notify(event) { for (const l of listeners) { try { l(event); } catch (e) { console.error(e); } } }

// Queue an action made of `steps` [{method, path, body}]; `label` is what the person did, in words.
export function add(label, steps) {
  const s = session();
  const entry = {
    id: newKey(), label, user: s?.user || "", created: Date.now(), done: 0, attempts: 0, lastError: null,
    steps: steps.map((step) => ({ ...step, key: newKey() })),
  };
  const items = pending();
  items.push(entry);
  write(STORE, items);
  notify({ type: "changed" });
  return entry;
}

function update(entry) {
  write(STORE, pending().map((e) => (e.id === entry.id ? entry : e)));
}
function remove(id) { write(STORE, pending().filter((e) => e.id !== id)); }

// Send what is pending, oldest first. Resolves when done or stopped; one replay at a time per page, and
// across tabs of one browser through the Web Locks API where there is one.
export function replay() {
  if (running) return running;
  const work = () => drain();
  running = (navigator.locks ? navigator.locks.request("coilyard-outbox", work) : work())
    .finally(() => { running = null; notify({ type: "changed" }); });
  return running;
}

async function drain() {
  const me = session();
  if (!me) return;
  for (;;) {
    const entry = pending().find((e) => e.user === me.user);
    if (!entry) return;
    let result = null;
    try {
      while (entry.done < entry.steps.length) {
        const step = entry.steps[entry.done];
        entry.attempts += 1;
        result = await request(step.method, step.path, step.body, { key: step.key });
        entry.done += 1;
        entry.lastError = null;
        update(entry);
      }
      remove(entry.id);
      notify({ type: "applied", entry, result });
    } catch (error) {
      const problem = error instanceof ApiError ? error : new ApiError(0, { detail: String(error) });
      entry.lastError = problem.message;
      if (problem.retryable || problem.status === 401) {
        update(entry);
        notify({ type: "waiting", entry, error: problem });
        return; // keep it (and everything after it) for the next replay
      }
      remove(entry.id);
      write(FAILED, [...failed(), { ...entry, failedAt: Date.now(), status: problem.status, error: problem.body }]);
      notify({ type: "refused", entry, error: problem });
    }
  }
}

let timer = null;
export function start(everyMs = 5000) {
  window.addEventListener("online", () => replay());
  if (!timer) timer = setInterval(() => { if (pending().length) replay(); }, everyMs);
  replay();
}
