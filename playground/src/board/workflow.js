// The workflow view: the step graph laid out by dagre, the paths that branch exploration
// found (select one to highlight its steps), and each step's history as a heat map.
import dagre from "@dagrejs/dagre";
import { WORKFLOW } from "./api.js";
import { h, ms, pct, s } from "./dom.js";

const END = "$end";
// A step's box: this wide, and as tall as its wrapped lines need.
const WIDTH = 240;
const PAD = 10;
const NAME = { weight: 700, size: 15, line: 19 };
const STAT = { weight: 400, size: 13, line: 17 };

function heat(share) {
  // Dark blue (no breached time) to red (all of it); text labels carry the same figure.
  const t = Math.min(1, Math.max(0, share));
  return `rgb(${Math.round(30 + 170 * t)}, ${Math.round(50 - 20 * t)}, ${Math.round(90 - 60 * t)})`;
}

// Measures text in the page's own font, as the SVG draws it.
const measure = (() => {
  const ctx = document.createElement("canvas").getContext("2d");
  return (text, f) => {
    ctx.font = `${f.weight} ${f.size}px ${getComputedStyle(document.body).fontFamily}`;
    return ctx.measureText(text).width;
  };
})();

// Splits text into lines no wider than `max`: at spaces, and inside a word only when the word
// alone is too wide.
function wrap(text, f, max) {
  const lines = [];
  let line = "";
  const push = (word) => {
    const tried = line ? `${line} ${word}` : word;
    if (measure(tried, f) <= max) { line = tried; return; }
    if (line) lines.push(line);
    line = "";
    let rest = word;
    while (measure(rest, f) > max) {
      let n = rest.length - 1;
      while (n > 1 && measure(rest.slice(0, n), f) > max) n--;
      lines.push(rest.slice(0, n));
      rest = rest.slice(n);
    }
    line = rest;
  };
  String(text).split(/\s+/).filter(Boolean).forEach(push);
  if (line || !lines.length) lines.push(line);
  return lines;
}

// What a step's box says: its name, then its history, each wrapped to the box.
function nodeText(step, stat) {
  const inner = WIDTH - 2 * PAD;
  const stats = stat && stat.runs
    ? [`${stat.runs} runs`, `p50 ${ms(stat.p50Ms)} · p95 ${ms(stat.p95Ms)}`, `breached time ${pct(stat.breachedTimeShare * 100)}`]
    : ["no recorded runs"];
  const name = wrap(step.name, NAME, inner);
  const lines = stats.flatMap((l) => wrap(l, STAT, inner));
  return { name, lines, height: 2 * PAD + name.length * NAME.line + lines.length * STAT.line };
}

function layout(steps, flows, texts) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 50, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const st of steps) g.setNode(st.name, { width: WIDTH, height: texts.get(st.name).height });
  g.setNode(END, { width: 90, height: 40 });
  flows.forEach((f, i) => g.setEdge(f.from, f.to, { kind: f.kind }, `e${i}`));
  dagre.layout(g);
  return g;
}

function nodeBox(g, step, stat, text) {
  const n = g.node(step.name);
  const share = stat ? stat.breachedTimeShare : 0;
  let y = PAD;
  const line = (t, f, cls) => {
    y += f.line;
    return s("text", { x: PAD, y: y - 5, class: cls }, t);
  };
  return s("g", { class: "node", "data-step": step.name, transform: `translate(${n.x - n.width / 2},${n.y - n.height / 2})` },
    s("title", {}, step.name),
    s("rect", { width: n.width, height: n.height, rx: 8, fill: heat(share) }),
    text.name.map((t) => line(t, NAME, "name")),
    text.lines.map((t) => line(t, STAT, "stat")));
}

function edgePath(g, e) {
  const pts = g.edge(e).points;
  const d = pts.map((p, i) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ");
  return s("path", { d, class: `flow ${g.edge(e).kind.toLowerCase()}`, "data-from": e.v, "data-to": e.w, "marker-end": "url(#arrow)" });
}

function graphSvg(wf) {
  const stats = new Map(wf.stepStats.map((x) => [x.step, x]));
  const texts = new Map(wf.steps.map((st) => [st.name, nodeText(st, stats.get(st.name))]));
  const g = layout(wf.steps, wf.stepFlows, texts);
  const { width, height } = g.graph();
  const end = g.node(END);
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "graph", role: "img", "aria-label": `Step graph of ${wf.name}` },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 10, markerHeight: 10, markerUnits: "userSpaceOnUse", orient: "auto" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))),
    g.edges().map((e) => edgePath(g, e)),
    wf.steps.map((st) => nodeBox(g, st, stats.get(st.name), texts.get(st.name))),
    s("g", { class: "node end", "data-step": END, transform: `translate(${end.x - 45},${end.y - 20})` },
      s("rect", { width: 90, height: 40, rx: 20 }), s("text", { x: 28, y: 25, class: "name" }, "end")));
}

function highlight(svg, path) {
  const on = new Set(path ? path.steps : []);
  for (const n of svg.querySelectorAll("g.node")) n.classList.toggle("on-path", on.has(n.dataset.step));
  const pairs = new Set();
  if (path) path.steps.forEach((x, i) => pairs.add(`${x}→${path.steps[i + 1] || END}`));
  for (const p of svg.querySelectorAll("path.flow")) {
    p.classList.toggle("on-path", pairs.has(`${p.dataset.from}→${p.dataset.to}`));
  }
}

function pathList(paths, svg) {
  const items = paths.map((p, i) => {
    const btn = h("button", { type: "button", class: "path", "aria-pressed": "false", "data-path": i },
      h("strong", {}, `Path ${i + 1}: `, p.steps.join(" → ") || "(no steps)"),
      h("span", { class: "muted" }, ` · ${ms(p.predictedDurationMs)}`));
    btn.addEventListener("click", () => {
      const was = btn.getAttribute("aria-pressed") === "true";
      for (const b of document.querySelectorAll("button.path")) b.setAttribute("aria-pressed", "false");
      btn.setAttribute("aria-pressed", was ? "false" : "true");
      highlight(svg, was ? null : p);
    });
    return h("li", {}, btn,
      h("p", {}, "When: ", h("code", {}, p.description || "always")),
      h("p", {}, "For example: ", h("code", { class: "witness" }, JSON.stringify(p.witness))));
  });
  return h("ol", { class: "paths" }, items);
}

function statTable(stats) {
  return h("table", { class: "stats" },
    h("caption", {}, "Per-step history"),
    h("thead", {}, h("tr", {}, ["Step", "Runs", "Executions", "p50", "p95", "Share of breached time"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, stats.map((x) => h("tr", { "data-step": x.step },
      h("th", { scope: "row" }, x.step), h("td", {}, x.runs), h("td", {}, x.executions),
      h("td", {}, ms(x.p50Ms)), h("td", {}, ms(x.p95Ms)), h("td", {}, pct(x.breachedTimeShare * 100))))));
}

export async function workflowView(root, { gql, params, go, workflows }) {
  const id = params.get("workflow") || (workflows[0] && workflows[0].id);
  const pick = h("select", { id: "w-pick", onchange: (e) => go({ workflow: e.target.value }) },
    workflows.map((w) => h("option", { value: w.id, selected: w.id === id }, w.name)));
  const bar = h("section", { class: "bar" }, h("div", { class: "filters" }, h("label", { for: "w-pick" }, "Workflow"), pick));
  if (!id) {
    root.replaceChildren(bar, h("p", {}, "This company has no workflows yet."));
    return;
  }
  const { workflow: wf, workflowPaths: ex } = await gql(WORKFLOW, { id });
  const svg = graphSvg(wf);
  root.replaceChildren(bar,
    h("div", { class: "workflow" },
      h("section", { class: "graph-box", "aria-label": "Step graph" }, svg),
      h("section", { "aria-labelledby": "paths-title" },
        h("h2", { id: "paths-title" }, `Paths (${ex.paths.length}${ex.truncated ? ", exploration truncated" : ""})`),
        pathList(ex.paths, svg))),
    statTable(wf.stepStats));
}
