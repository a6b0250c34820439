// The development CSMS's page (src/ocpp_station/sim/csms_page.py): stations, live trace, send form.
// Live from GET /api/events (Server-Sent Events): "snapshot" first (on every (re)connection), then
// "frame" and "station". Everything from the wire is shown with textContent, never parsed as HTML.

const MAX_ROWS = 2000; // trace rows kept in the page; older ones are dropped
const $ = (id) => document.getElementById(id);

/** An element with text content and classes; children appended (strings become text nodes). */
function el(tag, { text, cls, title } = {}, ...children) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  if (title) node.title = title;
  node.append(...children);
  return node;
}

function clock(epochS) {
  const d = new Date(epochS * 1000);
  const hms = d.toLocaleTimeString("en-GB", { hour12: false });
  return `${hms}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

function isoClock(text) {
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? String(text) : clock(d.getTime() / 1000);
}

const pretty = (value) => JSON.stringify(value, null, 2);

// --- stations ---

const stations = new Map(); // id -> station JSON (GET /api/stations/{id})
const stationRows = new Map(); // id -> <tr>

function connectorCell(station) {
  const cell = el("td");
  for (const [id, status] of Object.entries(station.statuses || {})) {
    const code = (station.errorCodes || {})[id];
    const fault = code && code !== "NoError";
    const text = fault ? `${id}: ${status} (${code})` : `${id}: ${status}`;
    cell.append(el("span", { text, cls: fault ? "conn fault" : "conn" }));
  }
  return cell;
}

function bootText(station) {
  const boot = station.boot;
  if (!boot) return "";
  const name = [boot.chargePointVendor, boot.chargePointModel].filter(Boolean).join(" ");
  return station.bootStatus ? `${name} · ${station.bootStatus}` : name;
}

function stationRow(station) {
  const row = el(
    "tr",
    { cls: station.connected ? "connected" : "disconnected" },
    el("td", { text: station.id, cls: "station-id" }),
    el("td", {
      text: station.connected ? "connected" : "disconnected",
      cls: station.connected ? "state-on" : "",
    }),
    el("td", { text: station.connectedSince ? clock(station.connectedSince) : "" }),
    el("td", { text: bootText(station) }),
    el("td", { text: station.lastHeartbeat ? isoClock(station.lastHeartbeat) : "" }),
    connectorCell(station),
  );
  row.dataset.station = station.id;
  row.addEventListener("click", () => selectStation(station.id));
  return row;
}

const sendOptions = new Map(); // id -> <option> of the send form's station list
const filterOptions = new Map(); // id -> <option> of the trace's station filter

function showStation(station) {
  const known = stations.get(station.id);
  stations.set(station.id, station);
  const row = stationRow(station);
  const old = stationRows.get(station.id);
  if (old) old.replaceWith(row);
  else $("stations").tBodies[0].append(row);
  stationRows.set(station.id, row);
  $("no-stations").hidden = true;
  // The station lists: one option per station, changed only when it is new or (dis)connects, so a
  // fleet connecting costs one option each, not a rebuild of every list.
  const label = station.connected ? station.id : `${station.id} (disconnected)`;
  if (!known) {
    const send = new Option(label, station.id);
    sendOptions.set(station.id, send);
    $("send-station").append(send);
    const filter = new Option(station.id, station.id);
    filterOptions.set(station.id, filter);
    $("filter-station").append(filter);
  } else if (known.connected !== station.connected) {
    sendOptions.get(station.id).textContent = label;
  }
  const select = $("send-station");
  if (station.connected && !stations.get(select.value)?.connected) select.value = station.id;
}

function forgetStations() {
  stations.clear();
  stationRows.clear();
  sendOptions.clear();
  filterOptions.clear();
  $("stations").tBodies[0].replaceChildren();
  $("send-station").replaceChildren();
  const filter = $("filter-station");
  const chosen = filter.value;
  filter.replaceChildren(new Option("all", ""));
  return chosen;
}

function selectStation(id) {
  $("send-station").value = id;
  $("filter-station").value = id;
  applyFilters();
}

// --- trace ---

const rowEntries = new WeakMap(); // <tr> -> log entry
const calls = new Map(); // pair key -> { row, entry } of a CALL
const traceRows = []; // frame rows, oldest first
const seenActions = new Set();

/** The key of an exchange: the station, who sent the CALL, the message id (OCPP-J 1.6 §4.1.1). */
function pairKey(entry) {
  const callDirection =
    entry.kind === "CALL" ? entry.direction : entry.direction === "in" ? "out" : "in";
  return `${entry.charge_point_id}\u0000${callDirection}\u0000${entry.message_id}`;
}

function pairLink(text, target, title) {
  const link = el("span", { text, cls: "pair", title });
  link.addEventListener("click", (event) => {
    event.stopPropagation();
    target.scrollIntoView({ block: "center" });
    for (const row of document.querySelectorAll("#trace tr.highlight")) {
      row.classList.remove("highlight");
    }
    target.classList.add("highlight");
  });
  return link;
}

function addAction(action) {
  if (!action || seenActions.has(action)) return;
  seenActions.add(action);
  const select = $("filter-action");
  const chosen = select.value;
  const names = [...seenActions].sort();
  select.replaceChildren(new Option("all", ""), ...names.map((name) => new Option(name, name)));
  select.value = chosen;
}

function toggleDetail(row) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains("detail")) {
    next.remove();
    return;
  }
  const entry = rowEntries.get(row);
  const head = `${entry.kind} ${entry.action || "?"}  message id ${entry.message_id}`;
  const cell = el("td", {}, el("div", { text: head, cls: "muted" }), el("pre", { text: pretty(entry.payload) }));
  cell.colSpan = 7;
  const detail = el("tr", { cls: "detail" }, cell);
  detail.hidden = row.hidden;
  row.after(detail);
}

function frameRow(entry) {
  const route = entry.direction === "in" ? "→ CSMS" : "→ station";
  const pairCell = el("td");
  const row = el(
    "tr",
    { cls: `frame ${entry.kind}` },
    el("td", { text: clock(entry.time) }),
    el("td", { text: entry.charge_point_id }),
    el("td", { text: route, title: entry.direction === "in" ? "station to CSMS" : "CSMS to station" }),
    el("td", { text: entry.kind }),
    el("td", { text: entry.action || "?" }),
    pairCell,
    el("td", { text: JSON.stringify(entry.payload), cls: "payload" }),
  );
  row.dataset.index = String(entry.index);
  rowEntries.set(row, entry);
  row.addEventListener("click", () => toggleDetail(row));
  const key = pairKey(entry);
  if (entry.kind === "CALL") {
    calls.set(key, { row, entry });
  } else {
    const call = calls.get(key);
    if (call) {
      calls.delete(key);
      const ms = Math.round((entry.time - call.entry.time) * 1000);
      pairCell.append(pairLink(`↩ ${ms} ms`, call.row, "the CALL this answers"));
      call.row.cells[5].replaceChildren(pairLink(`${entry.kind} ${ms} ms`, row, "its answer"));
    }
  }
  return row;
}

function matches(entry) {
  const station = $("filter-station").value;
  const action = $("filter-action").value;
  const direction = $("filter-direction").value;
  return (
    (!station || entry.charge_point_id === station) &&
    (!action || entry.action === action) &&
    (!direction || entry.direction === direction) &&
    (!$("filter-errors").checked || entry.kind === "CALLERROR")
  );
}

function applyFilters() {
  for (const row of traceRows) {
    row.hidden = !matches(rowEntries.get(row));
    const next = row.nextElementSibling;
    if (next && next.classList.contains("detail")) next.hidden = row.hidden;
  }
}

function addFrame(entry) {
  addAction(entry.action);
  const row = frameRow(entry);
  row.hidden = !matches(entry);
  $("trace").tBodies[0].prepend(row); // newest first
  traceRows.push(row);
  while (traceRows.length > MAX_ROWS) {
    const old = traceRows.shift();
    const oldEntry = rowEntries.get(old);
    if (oldEntry.kind === "CALL") calls.delete(pairKey(oldEntry));
    const next = old.nextElementSibling;
    if (next && next.classList.contains("detail")) next.remove();
    old.remove();
  }
}

function clearTrace() {
  $("trace").tBodies[0].replaceChildren();
  traceRows.length = 0;
  calls.clear();
}

// --- live updates ---

function applySnapshot(snapshot) {
  const sendTo = $("send-station").value;
  const filtered = forgetStations();
  for (const station of snapshot.stations) showStation(station);
  $("no-stations").hidden = stations.size > 0;
  if (stations.has(sendTo)) $("send-station").value = sendTo;
  $("filter-station").value = stations.has(filtered) ? filtered : "";
  clearTrace();
  for (const entry of snapshot.log) addFrame(entry);
}

function follow() {
  const live = $("live");
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => {
    live.dataset.state = "live";
    live.textContent = "live";
  });
  source.addEventListener("error", () => {
    live.dataset.state = "connecting";
    live.textContent = "reconnecting";
  });
  source.addEventListener("snapshot", (event) => applySnapshot(JSON.parse(event.data)));
  source.addEventListener("frame", (event) => addFrame(JSON.parse(event.data)));
  source.addEventListener("station", (event) => showStation(JSON.parse(event.data)));
}

// --- sending ---

let examples = {};

function showAnswer(kind, title, body) {
  const box = $("answer");
  box.hidden = false;
  box.className = kind === "error" ? "answer error" : "answer";
  box.dataset.kind = kind;
  $("answer-title").textContent = title;
  $("answer-body").textContent = body;
}

function fillExample() {
  const action = $("send-action").value;
  $("payload").value = action in examples ? pretty(examples[action]) : "{}";
}

async function loadExamples() {
  const response = await fetch("/api/examples");
  examples = await response.json();
  const select = $("send-action");
  select.replaceChildren(...Object.keys(examples).map((action) => new Option(action, action)));
  select.value = "TriggerMessage" in examples ? "TriggerMessage" : select.options[0].value;
  fillExample();
}

async function send(event) {
  event.preventDefault();
  const station = $("send-station").value;
  const action = $("send-action").value;
  if (!station) {
    showAnswer("error", "No station", "no station has connected yet");
    return;
  }
  let payload;
  try {
    payload = JSON.parse($("payload").value);
  } catch (error) {
    showAnswer("error", "Invalid JSON", `the payload is not valid JSON: ${error.message}`);
    return;
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    showAnswer("error", "Invalid payload", "the payload must be a JSON object {...}");
    return;
  }
  const button = $("send-button");
  button.disabled = true;
  showAnswer("pending", `Sending ${action} to ${station}…`, "");
  try {
    const response = await fetch(`/api/stations/${encodeURIComponent(station)}/call`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action, payload }),
    });
    const body = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) {
      const code = body.code ? ` (${body.code})` : "";
      showAnswer("error", `Refused: HTTP ${response.status}${code}`, String(body.error));
    } else if ("result" in body) {
      showAnswer("ok", `CALLRESULT ${action}`, pretty(body.result));
    } else {
      const error = body.error || {};
      showAnswer("error", `CALLERROR ${error.code}`, pretty(error));
    }
  } catch (error) {
    showAnswer("error", "Request failed", String(error));
  } finally {
    button.disabled = false;
  }
}

// --- wiring ---

$("send").addEventListener("submit", send);
$("send-action").addEventListener("change", fillExample);
$("reset-example").addEventListener("click", fillExample);
for (const id of ["filter-station", "filter-action", "filter-direction", "filter-errors"]) {
  $(id).addEventListener("change", applyFilters);
}
$("clear-trace").addEventListener("click", clearTrace);
follow();
loadExamples().catch((error) => showAnswer("error", "Could not load the examples", String(error)));
