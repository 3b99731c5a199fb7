//! BPMN 2.0 interchange (pure): export a template as BPMN XML with diagram interchange (DI)
//! shapes and edges at the graphSpec coordinates, and import BPMN from modelling tools.
//!
//! Export maps trigger → startEvent, action → task, approval → userTask, decision →
//! exclusiveGateway, end → endEvent; edges become sequenceFlows, with their condition as a
//! JSON `conditionExpression`. The template's other fields (steps, variables, settings…) ride
//! along in `extensionElements`, so our own export imports back to an equal template. Import
//! reads any tool's BPMN; elements we cannot represent are listed as warnings, never dropped
//! silently.
use super::blueprint::canonical;
use super::body::{GraphEdge, GraphNode, GraphSpec, NodeType, TemplateBody, TemplateType};
use super::layout::size;
use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesCData, BytesDecl, BytesEnd, BytesStart, Event};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;

const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
const WI_NS: &str = "https://workflow-intel.dev/bpmn";

/// The BPMN element for a node: a task by its action's kind where the action is one of
/// BPMN's task kinds (as an import names them; a subprocess or event drawn as a plain task,
/// since its inside is not ours), a service task for any other catalog action.
fn element(n: &GraphNode) -> Cow<'static, str> {
    let tag = match (n.node_type, n.action.as_deref()) {
        (NodeType::Trigger, _) => "bpmn:startEvent",
        (NodeType::End, _) => "bpmn:endEvent",
        (NodeType::Decision, _) => "bpmn:exclusiveGateway",
        (NodeType::Parallel, _) => "bpmn:parallelGateway",
        (NodeType::Approval, _) => "bpmn:userTask",
        (NodeType::Action, None | Some("task")) => "bpmn:task",
        (NodeType::Action, Some(a)) => match TASK_KINDS.iter().find(|(_, t, _, _)| *t == a) {
            Some((k, ..)) if k.ends_with("Task") || *k == "callActivity" => {
                return Cow::Owned(format!("bpmn:{k}"));
            }
            Some(_) => "bpmn:task",
            None => "bpmn:serviceTask",
        },
    };
    Cow::Borrowed(tag)
}

/// BPMN's task kinds: (element, the catalog action an import gives it, its name, its
/// latency class).
pub const TASK_KINDS: &[(&str, &str, &str, crate::model::LatencyClass)] = {
    use crate::model::LatencyClass::*;
    &[
        ("task", "task", "Task", Medium),
        ("userTask", "user_task", "User task", Slow),
        ("manualTask", "manual_task", "Manual task", Slow),
        ("serviceTask", "service_task", "Service task", Fast),
        ("scriptTask", "script_task", "Script task", Instant),
        (
            "businessRuleTask",
            "business_rule_task",
            "Business rule task",
            Instant,
        ),
        ("sendTask", "send_task", "Send task", Fast),
        ("receiveTask", "receive_task", "Receive task", Slow),
        ("callActivity", "call_activity", "Call activity", Medium),
        ("subProcess", "sub_process", "Subprocess", Medium),
        ("adHocSubProcess", "sub_process", "Subprocess", Medium),
        ("transaction", "sub_process", "Subprocess", Medium),
        (
            "intermediateCatchEvent",
            "wait_for_event",
            "Wait for an event",
            Slow,
        ),
        (
            "intermediateThrowEvent",
            "raise_event",
            "Raise an event",
            Instant,
        ),
    ]
};

/// A valid XML id for a node id.
fn xml_id(id: &str) -> String {
    let ok = id
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        id.to_string()
    } else {
        let clean: String = id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("n_{clean}")
    }
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

type W = Writer<Vec<u8>>;

fn start(w: &mut W, name: &str, attrs: &[(&str, &str)]) {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, *v));
    }
    let _ = w.write_event(Event::Start(e));
}

fn empty(w: &mut W, name: &str, attrs: &[(&str, &str)]) {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, *v));
    }
    let _ = w.write_event(Event::Empty(e));
}

fn end(w: &mut W, name: &str) {
    let _ = w.write_event(Event::End(BytesEnd::new(name)));
}

fn cdata(w: &mut W, text: &str) {
    let _ = w.write_event(Event::CData(BytesCData::new(
        text.replace("]]>", "]]]]><![CDATA[>"),
    )));
}

/// The template as BPMN 2.0 XML.
pub fn export(t: &TemplateBody) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    start(
        &mut w,
        "bpmn:definitions",
        &[
            ("xmlns:bpmn", BPMN_NS),
            ("xmlns:bpmndi", "http://www.omg.org/spec/BPMN/20100524/DI"),
            ("xmlns:dc", "http://www.omg.org/spec/DD/20100524/DC"),
            ("xmlns:di", "http://www.omg.org/spec/DD/20100524/DI"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            ("xmlns:wi", WI_NS),
            ("id", "Definitions_1"),
            ("targetNamespace", WI_NS),
            ("exporter", "workflow-intel"),
            ("exporterVersion", env!("CARGO_PKG_VERSION")),
        ],
    );
    let drawn = super::steps_graph::graph_for(t);
    let g = &drawn;
    let ids: HashMap<&str, String> = g
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), xml_id(&n.id)))
        .collect();
    start(
        &mut w,
        "bpmn:process",
        &[
            ("id", "Process_1"),
            ("name", &t.name),
            ("isExecutable", "false"),
        ],
    );
    write_blueprint(&mut w, t, g);
    write_nodes(&mut w, g, &ids);
    write_flows(&mut w, g, &ids);
    end(&mut w, "bpmn:process");
    write_diagram(&mut w, g, &ids);
    end(&mut w, "bpmn:definitions");
    let mut s = String::from_utf8(w.into_inner()).unwrap_or_default();
    s.push('\n');
    s
}

/// The id of the `i`th sequence flow.
fn flow_id(i: usize) -> String {
    format!("Flow_{}", i + 1)
}

/// Everything but the name and version, in `extensionElements`, for a lossless round trip;
/// the graph too when the diagram was drawn from the steps instead (the diagram is the graph
/// otherwise).
fn write_blueprint(w: &mut Writer<Vec<u8>>, t: &TemplateBody, drawn: &GraphSpec) {
    let mut extra = serde_json::to_value(t).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut extra {
        for k in ["name", "version"] {
            m.remove(k);
        }
        if drawn == &t.graph_spec {
            m.remove("graphSpec");
        }
    }
    start(w, "bpmn:extensionElements", &[]);
    start(w, "wi:blueprint", &[]);
    cdata(w, &canonical(&extra).to_string());
    end(w, "wi:blueprint");
    end(w, "bpmn:extensionElements");
}

/// One flow element per graph node, with its incoming and outgoing flows.
fn write_nodes(w: &mut Writer<Vec<u8>>, g: &GraphSpec, ids: &HashMap<&str, String>) {
    for n in &g.nodes {
        // A split whose flows carry conditions runs each lane whose condition holds.
        let inclusive = n.node_type == NodeType::Parallel
            && g.edges
                .iter()
                .any(|e| e.from == n.id && e.condition.is_some());
        let tag = if inclusive {
            Cow::Borrowed("bpmn:inclusiveGateway")
        } else {
            element(n)
        };
        let mut attrs = vec![
            ("id", ids[n.id.as_str()].clone()),
            ("name", n.label.clone()),
            ("wi:nodeId", n.id.clone()),
        ];
        if let Some(a) = &n.action {
            attrs.push(("wi:action", a.clone()));
        }
        if let Some(d) = g.edges.iter().position(|e| e.from == n.id && e.is_default) {
            attrs.push(("default", flow_id(d)));
        }
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        start(w, &tag, &attrs);
        for (i, e) in g.edges.iter().enumerate() {
            if e.to == n.id {
                start(w, "bpmn:incoming", &[]);
                let _ = w.write_event(Event::Text(quick_xml::events::BytesText::new(&flow_id(i))));
                end(w, "bpmn:incoming");
            }
        }
        for (i, e) in g.edges.iter().enumerate() {
            if e.from == n.id {
                start(w, "bpmn:outgoing", &[]);
                let _ = w.write_event(Event::Text(quick_xml::events::BytesText::new(&flow_id(i))));
                end(w, "bpmn:outgoing");
            }
        }
        end(w, &tag);
    }
}

/// One sequence flow per graph edge, with its JSON condition.
fn write_flows(w: &mut Writer<Vec<u8>>, g: &GraphSpec, ids: &HashMap<&str, String>) {
    for (i, e) in g.edges.iter().enumerate() {
        let (Some(from), Some(to)) = (ids.get(e.from.as_str()), ids.get(e.to.as_str())) else {
            continue;
        };
        let fid = flow_id(i);
        let p = e.probability.map(|p| format!("{p}"));
        let mut attrs = vec![("id", fid.as_str()), ("sourceRef", from), ("targetRef", to)];
        if let Some(p) = &p {
            attrs.push(("wi:probability", p));
        }
        match &e.condition {
            None => empty(w, "bpmn:sequenceFlow", &attrs),
            Some(c) => {
                start(w, "bpmn:sequenceFlow", &attrs);
                start(
                    w,
                    "bpmn:conditionExpression",
                    &[
                        ("xsi:type", "bpmn:tFormalExpression"),
                        ("language", "application/json"),
                    ],
                );
                cdata(w, &canonical(c).to_string());
                end(w, "bpmn:conditionExpression");
                end(w, "bpmn:sequenceFlow");
            }
        }
    }
}

/// The diagram: a shape per node at its position, a straight edge per flow.
fn write_diagram(w: &mut Writer<Vec<u8>>, g: &GraphSpec, ids: &HashMap<&str, String>) {
    start(w, "bpmndi:BPMNDiagram", &[("id", "BPMNDiagram_1")]);
    start(
        w,
        "bpmndi:BPMNPlane",
        &[("id", "BPMNPlane_1"), ("bpmnElement", "Process_1")],
    );
    let centre: HashMap<&str, (f64, f64)> = g
        .nodes
        .iter()
        .map(|n| {
            let (wd, ht) = size(n.node_type);
            (n.id.as_str(), (n.x + wd / 2.0, n.y + ht / 2.0))
        })
        .collect();
    for n in &g.nodes {
        let (wd, ht) = size(n.node_type);
        let id = &ids[n.id.as_str()];
        start(
            w,
            "bpmndi:BPMNShape",
            &[("id", &format!("{id}_di")), ("bpmnElement", id)],
        );
        empty(
            w,
            "dc:Bounds",
            &[
                ("x", &num(n.x)),
                ("y", &num(n.y)),
                ("width", &num(wd)),
                ("height", &num(ht)),
            ],
        );
        end(w, "bpmndi:BPMNShape");
    }
    for (i, e) in g.edges.iter().enumerate() {
        let (Some(a), Some(b)) = (centre.get(e.from.as_str()), centre.get(e.to.as_str())) else {
            continue;
        };
        let fid = flow_id(i);
        start(
            w,
            "bpmndi:BPMNEdge",
            &[("id", &format!("{fid}_di")), ("bpmnElement", &fid)],
        );
        empty(w, "di:waypoint", &[("x", &num(a.0)), ("y", &num(a.1))]);
        empty(w, "di:waypoint", &[("x", &num(b.0)), ("y", &num(b.1))]);
        end(w, "bpmndi:BPMNEdge");
    }
    end(w, "bpmndi:BPMNPlane");
    end(w, "bpmndi:BPMNDiagram");
}

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    pub body: TemplateBody,
    pub warnings: Vec<String>,
}

#[derive(Default)]
struct Flow {
    id: String,
    source: String,
    target: String,
    condition_text: Option<String>,
    probability: Option<f64>,
}

struct Node {
    xml_id: String,
    id: String,
    kind: String,
    node_type: Option<NodeType>,
    label: String,
    /// The catalog action: ours (`wi:action`), else the task kind's.
    action: Option<String>,
    /// A gateway's default flow (its `default` attribute).
    default_flow: Option<String>,
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    s.rsplit(':').next().unwrap_or_default().to_string()
}

/// The element's attributes, entity references resolved. A reference to an entity the
/// document cannot define for us (anything but XML's five and character references: no DTD is
/// read) is kept as written, with a note in `unresolved`.
fn attrs(e: &BytesStart<'_>, unresolved: &mut Vec<String>) -> HashMap<String, String> {
    e.attributes()
        .flatten()
        .map(|a| {
            let key = String::from_utf8_lossy(a.key.as_ref()).to_string();
            let value = match a.unescape_value() {
                Ok(v) => v.to_string(),
                Err(err) => {
                    let raw = String::from_utf8_lossy(&a.value).to_string();
                    unresolved.push(format!("attribute {key}={raw:?}: {err}"));
                    raw
                }
            };
            (key, value)
        })
        .collect()
}

fn get_local<'a>(a: &'a HashMap<String, String>, name: &str) -> Option<&'a String> {
    a.iter()
        .find(|(k, _)| k.rsplit(':').next() == Some(name))
        .map(|(_, v)| v)
}

/// How a BPMN flow element maps onto our node types, and whether that loses something.
fn map_kind(kind: &str) -> Option<(NodeType, Option<&'static str>)> {
    Some(match kind {
        "startEvent" => (NodeType::Trigger, None),
        "endEvent" => (NodeType::End, None),
        "task" => (NodeType::Action, None),
        "userTask" | "manualTask" => (NodeType::Approval, None),
        "exclusiveGateway" => (NodeType::Decision, None),
        "serviceTask" | "scriptTask" | "sendTask" | "receiveTask" | "businessRuleTask" => {
            (NodeType::Action, None)
        }
        "parallelGateway" => (NodeType::Parallel, None),
        "inclusiveGateway" => (
            NodeType::Parallel,
            Some(
                "imported as a parallel split whose lanes each run only when their flow's \
                 condition holds (a lane whose flow has no JSON condition always runs)",
            ),
        ),
        "eventBasedGateway" => (
            NodeType::Decision,
            Some(
                "imported as a choice: the event that comes first decides in the model; here a \
                 routing field of the input does",
            ),
        ),
        "complexGateway" => (
            NodeType::Decision,
            Some("imported as an exclusive choice: the graph has no complex gateways"),
        ),
        "intermediateCatchEvent" | "intermediateThrowEvent" => (
            NodeType::Action,
            Some("imported as a step: the graph has no intermediate events"),
        ),
        "subProcess" | "callActivity" | "transaction" | "adHocSubProcess" => (
            NodeType::Action,
            Some("imported as one step; the tasks inside it are listed in its description"),
        ),
        _ => return None,
    })
}

const SUBPROCESSES: &[&str] = &["subProcess", "transaction", "adHocSubProcess"];

/// Elements that carry no flow and are skipped without a warning.
const STRUCTURAL: &[&str] = &[
    "definitions",
    "process",
    "incoming",
    "outgoing",
    "documentation",
    "extensionElements",
    "BPMNDiagram",
    "BPMNPlane",
    "BPMNShape",
    "BPMNEdge",
    "Bounds",
    "waypoint",
    "BPMNLabel",
    "conditionExpression",
    "blueprint",
    "BPMNLabelStyle",
    "Font",
    "laneSet",
    "childLaneSet",
    "collaboration",
];

/// The 1-based line and column of a byte offset in `text`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..pos.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

/// "line L, column C" for a byte offset.
fn at(text: &str, pos: u64) -> String {
    let (l, c) = line_col(text, pos as usize);
    format!("line {l}, column {c}")
}

/// What reading a BPMN document collects: the first process's flow elements and sequence
/// flows, the diagram's positions, the embedded blueprint, and what was left out.
#[derive(Default)]
struct Collected {
    warnings: Vec<String>,
    /// Entity references left as written (no DTD is read, so only XML's own resolve).
    unresolved: Vec<String>,
    nodes: Vec<Node>,
    flows: Vec<Flow>,
    bounds: HashMap<String, (f64, f64)>,
    blueprint: Option<String>,
    /// The open elements, innermost last.
    stack: Vec<String>,
    processes: usize,
    in_process: bool,
    current_shape: Option<String>,
    text: String,
    skipped: HashMap<String, usize>,
    /// The lane being read, and each flow node's lane (by XML id).
    lane: Option<String>,
    lane_of: HashMap<String, String>,
    /// Pools: each process's participant name (by process id), and the first process's id.
    pools: HashMap<String, String>,
    process_id: Option<String>,
    /// Message flows between pools: (name, source, target).
    messages: Vec<(String, String, String)>,
    /// The names of the tasks inside each subprocess (by its node's XML id).
    inner: HashMap<String, Vec<String>>,
}

impl Collected {
    /// An element opens (or is empty).
    fn open(&mut self, kind: String, a: &HashMap<String, String>, is_empty: bool) {
        let parent = self.stack.last().cloned().unwrap_or_default();
        let in_process = self.in_process && parent == "process";
        match kind.as_str() {
            "process" => {
                self.processes += 1;
                self.in_process = self.processes == 1;
                if self.in_process {
                    self.process_id = a.get("id").cloned();
                }
                if self.processes > 1 {
                    self.warnings.push(format!(
                        "process {:?} skipped: only the first process is imported",
                        a.get("id").cloned().unwrap_or_default()
                    ));
                }
            }
            "sequenceFlow" if in_process => self.flows.push(Flow {
                id: a.get("id").cloned().unwrap_or_default(),
                source: a.get("sourceRef").cloned().unwrap_or_default(),
                target: a.get("targetRef").cloned().unwrap_or_default(),
                condition_text: None,
                probability: get_local(a, "probability")
                    .and_then(|p| p.parse().ok())
                    .filter(|p: &f64| (0.0..=1.0).contains(p)),
            }),
            "BPMNShape" => self.current_shape = a.get("bpmnElement").cloned(),
            "Bounds" => {
                if let Some(el) = &self.current_shape {
                    let num = |k: &str| a.get(k).and_then(|v| v.parse().ok()).unwrap_or(0.0);
                    self.bounds.insert(el.clone(), (num("x"), num("y")));
                }
            }
            k if in_process && !STRUCTURAL.contains(&k) => self.flow_element(k, a),
            "lane" if self.in_process => {
                self.lane = a.get("name").or_else(|| a.get("id")).cloned();
            }
            "participant" => {
                if let (Some(p), Some(n)) = (a.get("processRef"), a.get("name")) {
                    self.pools.insert(p.clone(), n.clone());
                }
            }
            "messageFlow" => self.messages.push((
                a.get("name").cloned().unwrap_or_default(),
                a.get("sourceRef").cloned().unwrap_or_default(),
                a.get("targetRef").cloned().unwrap_or_default(),
            )),
            k if self.in_process && !STRUCTURAL.contains(&k) && self.in_subprocess() => {
                self.inner_element(k, a)
            }
            k if !self.in_process && !STRUCTURAL.contains(&k) && parent == "definitions" => {
                *self.skipped.entry(k.to_string()).or_default() += 1;
            }
            _ => {}
        }
        if !is_empty {
            self.stack.push(kind);
            self.text.clear();
        }
    }

    /// A flow element of the process: a node, or (when the graph cannot hold it) a count.
    fn flow_element(&mut self, k: &str, a: &HashMap<String, String>) {
        let Some((t, loss)) = map_kind(k) else {
            *self.skipped.entry(k.to_string()).or_default() += 1;
            return;
        };
        let xml_id = a.get("id").cloned().unwrap_or_default();
        if let Some(loss) = loss {
            self.warnings.push(format!("{k} {xml_id:?} {loss}"));
        }
        self.nodes.push(Node {
            id: get_local(a, "nodeId")
                .cloned()
                .unwrap_or_else(|| xml_id.clone()),
            xml_id,
            kind: k.to_string(),
            node_type: Some(t),
            label: a.get("name").cloned().unwrap_or_default(),
            // Our own export names the action where a node has one (and marks every node
            // with its id); another tool's task kind names it otherwise.
            action: get_local(a, "action").cloned().or_else(|| {
                TASK_KINDS
                    .iter()
                    .find(|(kind, ..)| *kind == k && get_local(a, "nodeId").is_none())
                    .map(|(_, action, ..)| action.to_string())
            }),
            default_flow: a.get("default").cloned(),
        });
    }

    /// Whether the element opening now is inside a subprocess of the first process.
    fn in_subprocess(&self) -> bool {
        self.stack
            .iter()
            .any(|k| SUBPROCESSES.contains(&k.as_str()))
    }

    /// An element inside a subprocess: a named task is listed under the subprocess's step.
    fn inner_element(&mut self, k: &str, a: &HashMap<String, String>) {
        let is_task = matches!(
            map_kind(k),
            Some((NodeType::Action | NodeType::Approval, _))
        );
        let Some(name) = a.get("name").filter(|n| is_task && !n.trim().is_empty()) else {
            return;
        };
        if let Some(sub) = self
            .nodes
            .iter()
            .rev()
            .find(|n| SUBPROCESSES.contains(&n.kind.as_str()))
        {
            self.inner
                .entry(sub.xml_id.clone())
                .or_default()
                .push(name.clone());
        }
    }

    /// An element closes: its text is a flow's condition or the embedded blueprint.
    fn close(&mut self, kind: &str) {
        match kind {
            "conditionExpression" if self.in_process => {
                if let Some(f) = self.flows.last_mut() {
                    f.condition_text = Some(self.text.trim().to_string());
                }
            }
            "blueprint" if self.in_process => self.blueprint = Some(self.text.trim().to_string()),
            "process" => self.in_process = false,
            "BPMNShape" => self.current_shape = None,
            "flowNodeRef" if self.in_process => {
                if let Some(l) = &self.lane {
                    self.lane_of.insert(self.text.trim().to_string(), l.clone());
                }
            }
            "lane" => self.lane = None,
            _ => {}
        }
        self.stack.pop();
        self.text.clear();
    }

    /// One warning for the entity references left as written, naming the first few.
    fn note_unresolved(&mut self) {
        if self.unresolved.is_empty() {
            return;
        }
        let shown: Vec<&str> = self.unresolved.iter().take(3).map(String::as_str).collect();
        self.warnings.push(format!(
            "{} entity reference(s) are not defined by XML itself and were kept as written \
             (no DTD is read): {}",
            self.unresolved.len(),
            shown.join("; ")
        ));
    }

    /// Text inside the current element, with entity references resolved.
    fn text_of(&mut self, ev: &Event) -> Result<(), String> {
        match ev {
            Event::Text(t) => self.text.push_str(&t.decode().map_err(|e| e.to_string())?),
            Event::CData(t) => self.text.push_str(&t.decode().map_err(|e| e.to_string())?),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| e.to_string())?;
                let ch = match name.as_ref() {
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "amp" => Some('&'),
                    "apos" => Some('\''),
                    "quot" => Some('"'),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                if ch.is_none() {
                    self.unresolved.push(format!("text &{name};"));
                    self.text.push_str(&format!("&{name};"));
                }
                self.text.extend(ch);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Reads every event of the document into what it collects.
fn collect(xml: &str) -> Result<Collected, String> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut c = Collected::default();
    loop {
        let ev = reader.read_event().map_err(|e| {
            let pos = reader.error_position().max(reader.buffer_position());
            format!("malformed BPMN XML at {}: {e}", at(xml, pos))
        })?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(ev, Event::Empty(_));
                let a = attrs(e, &mut c.unresolved);
                c.open(local(e.name().as_ref()), &a, is_empty);
            }
            Event::End(e) => c.close(&local(e.name().as_ref())),
            Event::Eof => match c.stack.last() {
                Some(open) => {
                    return Err(format!(
                        "malformed BPMN XML: the document ends at {} inside <{open}>, which is \
                         never closed",
                        at(xml, reader.buffer_position())
                    ));
                }
                None => {
                    c.note_unresolved();
                    return Ok(c);
                }
            },
            other => c.text_of(&other)?,
        }
    }
}

/// Reads BPMN 2.0 XML into a template named `name` at `version`.
pub fn import(xml: &str, name: &str, version: &str) -> Result<Imported, String> {
    if xml.trim().is_empty() {
        return Err("the BPMN document is empty".into());
    }
    let mut c = collect(xml)?;
    if c.processes == 0 {
        return Err("no process element: is this BPMN 2.0?".into());
    }
    if c.nodes.is_empty() {
        return Err(
            "the process holds no flow elements (no events, tasks or gateways): \
                    there is nothing to import"
                .into(),
        );
    }
    let mut skipped: Vec<_> = std::mem::take(&mut c.skipped).into_iter().collect();
    skipped.sort();
    for (k, n) in skipped {
        c.warnings.push(format!(
            "{n} {k} element(s) not imported: the template graph cannot represent them"
        ));
    }
    let graph = graph(&mut c);
    let mut warnings = std::mem::take(&mut c.warnings);
    let body = match c.blueprint.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(mut m))) => {
            m.insert("name".into(), json!(name));
            m.insert("version".into(), json!(version));
            if !m.contains_key("graphSpec") {
                m.insert(
                    "graphSpec".into(),
                    serde_json::to_value(&graph).map_err(|e| e.to_string())?,
                );
            }
            serde_json::from_value(Value::Object(m))
                .map_err(|e| format!("the embedded workflow-intel blueprint is invalid: {e}"))?
        }
        _ => from_foreign(&c, graph, name, version, &mut warnings),
    };
    Ok(Imported { body, warnings })
}

/// A flow's JSON condition; text that is not one is dropped with a warning.
fn flow_condition(f: &Flow, warnings: &mut Vec<String>) -> Option<Value> {
    let t = f.condition_text.as_deref().filter(|t| !t.is_empty())?;
    match serde_json::from_str::<Value>(t) {
        Ok(v) if crate::conditions::parse(&v).is_ok() => Some(v),
        _ => {
            warnings.push(format!(
                "sequenceFlow {:?}: condition {t:?} is not a JSON condition and was not imported",
                f.id
            ));
            None
        }
    }
}

/// The template graph: the nodes at their diagram positions, and the flows between them.
fn graph(c: &mut Collected) -> GraphSpec {
    let by_xml: HashMap<&str, &Node> = c.nodes.iter().map(|n| (n.xml_id.as_str(), n)).collect();
    let mut edges = Vec::new();
    for f in &c.flows {
        let (Some(a), Some(b)) = (by_xml.get(f.source.as_str()), by_xml.get(f.target.as_str()))
        else {
            c.warnings.push(format!(
                "sequenceFlow {:?} skipped: its source or target was not imported",
                f.id
            ));
            continue;
        };
        edges.push(GraphEdge {
            from: a.id.clone(),
            to: b.id.clone(),
            condition: flow_condition(f, &mut c.warnings),
            probability: f.probability,
            is_default: a.default_flow.as_deref() == Some(f.id.as_str()),
        });
    }
    let nodes = c
        .nodes
        .iter()
        .map(|n| {
            let (x, y) = c.bounds.get(&n.xml_id).copied().unwrap_or_else(|| {
                c.warnings.push(format!(
                    "{} {:?} has no diagram shape; placed at 0,0",
                    n.kind, n.xml_id
                ));
                (0.0, 0.0)
            });
            GraphNode {
                id: n.id.clone(),
                node_type: n.node_type.unwrap_or(NodeType::Action),
                label: n.label.clone(),
                x,
                y,
                action: n.action.clone(),
            }
        })
        .collect();
    GraphSpec { nodes, edges }
}

/// A template from another tool's model: steps from its flow, each step's owner (its lane,
/// else its pool), each subprocess's tasks in its description, message flows as notes, and
/// the catalog actions of BPMN's task kinds declared.
fn from_foreign(
    c: &Collected,
    graph: GraphSpec,
    name: &str,
    version: &str,
    warnings: &mut Vec<String>,
) -> TemplateBody {
    let converted = super::bpmn_flow::steps_from_graph(&graph);
    warnings.extend(converted.warnings);
    let mut steps = converted.steps;
    let pool = c.process_id.as_ref().and_then(|p| c.pools.get(p));
    for s in steps.as_array_mut().into_iter().flatten() {
        let step_name = s["name"].as_str().unwrap_or_default().to_string();
        let Some(n) = c
            .nodes
            .iter()
            .find(|n| n.label == step_name || format!("{} ({})", n.label, n.id) == step_name)
        else {
            continue;
        };
        if let Some(owner) = c.lane_of.get(&n.xml_id).or(pool) {
            s["owner"] = json!(owner);
        }
        if let Some(inner) = c.inner.get(&n.xml_id) {
            s["description"] = json!(format!("{} of: {}", n.kind, inner.join(", ")));
        }
    }
    let label = |id: &str| {
        c.nodes
            .iter()
            .find(|n| n.xml_id == id)
            .map(|n| n.label.clone())
            .or_else(|| {
                c.pools
                    .iter()
                    .find(|(p, _)| *p == id)
                    .map(|(_, n)| n.clone())
            })
            .unwrap_or_else(|| id.to_string())
    };
    let notes: Vec<String> = c
        .messages
        .iter()
        .map(|(n, a, b)| format!("message {n:?} from {:?} to {:?}", label(a), label(b)))
        .collect();
    for n in &notes {
        warnings.push(format!(
            "{n}: kept as a note in settings.notes (steps do not send messages between pools)"
        ));
    }
    let actions = declarations(&steps);
    TemplateBody {
        name: name.to_string(),
        version: version.to_string(),
        template_type: TemplateType::Custom,
        description: String::new(),
        process_steps: steps,
        variables: vec![],
        settings: if notes.is_empty() {
            json!({})
        } else {
            json!({"notes": notes})
        },
        graph_spec: graph,
        is_public: false,
        actions,
    }
}

/// The catalog actions of BPMN's task kinds that the steps use.
fn declarations(steps: &Value) -> Vec<super::body::ActionDeclaration> {
    let mut out: Vec<super::body::ActionDeclaration> = Vec::new();
    for s in steps.as_array().into_iter().flatten() {
        let action = s["action"].as_str().unwrap_or_default();
        let Some((kind, a, label, latency)) = TASK_KINDS.iter().find(|(_, a, ..)| *a == action)
        else {
            continue;
        };
        if out.iter().any(|d| d.action_type == *a) {
            continue;
        }
        out.push(super::body::ActionDeclaration {
            action_type: a.to_string(),
            name: label.to_string(),
            description: format!("A BPMN {kind}, from an imported model"),
            latency_class: *latency,
            is_idempotent: false,
        });
    }
    out
}
