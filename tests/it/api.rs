//! The GraphQL API end to end: auth, tenancy, the catalog and workflows.
use crate::support::*;
use serde_json::json;
use workflow_intel::model::Role;

#[tokio::test]
async fn demo_workflows_list_and_an_action_round_trips() {
    let app = TestApp::spawn().await;
    let issued = workflow_intel::seed::seed_demo(&app.db).await.unwrap();
    let t = issued.token.as_str();
    let d = app
        .data(
            t,
            "{ workflows { totalCount edges { node { name status steps } } } }",
            json!({}),
        )
        .await;
    let names: Vec<_> = d["workflows"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains(&"Discount Approval".to_string()),
        "{names:?}"
    );
    let discount = &d["workflows"]["edges"][0]["node"];
    assert_eq!(discount["steps"].as_array().unwrap().len(), 4);

    let created = app
        .data(
            t,
            CREATE_ACTION,
            json!({"input": {"name": "Post to Slack", "actionType": "slack_post", "latencyClass": "FAST",
                             "isIdempotent": false, "sideEffects": ["external_message"],
                             "inputSchema": {"type": "object", "required": ["channel"]}}}),
        )
        .await;
    let id = created["createAction"]["action"]["id"].as_str().unwrap();
    let back = app
        .data(
            t,
            "query($id: ID!) { action(id: $id) { name actionType latencyClass isIdempotent sideEffects inputSchema executionCount } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(back["action"]["name"], "Post to Slack");
    assert_eq!(back["action"]["latencyClass"], "FAST");
    assert_eq!(back["action"]["sideEffects"], json!(["external_message"]));
    assert_eq!(
        back["action"]["inputSchema"]["required"],
        json!(["channel"])
    );
    assert_eq!(back["action"]["executionCount"], 0);

    // Seeding again does not duplicate the demo data.
    let again = workflow_intel::seed::seed_demo(&app.db).await.unwrap();
    let d = app
        .data(&again.token, "{ workflows { totalCount } }", json!({}))
        .await;
    assert_eq!(d["workflows"]["totalCount"], 2);
}

#[tokio::test]
async fn missing_or_bad_tokens_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let v = app.gql(None, "{ actions { totalCount } }", json!({})).await;
    assert_eq!(code(&v), "UNAUTHENTICATED");
    let v = app
        .gql(
            Some("wi_not-a-real-token"),
            "{ workflows { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), "UNAUTHENTICATED");
    let v = app
        .gql(
            None,
            CREATE_ACTION,
            json!({"input": {"name": "x", "actionType": "x"}}),
        )
        .await;
    assert_eq!(code(&v), "UNAUTHENTICATED");
    // Introspection needs no token, so the playground's docs work before one is entered.
    let v = app
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(v["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn a_viewer_cannot_mutate() {
    let app = TestApp::spawn().await;
    let viewer = app.token("Acme", "viewer@acme.io", Role::Viewer).await;
    let v = app
        .gql(
            Some(&viewer),
            CREATE_ACTION,
            json!({"input": {"name": "x", "actionType": "x_y"}}),
        )
        .await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    let v = app
        .gql(
            Some(&viewer),
            CREATE_WORKFLOW,
            json!({"input": {"name": "w", "steps": []}}),
        )
        .await;
    assert_eq!(code(&v), "FORBIDDEN");
    // …but may read.
    let d = app
        .data(
            &viewer,
            "{ actions { totalCount } viewer { role } }",
            json!({}),
        )
        .await;
    assert_eq!(d["viewer"]["role"], "VIEWER");
    assert_eq!(d["actions"]["totalCount"], 0);
}

#[tokio::test]
async fn companies_never_see_each_other() {
    let app = TestApp::spawn().await;
    let a = app.token("Company A", "admin@a.io", Role::Admin).await;
    let b = app.token("Company B", "admin@b.io", Role::Admin).await;
    let action = create_action(&app, &a, "a_only").await;
    let wf = create_workflow(
        &app,
        &a,
        "A's flow",
        json!([{"name": "s", "action": "a_only"}]),
    )
    .await;
    let action_id = action["id"].as_str().unwrap();
    let wf_id = wf["id"].as_str().unwrap();

    // Lists.
    let d = app
        .data(
            &b,
            "{ actions { totalCount edges { node { id } } } workflows { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(d["actions"]["totalCount"], 0);
    assert_eq!(d["actions"]["edges"], json!([]));
    assert_eq!(d["workflows"]["totalCount"], 0);
    // By id and in writes: exactly like a missing id.
    let missing = uuid::Uuid::now_v7().to_string();
    let by_id = "query($id: ID!) { action(id: $id) { id } }";
    app.all_not_found(
        &b,
        &[
            (by_id, json!({"id": action_id})),
            (by_id, json!({"id": missing})),
            (by_id, json!({"id": "not-a-uuid"})),
            ("query($id: ID!) { workflow(id: $id) { id } }", json!({"id": wf_id})),
            (
                "mutation($id: ID!) { updateAction(input: {id: $id, name: \"pwned\"}) { action { id } } }",
                json!({"id": action_id}),
            ),
            (
                "mutation($id: ID!) { deleteWorkflow(input: {id: $id}) { deletedId } }",
                json!({"id": wf_id}),
            ),
            (
                "query { validateActionInput(actionType: \"a_only\", input: {}) { valid } }",
                json!({}),
            ),
        ],
    )
    .await;
    // B may use the same action type for its own catalog.
    create_action(&app, &b, "a_only").await;
    // A's rows are intact.
    let d = app
        .data(
            &a,
            "query($id: ID!) { action(id: $id) { name } workflows { totalCount } }",
            json!({"id": action_id}),
        )
        .await;
    assert_eq!(d["action"]["name"], "Action a_only");
    assert_eq!(d["workflows"]["totalCount"], 1);
}

#[tokio::test]
async fn catalog_validates_schemas_and_inputs() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    let v = app
        .gql(Some(&t), CREATE_ACTION, json!({"input": {"name": "x", "actionType": "bad_schema", "inputSchema": {"type": "banana"}}}))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    assert!(message(&v).contains("inputSchema"), "{v}");
    let v = app
        .gql(
            Some(&t),
            CREATE_ACTION,
            json!({"input": {"name": "x", "actionType": "Bad Type"}}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");

    let a = app
        .data(
            &t,
            CREATE_ACTION,
            json!({"input": {"name": "Email", "actionType": "send_email", "inputSchema": {
                "type": "object", "required": ["to"],
                "properties": {"to": {"type": "string"}, "cc": {"type": "array", "items": {"type": "string"}}}}}}),
        )
        .await;
    let id = a["createAction"]["action"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .gql(
            Some(&t),
            CREATE_ACTION,
            json!({"input": {"name": "Dup", "actionType": "send_email"}}),
        )
        .await;
    assert_eq!(code(&v), "CONFLICT");

    let d = app
        .data(&t, "query($i: JSON!) { validateActionInput(actionType: \"send_email\", input: $i) { valid errors { pointer message } } }",
              json!({"i": {"to": 5, "cc": ["ok", 7]}}))
        .await;
    let r = &d["validateActionInput"];
    assert_eq!(r["valid"], false);
    let pointers: Vec<_> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/to") && pointers.contains(&"/cc/1"),
        "{pointers:?}"
    );
    let d = app
        .data(&t, "{ validateActionInput(actionType: \"send_email\", input: {to: \"a@b.c\"}) { valid errors { pointer } } }", json!({}))
        .await;
    assert_eq!(d["validateActionInput"]["valid"], true);

    // Update: a bad schema is refused and nothing changes; null clears the schema.
    let v = app
        .gql(Some(&t), "mutation($id: ID!) { updateAction(input: {id: $id, outputSchema: {minLength: -3}}) { action { id } } }", json!({"id": id}))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    let d = app
        .data(&t, "mutation($id: ID!) { updateAction(input: {id: $id, inputSchema: null, latencyClass: SLOW}) { action { inputSchema latencyClass name } } }", json!({"id": id}))
        .await;
    assert_eq!(d["updateAction"]["action"]["inputSchema"], json!(null));
    assert_eq!(d["updateAction"]["action"]["latencyClass"], "SLOW");
    assert_eq!(d["updateAction"]["action"]["name"], "Email");

    // Runtime stats are read-only: the input type has no such field.
    let v = app
        .gql(Some(&t), "mutation($id: ID!) { updateAction(input: {id: $id, executionCount: 5}) { action { id } } }", json!({"id": id}))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");

    let d = app
        .data(
            &t,
            "mutation($id: ID!) { deleteAction(input: {id: $id}) { deletedId } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(d["deleteAction"]["deletedId"], id.as_str());
    let v = app
        .gql(
            Some(&t),
            "query($id: ID!) { action(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&v), "NOT_FOUND");
}

#[tokio::test]
async fn workflows_reject_structural_errors_with_the_step_index() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Editor).await;
    for (steps, want) in [
        (json!({"not": "a list"}), "steps must be a list"),
        (
            json!([{"name": "ok", "action": "x"}, {"name": "no action"}]),
            "steps[1]",
        ),
        (
            json!([{"name": "a", "action": "x", "branches": [{"condition": {"k": 1}, "next_step": "ghost"}]}]),
            "steps[0] (a): branches[0].next_step refers to \"ghost\"",
        ),
        (
            json!([{"name": "a", "action": "x"}, {"name": "a", "action": "x"}]),
            "steps[1]: duplicate step name",
        ),
    ] {
        let v = app
            .gql(
                Some(&t),
                CREATE_WORKFLOW,
                json!({"input": {"name": "w", "steps": steps}}),
            )
            .await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
        let msg = message(&v);
        assert!(msg.contains(want), "{msg} should contain {want}");
    }
    let d = app
        .data(&t, "{ workflows { totalCount } }", json!({}))
        .await;
    assert_eq!(d["workflows"]["totalCount"], 0, "nothing half-saved");

    let wf = create_workflow(&app, &t, "Flow", json!([{"name": "s1", "action": "x"}])).await;
    assert_eq!(wf["status"], "DRAFT");
    assert_eq!(wf["owner"]["email"], "admin@acme.io");
    let id = wf["id"].as_str().unwrap();
    let d = app
        .data(
            &t,
            "mutation($id: ID!) { activateWorkflow(input: {id: $id}) { workflow { status } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(d["activateWorkflow"]["workflow"]["status"], "ACTIVE");
    let d = app.data(&t, "{ active: workflows(filter: {status: ACTIVE}) { totalCount } drafts: workflows(filter: {status: DRAFT}) { totalCount } }", json!({})).await;
    assert_eq!(d["active"]["totalCount"], 1);
    assert_eq!(d["drafts"]["totalCount"], 0);

    let v = app
        .gql(Some(&t), "mutation($id: ID!) { updateWorkflow(input: {id: $id, steps: [{name: \"x\"}]}) { workflow { id } } }", json!({"id": id}))
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    let d = app
        .data(&t, "mutation($id: ID!) { updateWorkflow(input: {id: $id, status: ARCHIVED, name: \"Renamed\"}) { workflow { name status } } }", json!({"id": id}))
        .await;
    assert_eq!(d["updateWorkflow"]["workflow"]["name"], "Renamed");
    let v = app
        .gql(
            Some(&t),
            "mutation($id: ID!) { activateWorkflow(input: {id: $id}) { workflow { id } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&v), "CONFLICT");
}

#[tokio::test]
async fn pagination_walks_every_item_once() {
    let app = TestApp::spawn().await;
    let t = app.token("Acme", "admin@acme.io", Role::Admin).await;
    for i in 0..7 {
        create_action(&app, &t, &format!("act_{i}")).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = app
            .data(&t, "query($after: String) { actions(first: 3, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { actionType } } } }",
                  json!({"after": after}))
            .await;
        let c = &d["actions"];
        assert_eq!(c["totalCount"], 7);
        for e in c["edges"].as_array().unwrap() {
            seen.push(e["node"]["actionType"].as_str().unwrap().to_string());
        }
        if c["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(c["pageInfo"]["endCursor"].as_str().unwrap().to_string());
    }
    let want: Vec<_> = (0..7).map(|i| format!("act_{i}")).collect();
    assert_eq!(seen, want);
    let v = app
        .gql(
            Some(&t),
            "{ actions(first: 1000) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    let v = app
        .gql(
            Some(&t),
            "{ actions(after: \"garbage\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), "BAD_USER_INPUT");
    let d = app
        .data(
            &t,
            "{ actions(filter: {search: \"act_3\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(d["actions"]["totalCount"], 1);
}
