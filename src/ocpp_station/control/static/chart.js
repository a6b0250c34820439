// A small live chart in SVG: a connector's power (W), the limit in force (W, dashed, a gap while none
// applies) and the energy register (Wh, on its own scale) over the last few minutes. No library.

const NS = "http://www.w3.org/2000/svg";
const W = 600, H = 180, LEFT = 48, RIGHT = 52, TOP = 10, BOTTOM = 22;

function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function niceMax(value) {
  if (value <= 0) return 1000;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function kilo(value, unit) {
  return value >= 1000 ? `${+(value / 1000).toFixed(1)} k${unit}` : `${+value.toFixed(value < 10 ? 2 : 0)} ${unit}`;
}

export class PowerChart {
  constructor(parent, windowS = 300) {
    this.windowMs = windowS * 1000;
    this.points = [];  // {t, power, limit, energy}
    this.svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" }, parent);
    this.grid = el("g", { class: "grid" }, this.svg);
    this.energy = el("path", { class: "energy", d: "" }, this.svg);
    this.limit = el("path", { class: "limit", d: "" }, this.svg);
    this.power = el("path", { class: "power", d: "" }, this.svg);
    const legend = el("text", { x: LEFT + 4, y: TOP + 10, class: "legend" }, this.svg);
    for (const [cls, label] of [["power", "power "], ["limit", "limit "], ["energy", "energy"]]) {
      el("tspan", { class: cls }, legend).textContent = label;
    }
  }

  push(time, powerW, limitW, energyWh) {
    this.points.push({ t: time, power: powerW, limit: limitW, energy: energyWh });
    const oldest = time - this.windowMs;
    while (this.points.length > 2 && this.points[0].t < oldest) this.points.shift();
    this.render();
  }

  render() {
    const pts = this.points;
    if (!pts.length) return;
    // The time axis grows with the history, from one minute up to the window.
    const t1 = pts[pts.length - 1].t;
    const span = Math.min(this.windowMs, Math.max(60000, t1 - pts[0].t)), t0 = t1 - span;
    const top = niceMax(Math.max(...pts.map((p) => Math.max(p.power, p.limit ?? 0))));
    const eMin = Math.min(...pts.map((p) => p.energy));
    const eSpan = niceMax(Math.max(...pts.map((p) => p.energy)) - eMin || 1);
    const x = (t) => LEFT + ((t - t0) / span) * (W - LEFT - RIGHT);
    const y = (v, max) => TOP + (1 - v / max) * (H - TOP - BOTTOM);
    const line = (key, max, base = 0, step = false) => {
      let d = "", pen = "M", prev = null;
      for (const p of pts) {
        if (p[key] === null || p[key] === undefined) { pen = "M"; prev = null; continue; }
        const px = x(p.t).toFixed(1), py = y(p[key] - base, max).toFixed(1);
        if (step && prev !== null) d += `L${px} ${prev}`;
        d += `${pen}${px} ${py}`;
        pen = "L"; prev = py;
      }
      return d;
    };
    this.power.setAttribute("d", line("power", top));
    this.limit.setAttribute("d", line("limit", top, 0, true));
    this.energy.setAttribute("d", line("energy", eSpan, eMin));
    const last = pts[pts.length - 1];
    this.power.dataset.points = String(pts.length);
    this.power.dataset.last = String(last.power);
    this.limit.dataset.last = last.limit === null ? "" : String(last.limit);
    this.grid.replaceChildren();
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4, gy = y(v, top);
      el("line", { x1: LEFT, x2: W - RIGHT, y1: gy, y2: gy }, this.grid);
      el("text", { x: LEFT - 4, y: gy + 4, "text-anchor": "end" }, this.grid).textContent = kilo(v, "W");
      el("text", { x: W - RIGHT + 4, y: gy + 4, class: "energy" }, this.grid).textContent =
        kilo(eMin + (eSpan * i) / 4, "Wh");
    }
    const tick = span <= 120000 ? 15 : 60;
    for (let s = 0; s <= span / 1000; s += tick) {
      const label = s === 0 ? "now" : s % 60 ? `-${s} s` : `-${s / 60} min`;
      el("text", { x: x(t1 - s * 1000), y: H - 6, "text-anchor": "middle" }, this.grid).textContent = label;
    }
  }
}
