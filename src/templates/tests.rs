//! The pure template model's tests: validation, semver, blueprints, variables and diffs.
use super::blueprint::*;
use super::body::*;
use super::diff::*;
use super::semver::*;
use super::validation::*;
use super::variables::*;
use crate::placeholders::substitute;
use serde_json::{Value, json};

pub fn standard() -> TemplateBody {
    TemplateBody {
        name: "Standard Approval Process".into(),
        version: "1.2.0".into(),
        template_type: TemplateType::Approval,
        description: "Manager approval above a threshold.".into(),
        process_steps: json!([
            {"name": "Validate", "action": "validation"},
            {"name": "Manager Approval", "action": "approval", "approver": "{{approver}}",
             "conditions": {"amount": {"$gt": "{{threshold}}"}}}
        ]),
        variables: vec![
            Variable {
                name: "approver".into(),
                var_type: VariableType::String,
                required: true,
                default: None,
                description: None,
            },
            Variable {
                name: "threshold".into(),
                var_type: VariableType::Number,
                required: false,
                default: Some(json!(1000)),
                description: None,
            },
        ],
        settings: json!({"notify": true}),
        graph_spec: GraphSpec {
            nodes: vec![
                GraphNode {
                    id: "start".into(),
                    node_type: NodeType::Trigger,
                    label: "Start".into(),
                    x: 100.0,
                    y: 100.0,
                    action: None,
                },
                GraphNode {
                    id: "step1".into(),
                    node_type: NodeType::Action,
                    label: "Validate".into(),
                    x: 200.0,
                    y: 100.0,
                    action: None,
                },
            ],
            edges: vec![GraphEdge {
                from: "start".into(),
                to: "step1".into(),
                condition: None,
                probability: None,
                is_default: false,
            }],
        },
        is_public: false,
        actions: vec![],
    }
}

#[test]
fn semver_parses_and_orders_as_semver_2_0_0_says() {
    assert_eq!(parse_semver("1.2.0"), Some((1, 2, 0)));
    assert_eq!(parse_semver("2.1.0-beta.1"), Some((2, 1, 0)));
    assert_eq!(parse_semver("1.0.0+20130313144700"), Some((1, 0, 0)));
    for bad in [
        "1.2", "1.2.0.0", "01.2.0", "1.2.x", "", "v1.2.0", "1.2.0-", "1.2.0-01",
    ] {
        assert_eq!(parse_semver(bad), None, "{bad}");
    }
    // Section 11's own example, in order.
    let ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ];
    let mut shuffled = ordered.to_vec();
    shuffled.reverse();
    shuffled.swap(1, 7);
    shuffled.sort_by(|a, b| super::semver::precedence(a, b));
    assert_eq!(shuffled, ordered);
    // Build metadata does not count.
    assert!(super::semver::at_or_below("1.0.0+build.2", "1.0.0"));
    assert!(super::semver::at_or_below("0.9.0", "1.0.0"));
    assert!(super::semver::at_or_below("1.0.0-rc.1", "1.0.0"));
    assert!(!super::semver::at_or_below("1.0.1-rc.1", "1.0.0"));
}

#[test]
fn validation_paths() {
    assert!(validate(&standard()).is_ok());
    let mut t = standard();
    t.version = "1.2".into();
    assert_eq!(validate(&t).unwrap_err().path, "version");
    let mut t = standard();
    t.graph_spec.edges.push(GraphEdge {
        from: "step1".into(),
        to: "ghost".into(),
        condition: None,
        probability: None,
        is_default: false,
    });
    assert_eq!(validate(&t).unwrap_err().path, "graphSpec.edges[1].to");
    let mut t = standard();
    t.graph_spec.nodes[1].id = "start".into();
    assert_eq!(validate(&t).unwrap_err().path, "graphSpec.nodes[1].id");
    let mut t = standard();
    t.graph_spec.nodes[0].node_type = NodeType::Action;
    assert_eq!(validate(&t).unwrap_err().path, "graphSpec.nodes");
    let mut t = standard();
    t.graph_spec.edges.clear();
    assert_eq!(validate(&t).unwrap_err().path, "graphSpec.nodes[1]");
    let mut t = standard();
    t.process_steps[0]["input"] = json!({"to": "{{nobody}}"});
    assert_eq!(validate(&t).unwrap_err().path, "processSteps[0].input.to");
    let mut t = standard();
    t.variables[1].default = Some(json!("ten"));
    assert_eq!(validate(&t).unwrap_err().path, "variables[1].default");
    let mut t = standard();
    t.process_steps[1]["conditions"] = json!({"amount": {"$gtx": 1}});
    let e = validate(&t).unwrap_err();
    assert_eq!(e.path, "processSteps[1]");
    assert!(e.message.contains("$gtx"), "{e}");
}

#[test]
fn export_is_canonical_and_reads_back() {
    let t = standard();
    let doc = export(&t);
    let back = read_blueprint(&serde_json::from_str(&doc).unwrap()).unwrap();
    assert_eq!(back, t);
    assert_eq!(export(&back), doc);
    let mut v: Value = serde_json::from_str(&doc).unwrap();
    v["formatVersion"] = json!(2);
    assert!(
        read_blueprint(&v)
            .unwrap_err()
            .message
            .contains("format version 2 is not supported")
    );
}

#[test]
fn substitution_and_variables() {
    let t = standard();
    let vars = resolve_variables(&t.variables, &json!({"approver": "cfo"})).unwrap();
    let steps = substitute(&t.process_steps, &|n| vars.get(n).cloned());
    assert_eq!(steps[1]["approver"], "cfo");
    assert_eq!(steps[1]["conditions"]["amount"]["$gt"], 1000);
    assert_eq!(
        resolve_variables(&t.variables, &json!({}))
            .unwrap_err()
            .path,
        "variables.approver"
    );
    assert!(resolve_variables(&t.variables, &json!({"approver": 5})).is_err());
}

#[test]
fn diff_flags_breaking_changes() {
    let a = standard();
    let mut b = standard();
    b.version = "1.3.0".into();
    b.process_steps = json!([{"name": "Validate", "action": "validation"}]);
    let d = diff(&a, &b);
    assert_eq!(d.steps.removed, vec!["Manager Approval"]);
    assert!(d.breaking);
    let mut c = standard();
    c.description = "only words".into();
    assert!(!diff(&a, &c).breaking);
    let mut e = standard();
    e.variables.push(Variable {
        name: "region".into(),
        var_type: VariableType::String,
        required: true,
        default: None,
        description: None,
    });
    let d = diff(&a, &e);
    assert_eq!(d.variables.added, vec!["region"]);
    assert!(d.breaking);
}
