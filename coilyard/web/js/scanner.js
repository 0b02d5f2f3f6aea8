// Keyboard-wedge barcode and RFID readers type the code as keystrokes, much faster than a person, and end
// with Enter (some with Tab). This module watches keydown on the whole page: printable keys that arrive with a mean gap of
// at most `maxGapMs` and end with Enter form one scan, handed to `onScan(code, "scanner")`. A pause longer
// than `resetMs` starts a new buffer, so a person typing is never taken for a scanner. Keys a scan typed into
// an ordinary input are taken back out of it; inputs marked `data-scan` are the manual-entry fallback: typing
// there and pressing Enter (or the OK button) gives `onScan(code, "manual")`.
const DEFAULTS = { maxGapMs: 50, resetMs: 200, minLength: 2 };

export function installScanner(onScan, options = {}) {
  const stored = Number(localStorage.getItem("coilyard.scanGapMs"));
  const cfg = { ...DEFAULTS, ...(stored > 0 ? { maxGapMs: stored } : {}), ...options };
  let buffer = [];
  let times = [];
  let field = null; // the ordinary input the burst is landing in, with its value before the burst
  let before = "";

  function reset() { buffer = []; times = []; field = null; }

  function looksLikeScan(now) {
    if (buffer.length < cfg.minLength) return false;
    if (now - times[times.length - 1] > cfg.resetMs) return false;
    const mean = (times[times.length - 1] - times[0]) / Math.max(1, times.length - 1);
    return mean <= cfg.maxGapMs;
  }

  window.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    const now = performance.now();
    const target = event.target;
    if (event.key === "Enter" || (event.key === "Tab" && looksLikeScan(now))) { // some scanners end with Tab
      if (looksLikeScan(now)) {
        event.preventDefault();
        event.stopPropagation();
        const code = buffer.join("").trim();
        if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) {
          target.value = target.dataset.scan !== undefined ? "" : before;
        }
        reset();
        if (code) onScan(code, "scanner");
        return;
      }
      reset();
      return;
    }
    if (event.key.length !== 1) return; // Shift, Tab, arrows...
    if (times.length && now - times[times.length - 1] > cfg.resetMs) reset();
    if (!buffer.length) {
      field = target;
      before = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ? target.value : "";
    }
    buffer.push(event.key);
    times.push(now);
  }, true);

  // Manual entry: Enter in a data-scan input, or its form's OK button.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const input = form.querySelector("input[data-scan]");
    if (!input) return;
    event.preventDefault();
    const code = input.value.trim();
    input.value = "";
    if (code) onScan(code, "manual");
  });
  return cfg;
}
