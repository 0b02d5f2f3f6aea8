// Alert counts over time as an inline SVG: raised per bucket stacked by severity, not-yet-closed as a line.
const NS = "http://www.w3.org/2000/svg";
const COLOURS = { critical: "#dc2626", warning: "#d69e2e", info: "#2b6cb0" };

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function alertChart(counts, { width = 360, height = 120 } = {}) {
  const n = counts.unclosed.length;
  const raised = Array.from({ length: n }, (_, i) => Object.values(counts.raised).reduce((s, a) => s + a[i], 0));
  const top = Math.max(1, ...raised, ...counts.unclosed);
  const left = 22, bottom = 18, plotW = width - left - 4, plotH = height - bottom - 6;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", id: "alert-chart-svg",
    "aria-label": `alerts raised per ${Math.round(counts.bucket_s / 60)} min` });
  svg.append(el("line", { x1: left, y1: 6 + plotH, x2: width - 4, y2: 6 + plotH, stroke: "#9aa5ae" }));
  svg.append(el("text", { x: left - 4, y: 12, "font-size": 9, "text-anchor": "end", fill: "#5b6873" }, String(top)));
  svg.append(el("text", { x: left - 4, y: 6 + plotH, "font-size": 9, "text-anchor": "end", fill: "#5b6873" }, "0"));
  const bw = plotW / n;
  for (let i = 0; i < n; i++) {
    let y = 6 + plotH;
    for (const severity of ["info", "warning", "critical"]) {
      const v = counts.raised[severity]?.[i] || 0;
      if (!v) continue;
      const hgt = (v / top) * plotH;
      y -= hgt;
      svg.append(el("rect", { x: left + i * bw + 1, y, width: Math.max(1, bw - 2), height: hgt, fill: COLOURS[severity],
        "data-bucket": i, "data-severity": severity, "data-count": v }));
    }
  }
  const points = counts.unclosed.map((v, i) => `${left + (i + 0.5) * bw},${6 + plotH - (v / top) * plotH}`).join(" ");
  svg.append(el("polyline", { points, fill: "none", stroke: "#17212b", "stroke-width": 1.5, "stroke-dasharray": "3 2" }));
  const hours = (counts.bucket_s * n) / 3600;
  svg.append(el("text", { x: left, y: height - 4, "font-size": 9, fill: "#5b6873" }, `-${hours >= 1 ? `${+hours.toFixed(1)} h` : `${Math.round(hours * 60)} min`}`));
  svg.append(el("text", { x: width - 4, y: height - 4, "font-size": 9, "text-anchor": "end", fill: "#5b6873" }, "now · bars: raised · dashed: not closed"));
  return svg;
}
