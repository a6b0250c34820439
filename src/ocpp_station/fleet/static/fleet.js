// The fleet overview (ocpp_station/fleet/dashboard.py): the aggregate arrives over Server-Sent Events
// once a second (GET events); the station table is fetched from GET stations when the user changes a
// filter or a page. Text from the network is only ever set with textContent.

const HISTORY = 120; // points of the CALLs/s chart: two minutes at one a second
const rateHistory = [];
const $ = (id) => document.getElementById(id);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function ms(value) {
  return value === null || value === undefined ? "-" : value.toFixed(1);
}

function codes(byCode) {
  const parts = Object.entries(byCode).map(([code, n]) => `${code} ${n}`);
  return parts.length ? parts.join(", ") : "0";
}

function setNumber(id, value, alertWhenPositive = false) {
  const element = $(id);
  element.textContent = String(value);
  if (alertWhenPositive) element.closest(".card").classList.toggle("alert", value > 0);
}

function renderGauges(s) {
  const g = s.gauges;
  for (const name of ["stations", "connected", "booted", "charging", "queue"]) setNumber(name, g[name]);
  setNumber("faulted", g.faulted, true);
  setNumber("count", s.count);
  setNumber("connects", s.connects);
  setNumber("reconnects", s.reconnects, true);
  setNumber("callErrors", s.totals.callErrors, true);
  setNumber("timeouts", s.totals.timeouts, true);
  setNumber("lost", s.totals.lost, true);
  $("rate").textContent = s.rates.total.toFixed(1);
  $("elapsed").textContent = `${s.elapsedSeconds.toFixed(0)} s`;
  $("processes").textContent = s.processes > 1 ? `${s.processes} processes` : "one process";
}

function renderStatuses(statuses) {
  const box = $("statuses");
  box.replaceChildren();
  for (const [status, n] of Object.entries(statuses)) {
    const card = document.createElement("div");
    card.className = "card";
    card.dataset.status = status;
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = status;
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = String(n);
    card.append(label, value);
    if (status === "Faulted" || status === "Unavailable") card.classList.add("alert");
    box.append(card);
  }
}

function actionRow(name, rate, f, errors) {
  const tr = document.createElement("tr");
  tr.dataset.action = name;
  tr.append(
    cell(name),
    cell(rate.toFixed(1), "num"),
    cell(String(f.sent), "num"),
    cell(String(f.answered), "num"),
    cell(errors, errors !== "0" ? "alert" : ""),
    cell(String(f.timeouts), f.timeouts ? "num alert" : "num"),
    cell(String(f.lost), "num"),
    cell(ms(f.p50Ms), "num"),
    cell(ms(f.p95Ms), "num"),
    cell(ms(f.p99Ms), "num"),
  );
  return tr;
}

function renderActions(s) {
  const rows = Object.entries(s.actions).map(([name, f]) =>
    actionRow(name, s.rates.actions[name] ?? 0, f, codes(f.callErrors)),
  );
  document.querySelector("#actions tbody").replaceChildren(...rows);
  const total = actionRow("all", s.rates.total, s.totals, String(s.totals.callErrors));
  document.querySelector("#actions tfoot").replaceChildren(total);
  const received = Object.entries(s.received).map(([name, r]) => {
    const tr = document.createElement("tr");
    tr.dataset.action = name;
    const refused = Object.keys(r.callErrors).length ? codes(r.callErrors) : "";
    tr.append(cell(name), cell(String(r.count), "num"), cell(refused, refused ? "alert" : ""));
    return tr;
  });
  if (!received.length) {
    const tr = document.createElement("tr");
    const none = cell("none yet", "hint");
    none.colSpan = 3;
    tr.append(none);
    received.push(tr);
  }
  document.querySelector("#received tbody").replaceChildren(...received);
}

const SVG = "http://www.w3.org/2000/svg";

function renderChart(rate) {
  rateHistory.push(rate);
  if (rateHistory.length > HISTORY) rateHistory.shift();
  const top = Math.max(1, ...rateHistory) * 1.1;
  const svg = $("rate-chart");
  const width = 600;
  const height = 120;
  const grid = [0.25, 0.5, 0.75].map((share) => {
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("class", "grid");
    line.setAttribute("x1", "0");
    line.setAttribute("x2", String(width));
    line.setAttribute("y1", String(height * share));
    line.setAttribute("y2", String(height * share));
    return line;
  });
  const step = width / (HISTORY - 1);
  const offset = HISTORY - rateHistory.length;
  const points = rateHistory
    .map((value, i) => `${((offset + i) * step).toFixed(1)},${(height - (value / top) * height).toFixed(1)}`)
    .join(" ");
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("class", "line");
  line.setAttribute("points", points);
  svg.replaceChildren(...grid, line);
  $("rate-max").textContent = top.toFixed(1);
}

function render(s) {
  renderGauges(s);
  renderStatuses(s.statuses || {});
  renderActions(s);
  renderChart(s.rates.total);
}

function listen() {
  const badge = $("live");
  const source = new EventSource("events");
  source.addEventListener("fleet", (event) => render(JSON.parse(event.data)));
  source.onopen = () => {
    badge.textContent = "live";
    badge.className = "badge on";
  };
  source.onerror = () => {
    // EventSource reconnects by itself (the server asks for 2 s)
    badge.textContent = "reconnecting";
    badge.className = "badge off";
  };
}

// -- the station table ---------------------------------------------------------------------------------

let offset = 0;
let loading = null;

function query() {
  const params = new URLSearchParams();
  const match = $("filter-match").value.trim();
  if (match) params.set("match", match);
  for (const name of ["status", "connected", "booted", "sort"]) {
    const value = $(`filter-${name}`).value;
    if (value) params.set(name, value);
  }
  params.set("limit", $("filter-limit").value);
  params.set("offset", String(offset));
  return params;
}

function stationRow(s) {
  const tr = document.createElement("tr");
  tr.dataset.station = s.id;
  const link = document.createElement("a");
  link.href = `stations/${encodeURIComponent(s.id)}/`;
  link.textContent = s.id;
  link.dataset.station = s.id;
  const idCell = document.createElement("td");
  idCell.append(link);
  const connectors = document.createElement("td");
  s.connectors.forEach((status, i) => {
    const badge = document.createElement("span");
    badge.className = `status ${status}`;
    badge.textContent = `${i + 1}: ${status}`;
    connectors.append(badge);
  });
  tr.append(
    idCell,
    cell(s.template),
    cell(s.connected ? "yes" : "no", s.connected ? "" : "no"),
    cell(s.registration ?? "-", s.booted ? "" : "no"),
    connectors,
    cell(String(s.queue), "num"),
    cell(String(s.reconnects ?? 0), s.reconnects ? "num alert" : "num"),
  );
  return tr;
}

async function loadStations() {
  const params = query();
  const mine = (loading = params.toString());
  const error = $("stations-error");
  let answer;
  try {
    const response = await fetch(`stations?${params}`);
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
  } catch (exc) {
    if (mine === loading) error.textContent = `could not load the stations: ${exc.message}`;
    return;
  }
  if (mine !== loading) return; // a newer request is on its way
  error.textContent = "";
  const rows = answer.stations.map(stationRow);
  document.querySelector("#stations tbody").replaceChildren(...rows);
  $("stations-total").textContent = String(answer.total);
  $("range").textContent = rows.length ? `${answer.offset + 1}-${answer.offset + rows.length}` : "0";
  $("previous").disabled = answer.offset === 0;
  $("next").disabled = answer.offset + rows.length >= answer.total;
}

function setUp() {
  const restart = () => {
    offset = 0;
    loadStations();
  };
  for (const name of ["status", "connected", "booted", "sort", "limit"]) {
    $(`filter-${name}`).addEventListener("change", restart);
  }
  $("filter-match").addEventListener("input", restart);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    restart();
  });
  $("reload").addEventListener("click", () => loadStations());
  $("previous").addEventListener("click", () => {
    offset = Math.max(0, offset - Number($("filter-limit").value));
    loadStations();
  });
  $("next").addEventListener("click", () => {
    offset += Number($("filter-limit").value);
    loadStations();
  });
  listen();
  loadStations();
}

setUp();
