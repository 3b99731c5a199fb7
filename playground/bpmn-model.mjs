// Saves a BPMN 2.0 model with bpmn-moddle, the library bpmn.io's modeler (bpmn-js) and
// Camunda Modeler read and write BPMN with, and prints {"xml": …} as one JSON line. The model
// has what a modeller draws and a template cannot fully hold: a pool with two lanes, a
// boundary timer, an intermediate timer, a collapsed subprocess and a data object, besides
// tasks, an exclusive gateway with JSON conditions and a parallel split and join.
import { BpmnModdle } from "bpmn-moddle";

const moddle = new BpmnModdle();
const el = (type, attrs) => moddle.create(type, attrs);
const nodes = [
  el("bpmn:StartEvent", { id: "start", name: "Order received" }),
  el("bpmn:UserTask", { id: "review", name: "Review order" }),
  el("bpmn:ExclusiveGateway", { id: "size", name: "Order size?" }),
  el("bpmn:UserTask", { id: "director", name: "Director approval" }),
  el("bpmn:ParallelGateway", { id: "fork" }),
  el("bpmn:ServiceTask", { id: "reserve", name: "Reserve stock" }),
  el("bpmn:SendTask", { id: "invoice", name: "Send invoice" }),
  el("bpmn:ParallelGateway", { id: "join" }),
  el("bpmn:IntermediateCatchEvent", {
    id: "wait",
    name: "Wait a day",
    eventDefinitions: [el("bpmn:TimerEventDefinition", {})],
  }),
  el("bpmn:SubProcess", {
    id: "ship",
    name: "Ship",
    flowElements: [el("bpmn:Task", { id: "pack", name: "Pack" })],
  }),
  el("bpmn:EndEvent", { id: "end", name: "Done" }),
];
const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
nodes.push(
  el("bpmn:BoundaryEvent", {
    id: "late",
    name: "Review overdue",
    attachedToRef: byId.review,
    eventDefinitions: [el("bpmn:TimerEventDefinition", {})],
  }),
  el("bpmn:DataObjectReference", { id: "orderDoc", name: "Order" }),
);
const condition = (body) => el("bpmn:FormalExpression", { body });
const flow = (id, from, to, expr) => {
  const f = el("bpmn:SequenceFlow", { id, sourceRef: byId[from], targetRef: byId[to] });
  if (expr) f.conditionExpression = condition(expr);
  (byId[from].outgoing ||= []).push(f);
  (byId[to].incoming ||= []).push(f);
  return f;
};
const flows = [
  flow("f1", "start", "review"),
  flow("f2", "review", "size"),
  flow("f3", "size", "director", '{"amount": {"$gt": 1000}}'),
  flow("f4", "size", "fork", '{"amount": {"$lte": 1000}}'),
  flow("f5", "director", "fork"),
  flow("f6", "fork", "reserve"),
  flow("f7", "fork", "invoice"),
  flow("f8", "reserve", "join"),
  flow("f9", "invoice", "join"),
  flow("f10", "join", "wait"),
  flow("f11", "wait", "ship"),
  flow("f12", "ship", "end"),
];
const lanes = el("bpmn:LaneSet", {
  id: "lanes",
  lanes: [
    el("bpmn:Lane", { id: "sales", name: "Sales", flowNodeRef: [byId.start, byId.review, byId.size, byId.director] }),
    el("bpmn:Lane", {
      id: "warehouse",
      name: "Warehouse",
      flowNodeRef: ["fork", "reserve", "invoice", "join", "wait", "ship", "end"].map((k) => byId[k]),
    }),
  ],
});
const process = el("bpmn:Process", {
  id: "orders",
  isExecutable: false,
  laneSets: [lanes],
  flowElements: [...nodes, ...flows],
});
const participant = el("bpmn:Participant", { id: "pool", name: "Orders", processRef: process });
const collaboration = el("bpmn:Collaboration", { id: "collab", participants: [participant] });
const shapes = nodes.map((n, i) =>
  el("bpmndi:BPMNShape", {
    id: `${n.id}_di`,
    bpmnElement: n,
    bounds: el("dc:Bounds", { x: 100 + 130 * i, y: 100 + (i % 2) * 120, width: 100, height: 80 }),
  }),
);
const plane = el("bpmndi:BPMNPlane", { id: "plane", bpmnElement: collaboration, planeElement: shapes });
const definitions = el("bpmn:Definitions", {
  id: "defs",
  targetNamespace: "http://bpmn.io/schema/bpmn",
  exporter: "bpmn-moddle",
  exporterVersion: "10.3.1",
  rootElements: [collaboration, process],
  diagrams: [el("bpmndi:BPMNDiagram", { id: "diagram", plane })],
});
const { xml } = await moddle.toXML(definitions, { format: true });
console.log(JSON.stringify({ xml }));
