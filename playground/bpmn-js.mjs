// bpmn.io's own modeler (bpmn-js), bundled with esbuild and run in headless Chromium, for the
// Rust tests of BPMN import and export. Prints one JSON line.
//
//   node bpmn-js.mjs open FILE…   → {"files":[{"file","error","warnings":[…],"shapes","connections",
//                                     "types":{"bpmn:Task":n,…},"undrawn":[ids without graphics]}]}
//     Imports each file as bpmn.io does when a user opens it, and counts what it drew.
//   node bpmn-js.mjs model        → {"camunda": "<xml>", "zeebe": "<xml>"}
//     Draws the same order process twice with the modeler's own editing commands (what a user's
//     clicks run) and saves it as the modeler saves: once with Camunda 7's moddle extension
//     (camunda:assignee, camunda:candidateGroups), once with Camunda 8's (zeebe:taskDefinition).
//     The model has a loop back through a gateway's default flow, an inclusive split and join,
//     a parallel split and join, and a collapsed subprocess.
import { chromium } from "playwright-core";
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const entry = `
import Modeler from "bpmn-js/lib/Modeler";
import camunda from "camunda-bpmn-moddle/resources/camunda.json";
import zeebe from "zeebe-bpmn-moddle/resources/zeebe.json";
window.BpmnModeler = Modeler;
window.moddleExtensions = { camunda, zeebe };
`;
const bundled = await build({
  stdin: { contents: entry, resolveDir: here, loader: "js" },
  bundle: true,
  format: "iife",
  write: false,
  logLevel: "silent",
});
const script = bundled.outputFiles[0].text;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
await page.setContent(`<!doctype html><div id="canvas" style="width:1500px;height:900px"></div>`);
await page.addScriptTag({ content: script });

async function open(files) {
  const out = [];
  for (const file of files) {
    const xml = readFileSync(file, "utf8");
    const r = await page.evaluate(async (xml) => {
      const container = document.getElementById("canvas");
      container.innerHTML = "";
      const modeler = new window.BpmnModeler({ container, moddleExtensions: { camunda: window.moddleExtensions.camunda } });
      try {
        const { warnings } = await modeler.importXML(xml);
        const registry = modeler.get("elementRegistry");
        const all = registry.getAll().filter((e) => e.type !== "label" && e.parent);
        const connections = all.filter((e) => e.waypoints);
        const shapes = all.filter((e) => !e.waypoints);
        const types = {};
        for (const e of all) types[e.type] = (types[e.type] || 0) + 1;
        const undrawn = all.filter((e) => !registry.getGraphics(e)).map((e) => e.id);
        return {
          error: null,
          warnings: warnings.map((w) => w.message),
          shapes: shapes.length,
          connections: connections.length,
          types,
          undrawn,
        };
      } catch (e) {
        return { error: String(e && e.message ? e.message : e), warnings: (e.warnings || []).map((w) => w.message) };
      } finally {
        modeler.destroy();
      }
    }, xml);
    out.push({ file, ...r });
  }
  return { files: out };
}

// The order process, drawn with the modeler's commands. `flavour` picks the extension.
async function draw(flavour) {
  return page.evaluate(async (flavour) => {
    const container = document.getElementById("canvas");
    container.innerHTML = "";
    const moddleExtensions = { [flavour]: window.moddleExtensions[flavour] };
    const modeler = new window.BpmnModeler({ container, moddleExtensions });
    // The modeler's own "new diagram": one start event in a process.
    await modeler.importXML(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="Process_1" isExecutable="false"><bpmn:startEvent id="StartEvent_1"/></bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_1">
    <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1"><dc:Bounds x="152" y="102" width="36" height="36"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>`);
    const registry = modeler.get("elementRegistry");
    const modeling = modeler.get("modeling");
    const moddle = modeler.get("moddle");
    const start = registry.filter((e) => e.type === "bpmn:StartEvent")[0];
    modeling.updateLabel(start, "Order received");
    let x = start.x + 150;
    const y = start.y + start.height / 2;
    const append = (from, type, name, dy = 0, attrs = {}) => {
      const shape = modeling.appendShape(from, { type, ...attrs }, { x, y: y + dy });
      if (name) modeling.updateLabel(shape, name);
      return shape;
    };
    const next = () => (x += 160);
    const review = append(start, "bpmn:UserTask", "Review order");
    next();
    const complete = append(review, "bpmn:ExclusiveGateway", "Complete?");
    next();
    const fix = append(complete, "bpmn:UserTask", "Ask for missing details", 140);
    // Back to the review: a loop through the gateway's default flow.
    const back = modeling.connect(fix, review);
    const forward = append(complete, "bpmn:ScriptTask", "Score order");
    const toFix = complete.outgoing.find((c) => c.target === fix);
    modeling.updateLabel(forward.incoming[0], "complete");
    modeling.updateProperties(complete, { default: toFix.businessObject });
    const cond = moddle.create("bpmn:FormalExpression", { body: '{"complete": true}' });
    modeling.updateProperties(forward.incoming[0], { conditionExpression: cond });
    next();
    const inclusive = append(forward, "bpmn:InclusiveGateway", "Extras?");
    next();
    const gift = append(inclusive, "bpmn:ServiceTask", "Wrap as gift", -140);
    const insure = append(inclusive, "bpmn:ServiceTask", "Insure parcel", 140);
    const giftCond = moddle.create("bpmn:FormalExpression", { body: '{"gift": true}' });
    modeling.updateProperties(gift.incoming[0], { conditionExpression: giftCond });
    next();
    const merge = append(gift, "bpmn:InclusiveGateway", "", 140);
    modeling.connect(insure, merge);
    next();
    const fork = append(merge, "bpmn:ParallelGateway", "");
    next();
    const pack = append(fork, "bpmn:SubProcess", "Pack", -140, { isExpanded: false });
    const invoice = append(fork, "bpmn:SendTask", "Send invoice", 140);
    next();
    const join = append(pack, "bpmn:ParallelGateway", "", 140);
    modeling.connect(invoice, join);
    next();
    const ship = append(join, "bpmn:ManualTask", "Ship");
    next();
    append(ship, "bpmn:EndEvent", "Shipped");
    void back;
    // Camunda 7 assigns user tasks; Camunda 8 names a job type on service tasks.
    if (flavour === "camunda") {
      modeling.updateProperties(review, { "camunda:assignee": "sales", "camunda:candidateGroups": "sales" });
      modeling.updateProperties(fix, { "camunda:assignee": "sales" });
    } else {
      for (const t of [gift, insure]) {
        const def = moddle.create("zeebe:TaskDefinition", { type: "gift-service" });
        const ext = moddle.create("bpmn:ExtensionElements", { values: [def] });
        modeling.updateProperties(t, { extensionElements: ext });
      }
    }
    const { xml } = await modeler.saveXML({ format: true });
    modeler.destroy();
    return xml;
  }, flavour);
}

let result;
const [mode, ...rest] = process.argv.slice(2);
try {
  if (mode === "open") result = await open(rest);
  else if (mode === "model") result = { camunda: await draw("camunda"), zeebe: await draw("zeebe") };
  else throw new Error(`unknown mode ${mode}: open FILE… | model`);
  result.pageErrors = pageErrors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
