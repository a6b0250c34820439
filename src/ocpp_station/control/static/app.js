// The station's dashboard: live over Server-Sent Events (`events`), actions through the control API.
// Every URL is relative: the same page serves a station alone and one of a fleet's. Text from the
// network only ever goes into the page through textContent.
import { PowerChart } from "./chart.js";

const $ = (selector, root = document) => root.querySelector(selector);
let errorCodes = [];
const cards = new Map();  // connector id -> {root, fields, chart}
const trace = { size: 500, rows: [], bySeq: new Map(), actions: new Set(), connectors: new Set() };

function make(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// One of a fleet's stations (served under /stations/{id}/): a way back to the fleet's overview.
if (/\/stations\/[^/]+\/$/.test(location.pathname)) $("#fleet-link").hidden = false;

function say(text, bad = false) {
  const box = $("#message");
  box.textContent = text;
  box.className = bad ? "bad" : "";
}

async function send(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  try {
    const response = await fetch(path, options);
    const data = await response.json();
    if (!response.ok) say(`${method} ${path}: ${data.error}`, true);
    else say("");
    return data;
  } catch (exc) {
    say(`${method} ${path}: ${exc}`, true);
    return null;
  }
}

// -- connectors ---------------------------------------------------------------------------------
function button(label, onClick, cls = "") {
  const b = make("button", { type: "button", class: cls }, label);
  b.addEventListener("click", onClick);
  return b;
}

function makeCard(id) {
  const root = make("article", { class: "card", id: `connector-${id}` });
  const head = make("h2", {}, `Connector ${id} `);
  const status = make("span", { class: "status" }, "-");
  head.appendChild(status);
  root.appendChild(head);
  const list = make("dl");
  const fields = { status };
  for (const [key, label] of [["errorCode", "error"], ["transactionId", "transaction"], ["idTag", "idTag"],
    ["powerW", "power"], ["limit", "limit"], ["meterWh", "energy"]]) {
    list.appendChild(make("dt", {}, label));
    fields[key] = list.appendChild(make("dd", { class: key }, "-"));
  }
  root.appendChild(list);
  const chart = new PowerChart(root);
  const path = `connectors/${id}`;
  const act = make("div", { class: "actions" });
  act.append(
    button("Plug", () => send("POST", `${path}/plug`), "plug"),
    button("Unplug", () => send("POST", `${path}/unplug`), "unplug"),
    button("Suspend EV", () => send("POST", `${path}/ev/suspend`), "suspend"),
    button("Resume EV", () => send("POST", `${path}/ev/resume`), "resume"),
  );
  const tag = make("input", { class: "id-tag", placeholder: "idTag", maxlength: "20", value: "DEMO-CARD-1" });
  const card = make("div", { class: "actions" });
  card.append(tag, button("Present card", () => send("POST", "id-tag", { idTag: tag.value, connectorId: id }), "present"));
  const code = make("select", { class: "error-code" });
  for (const c of errorCodes) code.appendChild(make("option", { value: c }, c));
  const fault = make("div", { class: "actions" });
  fault.append(code, button("Raise fault", () => send("POST", `${path}/fault`, { errorCode: code.value }), "fault"),
    button("Clear fault", () => send("DELETE", `${path}/fault`), "clear-fault"));
  root.append(act, card, fault);
  $("#connectors").appendChild(root);
  const entry = { root, fields, chart };
  cards.set(id, entry);
  return entry;
}

const watts = (w) => (w === null || w === undefined ? "-" : w >= 1000 ? `${(w / 1000).toFixed(2)} kW` : `${Math.round(w)} W`);

function showConnector(c) {
  const card = cards.get(c.id) || makeCard(c.id);
  const f = card.fields;
  f.status.textContent = c.status;
  f.status.dataset.status = c.status;
  f.errorCode.textContent = c.errorCode;
  f.transactionId.textContent = c.transactionId ?? "-";
  f.idTag.textContent = c.idTag ?? "-";
  f.limit.textContent = c.limitA === null || c.limitA === undefined ? "none" : `${c.limitA} A (${watts(c.limitW)})`;
  showMeters(c);
}

function showMeters(c) {
  const f = cards.get(c.id).fields;
  f.powerW.textContent = watts(c.powerW);
  f.meterWh.textContent = `${(c.meterWh / 1000).toFixed(3)} kWh`;
}

// -- station state -------------------------------------------------------------------------------
function pill(selector, text, good) {
  const node = $(selector);
  node.textContent = text;
  node.className = `pill ${good ? "good" : "bad"}`;
}

function showState(state) {
  $("#cp-id").textContent = state.chargePointId;
  document.title = `${state.chargePointId} - ocpp-station`;
  pill("#link", state.connected ? "connected" : "offline", state.connected);
  pill("#registration", state.registration ?? "not registered", state.registration === "Accepted");
  pill("#storage", `store ${state.storage}`, state.storage === "ok");
  for (const c of state.connectors) if (c.id > 0) showConnector(c);
  const q = state.queueDetail;
  const queue = $("#queue");
  queue.replaceChildren(make("p", {}, `${q.queued} queued, in flight: ${q.inFlight ?? "none"}`));
  const list = make("ul");
  for (const [action, n] of Object.entries(q.byAction)) list.appendChild(make("li", {}, `${action}: ${n}`));
  queue.appendChild(list);
  const fw = $("#firmware");
  fw.replaceChildren();
  for (const [k, v] of Object.entries(state.firmware)) fw.append(make("dt", {}, k), make("dd", { id: `fw-${k}` }, v ?? "-"));
}

// -- configuration ---------------------------------------------------------------------------------
function showConfig(keys) {
  const body = $("#config tbody");
  body.replaceChildren();
  for (const k of keys) {
    const row = make("tr", { "data-key": k.key, title: k.doc || "" });
    row.appendChild(make("th", {}, k.key));
    const cell = make("td", { class: "value" });
    const answer = make("td", { class: "answer" });
    if (k.readonly) {
      cell.textContent = k.value;
      answer.textContent = "read-only";
    } else {
      const input = make("input", { value: k.value, "aria-label": k.key });
      const set = button("Set", async () => {
        const result = await send("POST", "config", { key: k.key, value: input.value });
        if (result === null) return;
        answer.textContent = result.status ?? `${result.error}: ${result.description ?? ""}`;
        answer.className = `answer ${["Accepted", "RebootRequired"].includes(result.status) ? "good" : "bad"}`;
        if (result.value !== undefined && result.value !== null) input.value = result.value;
      });
      input.addEventListener("keydown", (e) => { if (e.key === "Enter") set.click(); });
      cell.append(input, set);
    }
    row.append(cell, answer);
    body.appendChild(row);
  }
  filterConfig();
}

function updateConfig(values) {
  for (const row of $("#config tbody").rows) {
    const value = values[row.dataset.key];
    const input = $("input", row);
    if (value === undefined) continue;
    if (input && document.activeElement !== input) input.value = value;
    else if (!input) row.cells[1].textContent = value;
  }
}

function filterConfig() {
  const text = $("#config-filter").value.toLowerCase();
  for (const row of $("#config tbody").rows) row.hidden = !row.dataset.key.toLowerCase().includes(text);
}

// -- trace -----------------------------------------------------------------------------------------
function addOption(select, set, value) {
  if (value === null || value === undefined || set.has(value)) return;
  set.add(value);
  select.appendChild(make("option", { value: String(value) }, String(value)));
}

function visible(e) {
  const action = $("#f-action").value, dir = $("#f-direction").value, conn = $("#f-connector").value;
  return (!action || e.action === action) && (!dir || e.direction === dir)
    && (!conn || String(e.connectorId) === conn) && (!$("#f-errors").checked || e.type === "CALLERROR");
}

function addTrace(e) {
  const row = make("tr", { class: `${e.type} ${e.direction}`, "data-seq": e.seq });
  const latency = e.latencyMs === undefined ? "" : `${e.latencyMs} ms`;
  const link = e.callSeq === undefined ? "" : `\u21b3 #${e.callSeq}`;
  for (const [cls, text] of [["seq", e.seq], ["time", new Date(e.time).toLocaleTimeString()],
    ["dir", e.direction === "out" ? "\u2192 CSMS" : "\u2190 CSMS"], ["type", e.type], ["action", e.action ?? "?"],
    ["conn", e.connectorId ?? ""], ["link", link], ["latency", latency]]) {
    row.appendChild(make("td", { class: cls }, String(text)));
  }
  row.addEventListener("click", () => showFrame(e));
  row.hidden = !visible(e);
  const call = e.callSeq === undefined ? null : trace.bySeq.get(e.callSeq);
  if (call) {  // the CALL shows its answer and latency too
    e.call = call.entry;
    call.entry.result = e;
    call.row.cells[6].textContent = `\u21b3 #${e.seq}`;
    call.row.cells[7].textContent = latency;
  }
  trace.rows.push({ entry: e, row });
  trace.bySeq.set(e.seq, { entry: e, row });
  const box = $("#trace").parentElement;
  const following = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;  // keep the newest in view
  $("#trace tbody").appendChild(row);
  if (following) box.scrollTop = box.scrollHeight;
  while (trace.rows.length > trace.size) {
    const old = trace.rows.shift();
    trace.bySeq.delete(old.entry.seq);
    old.row.remove();
  }
  addOption($("#f-action"), trace.actions, e.action);
  addOption($("#f-connector"), trace.connectors, e.connectorId);
}

function showFrame(e) {
  const pair = e.result ?? e.call;
  const head = `#${e.seq} ${e.type} ${e.action ?? ""} ${e.direction === "out" ? "station \u2192 CSMS" : "CSMS \u2192 station"}`
    + `\nmessage id ${e.messageId}` + (pair ? `\nlinked with #${pair.seq} (${pair.type})` : "")
    + (e.latencyMs !== undefined ? `, ${e.latencyMs} ms` : pair && pair.latencyMs !== undefined ? `, ${pair.latencyMs} ms` : "");
  $("#frame-detail").textContent = `${head}\n\n${JSON.stringify(e.payload, null, 2)}`;
  for (const r of $("#trace tbody").querySelectorAll("tr.selected")) r.classList.remove("selected");
  trace.bySeq.get(e.seq)?.row.classList.add("selected");
}

function refilter() {
  for (const { entry, row } of trace.rows) row.hidden = !visible(entry);
}

// -- the live feed -------------------------------------------------------------------------------------
function connect() {
  const source = new EventSource("events");
  source.addEventListener("open", () => pill("#live", "live", true));
  source.addEventListener("error", () => {
    pill("#live", "reconnecting", false);
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);  // the browser gave up
  });
  source.addEventListener("hello", (m) => {
    const hello = JSON.parse(m.data);
    errorCodes = hello.errorCodes;
    trace.size = hello.traceSize;
    for (const card of cards.values()) card.root.remove();
    cards.clear();
    trace.rows = [];
    trace.bySeq.clear();
    $("#trace tbody").replaceChildren();
    showState(hello.state);
    showConfig(hello.config);
    for (const e of hello.trace) addTrace(e);
    document.body.dataset.hello = String(Number(document.body.dataset.hello || 0) + 1);
  });
  source.addEventListener("state", (m) => showState(JSON.parse(m.data)));
  source.addEventListener("config", (m) => updateConfig(JSON.parse(m.data)));
  source.addEventListener("trace", (m) => addTrace(JSON.parse(m.data)));
  source.addEventListener("sample", (m) => {
    const s = JSON.parse(m.data);
    for (const c of s.connectors) {
      const card = cards.get(c.id);
      if (!card) continue;
      showMeters(c);
      card.chart.push(s.time, c.powerW, c.limitW, c.meterWh);
    }
  });
}

$("#net-drop").addEventListener("click", () => send("POST", "network/disconnect"));
$("#net-restore").addEventListener("click", () => send("POST", "network/connect"));
$("#config-filter").addEventListener("input", filterConfig);
for (const id of ["#f-action", "#f-direction", "#f-connector", "#f-errors"]) $(id).addEventListener("change", refilter);
connect();
