// The live SLA board: unacknowledged breaches as they happen, and one tile per SLA.
import { ACK, BOARD, MORE, TILES } from "./api.js";
import { duration, h, pct, s, windowName } from "./dom.js";
import { openStream } from "./stream.js";

const STATES = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  resumed: "Resumed",
  refused: "Not connected",
};

function filters(params) {
  const workflowId = params.get("workflow") || undefined;
  const severity = params.get("severity") || undefined;
  const slaId = params.get("sla") || undefined;
  return { workflowId, severity, slaId };
}

// Unacknowledged breaches per (SLA, severity), most first; a group narrows the list to it.
function groupList(groups, params, go) {
  const { slaId, severity } = filters(params);
  const item = (g) => {
    const on = g.sla && g.sla.id === slaId && g.severity === severity;
    const sev = g.severity.toLowerCase();
    return h("li", {}, h("button", {
      type: "button", class: `group sev-${sev}`, "aria-pressed": on ? "true" : "false",
      "data-group": `${g.sla ? g.sla.id : ""}:${g.severity}`,
      onclick: () => go(on ? { sla: null, severity: null } : { sla: g.sla.id, severity: g.severity }),
    }, `${g.sla ? g.sla.name : "–"} · ${sev} `, h("span", { class: "count" }, String(g.count))));
  };
  return h("ul", { id: "breach-groups", "aria-label": "Breaches by SLA and severity" }, groups.map(item));
}

// Downloads the filtered breaches as CSV: fetched with the token, then saved from a link.
function csvButton(token, params) {
  const { workflowId, severity, slaId } = filters(params);
  const q = new URLSearchParams({ acknowledged: "false" });
  if (workflowId) q.set("workflowId", workflowId);
  if (severity) q.set("severity", severity);
  if (slaId) q.set("slaId", slaId);
  const save = async (e) => {
    const resp = await fetch(`/api/breaches.csv?${q}`, { headers: { authorization: `Bearer ${token}` } });
    if (!resp.ok) { e.target.title = `export failed: ${resp.status}`; return; }
    const link = document.getElementById("csv-download") || h("a", { id: "csv-download", download: "breaches.csv", class: "muted" }, "breaches.csv");
    link.href = URL.createObjectURL(await resp.blob());
    if (!link.isConnected) e.target.after(" ", link);
    link.click();
  };
  return h("button", { type: "button", id: "csv", onclick: save }, "Download CSV");
}

function filterBar(params, workflows, go) {
  const { workflowId, severity } = filters(params);
  const change = (key) => (e) => go({ [key]: e.target.value || null });
  const wf = h("select", { id: "f-workflow", onchange: change("workflow") },
    h("option", { value: "" }, "All workflows"),
    workflows.map((w) => h("option", { value: w.id, selected: w.id === workflowId }, w.name)));
  const sev = h("select", { id: "f-severity", onchange: change("severity") },
    h("option", { value: "" }, "All severities"),
    ["WARNING", "CRITICAL"].map((v) => h("option", { value: v, selected: v === severity }, v.toLowerCase())));
  return h("div", { class: "filters" },
    h("label", { for: "f-workflow" }, "Workflow"), wf,
    h("label", { for: "f-severity" }, "Severity"), sev);
}

function breachRow(b, gql, onAcked) {
  const notes = h("input", { type: "text", id: `notes-${b.id}`, placeholder: "notes", "aria-label": "Acknowledgement notes" });
  const ack = async (e) => {
    e.preventDefault();
    e.target.disabled = true;
    try {
      await gql(ACK, { id: b.id, notes: notes.value });
      onAcked(b.id);
    } catch (err) {
      e.target.disabled = false;
      e.target.title = err.message;
    }
  };
  const sev = b.severity.toLowerCase();
  return h("tr", { "data-breach": b.id, class: `sev-${sev}` },
    h("td", {}, h("span", { class: `badge ${sev}` }, sev === "critical" ? "▲ critical" : "● warning")),
    h("td", { class: "sla" }, b.sla ? b.sla.name : "–"),
    h("td", {}, b.execution && b.execution.workflow ? b.execution.workflow.name : "–"),
    overCell(b),
    h("td", { class: "num since", "data-detected": b.detectedAt }, ""),
    h("td", { class: "ack" }, h("form", { onsubmit: ack }, notes, h("button", { type: "submit" }, "Acknowledge"))));
}

// Over the threshold it crossed, as the API and the email give it. While the execution still
// runs, the overrun counts up from the margin at detection (see tick()).
function overCell(b) {
  const live = b.execution && b.execution.status === "RUNNING";
  // Business time (an SLA on a calendar) does not count up by the wall clock: its rows stay
  // at the figures the server gave, with the elapsed time beside them.
  const counting = live && !b.businessTime;
  const hours = b.businessTime ? ` · business hours; ${duration(b.elapsedSeconds)} elapsed` : "";
  const td = h("td", { class: "num over", "data-margin": b.breachMarginSeconds, "data-threshold": b.thresholdSeconds,
    "data-live": counting ? b.detectedAt : null, "data-hours": hours || null,
    title: `against the target: ${duration(b.targetMarginSeconds)}${hours}` });
  overText(td);
  return td;
}

function overText(td) {
  const at = td.dataset.live ? (Date.now() - Date.parse(td.dataset.live)) / 1000 : 0;
  const over = Number(td.dataset.margin) + Math.max(0, at);
  const threshold = Number(td.dataset.threshold);
  const share = threshold > 0 ? (over / threshold) * 100 : 0;
  td.textContent = `${duration(over)} (${pct(share)})${td.dataset.live ? " and counting" : ""}${td.dataset.hours || ""}`;
}

function sparkline(timeline) {
  const max = Math.max(1, ...timeline.buckets.map((b) => b.count));
  const w = 240;
  const bw = w / timeline.buckets.length;
  const bars = timeline.buckets.map((b, i) => {
    const bh = (b.count / max) * 40;
    return s("rect", { x: i * bw + 1, y: 44 - bh, width: Math.max(1, bw - 2), height: bh, class: "bar" },
      s("title", {}, `${b.count} at ${new Date(b.start).toLocaleTimeString()}`));
  });
  const label = `Breaches per hour over the last 24 hours: ${timeline.total} in all`;
  return s("svg", { viewBox: `0 0 ${w} 46`, class: "spark", role: "img", "aria-label": label }, bars);
}

function burnRows(m) {
  return m.burnRates.map((r, i) => {
    const kind = i < 2 ? "fast" : "slow";
    return h("li", { class: r.firing ? "firing" : "", "data-field": `burn-${i}`, "data-value": r.longBurnRate },
      `${kind} ${windowName(r.longWindowSeconds)}/${windowName(r.shortWindowSeconds)}: `,
      `${r.longBurnRate.toFixed(2)} / ${r.shortBurnRate.toFixed(2)} (fires at ${r.threshold})`,
      r.firing ? h("strong", {}, " FIRING") : " ok");
  });
}

function tile(sla) {
  const m = sla.metrics;
  const left = m.errorBudgetTotal > 0 ? Math.max(0, m.errorBudgetRemaining / m.errorBudgetTotal) : 1;
  const field = (name, value, text) => h("span", { "data-field": name, "data-value": value }, text);
  return h("article", { class: `tile ${m.meetsTarget ? "ok" : "bad"}`, "data-sla": sla.id },
    h("h3", {}, sla.name),
    h("p", { class: "muted" }, `${sla.workflow ? sla.workflow.name : ""} · last ${m.windowHours} h`),
    h("p", { class: "big" }, field("compliance", m.compliancePercentage, pct(m.compliancePercentage)),
      h("span", { class: "muted" }, " of "), field("target", m.targetPercentage, pct(m.targetPercentage)),
      m.total === 0 ? "" : m.meetsTarget ? " ✓ meets target" : " ✗ below target"),
    m.total === 0
      ? h("p", { "data-field": "total", "data-value": 0 }, `No execution completed or overran in the last ${m.windowHours} h: nothing to measure yet`)
      : h("p", {}, field("met", m.met, m.met), " of ", field("total", m.total, m.total), " executions within target"),
    h("div", { class: "budget" },
      m.errorBudgetExhausted
        ? h("span", { class: "alarm" }, "Error budget exhausted: ",
          field("budget-overspent", m.errorBudgetOverspent, m.errorBudgetOverspent.toFixed(2)),
          " executions over an allowance of ", field("budget-total", m.errorBudgetTotal, m.errorBudgetTotal.toFixed(2)))
        : h("span", {}, "Error budget left: ", field("budget-remaining", m.errorBudgetRemaining, m.errorBudgetRemaining.toFixed(2)),
          " of ", field("budget-total", m.errorBudgetTotal, m.errorBudgetTotal.toFixed(2)), " executions"),
      h("progress", { max: 1, value: left, "aria-label": "Error budget left" })),
    h("p", {}, m.fastBurn ? h("strong", { class: "alarm" }, "Fast burn firing") : "Fast burn: quiet", " · ",
      m.slowBurn ? h("strong", { class: "alarm" }, "Slow burn firing") : "Slow burn: quiet"),
    h("ul", { class: "burn" }, burnRows(m)),
    h("div", { "data-field": "timeline-total", "data-value": sla.breachTimeline.total }, sparkline(sla.breachTimeline)));
}

function connection(el) {
  return (state, missed, detail) => {
    el.dataset.state = state;
    el.textContent = STATES[state] + (missed ? ` · ${missed} missed event${missed === 1 ? "" : "s"} replayed` : "");
    if (detail) el.textContent += `: ${detail}`;
  };
}

export async function boardView(root, { gql, token, params, go }) {
  const { workflowId, severity, slaId } = filters(params);
  const filter = { workflowId, severity, slaId };
  const data = await gql(BOARD, { filter, workflowId });
  const page = data.unacknowledgedBreaches;
  const open = new Map(page.nodes.map((b) => [b.id, b]));
  let total = page.totalCount;
  let cursor = page.pageInfo;
  const groups = new Map(data.unacknowledgedBreachGroups.map((g) => [`${g.sla ? g.sla.id : ""}:${g.severity}`, g]));
  const acked = new Set();
  const status = h("p", { id: "connection", role: "status", "aria-live": "polite", "data-state": "connecting" }, STATES.connecting);
  const rows = h("tbody", { id: "breach-rows" });
  const count = h("span", { id: "breach-count" }, "");
  const tiles = h("section", { id: "tiles", "aria-label": "SLA tiles" });
  const groupsEl = h("div", {});
  const more = h("button", { type: "button", id: "more", onclick: () => loadMore() }, "Show more");
  const bump = (b, by) => {
    const key = `${b.sla ? b.sla.id : ""}:${b.severity}`;
    const g = groups.get(key) || { count: 0, severity: b.severity, sla: b.sla };
    g.count += by;
    if (g.count > 0) groups.set(key, g); else groups.delete(key);
    total += by;
  };
  const remove = (id) => {
    acked.add(id);
    const b = open.get(id);
    if (b) { open.delete(id); bump(b, -1); }
    draw();
  };
  // Rows are kept across redraws, so notes being typed survive a new breach arriving.
  const rowEls = new Map();
  function draw() {
    const list = [...open.values()].sort((a, b) => b.detectedAt.localeCompare(a.detectedAt));
    for (const id of [...rowEls.keys()]) if (!open.has(id)) rowEls.delete(id);
    for (const b of list) if (!rowEls.has(b.id)) rowEls.set(b.id, breachRow(b, gql, remove));
    // Insert and remove in place: moving a row would blur an input being typed in.
    list.forEach((b, i) => {
      const el = rowEls.get(b.id);
      if (rows.children[i] !== el) rows.insertBefore(el, rows.children[i] || null);
    });
    while (rows.children.length > list.length) rows.lastElementChild.remove();
    count.textContent = String(total);
    const sorted = [...groups.values()].sort((a, b) => b.count - a.count);
    groupsEl.replaceChildren(groupList(sorted, params, go));
    more.hidden = !cursor.hasNextPage;
    more.textContent = `Show more (${list.length} of ${total} shown)`;
    tick();
  }
  async function loadMore() {
    more.disabled = true;
    try {
      const next = (await gql(MORE, { filter, after: cursor.endCursor })).unacknowledgedBreaches;
      for (const b of next.nodes) if (!acked.has(b.id) && !open.has(b.id)) open.set(b.id, b);
      cursor = next.pageInfo;
      draw();
    } finally {
      more.disabled = false;
    }
  }
  function tick() {
    for (const td of rows.querySelectorAll("td.since")) {
      td.textContent = `${duration((Date.now() - Date.parse(td.dataset.detected)) / 1000)} ago`;
    }
    for (const td of rows.querySelectorAll("td.over[data-live]")) overText(td);
  }
  let pending = null;
  async function refreshTiles() {
    pending = null;
    try {
      const t = await gql(TILES, { workflowId });
      tiles.replaceChildren(...t.slas.nodes.map(tile));
      tiles.dataset.loaded = String(Date.now());
      delete tiles.dataset.stale;
    } catch (e) {
      // Keep the last figures, marked as such, until the server answers again.
      tiles.dataset.stale = e.message;
    }
  }
  const soon = () => { pending = pending || setTimeout(refreshTiles, 1000); };
  function onEvent(ev) {
    const b = ev.breach;
    if (slaId && (!b.sla || b.sla.id !== slaId)) return;
    if (ev.kind === "ACKNOWLEDGED" || b.acknowledged) remove(b.id);
    else if (!acked.has(b.id)) {
      // FINALIZED carries the completed execution's figures: the row stops counting.
      if (ev.kind === "FINALIZED" && rowEls.has(b.id)) rowEls.get(b.id).querySelector("td.over").replaceWith(overCell(b));
      if (ev.kind === "DETECTED" && !open.has(b.id)) bump(b, 1);
      open.set(b.id, b);
      draw();
    }
    soon();
  }
  root.replaceChildren(
    h("section", { class: "bar" }, filterBar(params, data.workflows.nodes, go), status),
    h("h2", {}, "SLAs"), tiles,
    h("section", { "aria-labelledby": "breaches-title" },
      h("h2", { id: "breaches-title" }, "Unacknowledged breaches (", count, ") ", csvButton(token, params)),
      groupsEl,
      h("table", { class: "breaches", "aria-live": "polite" },
        h("thead", {}, h("tr", {}, ["Severity", "SLA", "Workflow", "Over threshold by", "Detected", ""].map((c) => h("th", { scope: "col" }, c)))),
        rows),
      more));
  draw();
  setInterval(tick, 1000);
  setInterval(refreshTiles, 30000);
  await refreshTiles();
  const show = connection(status);
  const onState = (state, missed, detail) => {
    show(state, missed, detail);
    if (state === "resumed") soon();
  };
  openStream({ token, filter: { workflowId, severity, slaId }, after: data.slaBreachEventsHead, onEvent, onState });
}
