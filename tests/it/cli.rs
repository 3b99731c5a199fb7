//! The command line as a user runs it: the real binary on a database of its own (a SQLite
//! file, or a new PostgreSQL database when TEST_DATABASE_URL is set).
use crate::support::TempDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use workflow_intel::entity::{company, execution, user, workflow};

const BIN: &str = env!("CARGO_BIN_EXE_workflow-intel");

/// A database for CLI runs; kept alive (and dropped) with the test.
pub(crate) struct CliDb {
    url: String,
    _dir: Option<TempDir>,
    _pg: Option<TempDatabase>,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> TempDir {
    let d = std::env::temp_dir().join(format!("wi-cli-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

impl CliDb {
    pub(crate) async fn new() -> CliDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let pg = TempDatabase::create(&base).await;
                CliDb {
                    url: pg.url.clone(),
                    _dir: None,
                    _pg: Some(pg),
                }
            }
            _ => {
                let dir = temp_dir();
                CliDb {
                    url: format!("sqlite://{}?mode=rwc", dir.0.join("cli.db").display()),
                    _dir: Some(dir),
                    _pg: None,
                }
            }
        }
    }

    /// Runs the binary with `--database-url` appended.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// Runs the binary with `--database-url` appended and settings in its environment.
    pub(crate) fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(BIN)
            .args(args)
            .args(["--database-url", &self.url])
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .output()
            .expect("run workflow-intel")
    }

    /// Creates company Acme with an admin (ops@acme.io) through `token create`, and returns
    /// the token it prints.
    pub(crate) fn admin_token(&self) -> String {
        let made = self.run(&[
            "token",
            "create",
            "--company",
            "Acme",
            "--create-company",
            "--email",
            "ops@acme.io",
            "--role",
            "admin",
        ]);
        assert!(made.status.success(), "{made:?}");
        String::from_utf8(made.stdout).unwrap().trim().to_string()
    }

    /// Starts the binary as [`CliDb::spawn`] does, with environment settings and at most
    /// `open_files` open files (`ulimit -n` in a shell that then becomes the server).
    pub(crate) fn spawn_limited(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        open_files: u32,
    ) -> std::process::Child {
        Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {open_files} && exec \"$0\" \"$@\""))
            .arg(BIN)
            .args(args)
            .args(["--database-url", &self.url])
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start workflow-intel under sh")
    }

    /// Starts the binary with `--database-url` appended, without waiting for it.
    pub(crate) fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(BIN)
            .args(args)
            .args(["--database-url", &self.url])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start workflow-intel")
    }

    async fn conn(&self) -> DatabaseConnection {
        workflow_intel::db::connect(&self.url, None).await.unwrap()
    }

    /// Rows in the company, user, workflow and execution tables.
    async fn counts(&self) -> [u64; 4] {
        let c = self.conn().await;
        let counts = [
            company::Entity::find().count(&c).await.unwrap(),
            user::Entity::find().count(&c).await.unwrap(),
            workflow::Entity::find().count(&c).await.unwrap(),
            execution::Entity::find().count(&c).await.unwrap(),
        ];
        c.close().await.ok();
        counts
    }
}

pub(crate) fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[track_caller]
fn fails_with(o: &Output, needle: &str) -> String {
    let (out, err) = text(o);
    assert!(!o.status.success(), "expected a failure: {out}{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    err
}

#[track_caller]
fn succeeds(o: &Output) -> String {
    let (out, err) = text(o);
    assert!(o.status.success(), "{out}{err}");
    out
}

fn mapping(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn write(dir: &Path, name: &str, body: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().to_string()
}

/// `running-example.xes` cut right after its `n`th `</trace>`.
fn cut_after_trace(xes: &str, n: usize) -> String {
    let mut end = 0;
    for _ in 0..n {
        end += xes[end..].find("</trace>").unwrap() + "</trace>".len();
    }
    xes[..end].to_string()
}

#[tokio::test]
async fn a_log_cut_after_a_trace_is_refused_and_leaves_no_company_behind() {
    let Some(logs) = crate::templates::event_logs() else {
        return;
    };
    let db = CliDb::new().await;
    let dir = temp_dir();
    let xes = std::fs::read_to_string(logs.join("running-example.xes")).unwrap();
    let cut = write(&dir.0, "cut.xes", cut_after_trace(&xes, 3).as_bytes());
    let m = mapping("running-example.toml");
    let args = ["import-log", &cut, "--mapping", &m, "--company", "Acme"];
    let o = db.run(&[&args[..], &["--create-company"]].concat());
    let err = fails_with(&o, "without </log>");
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(
        !err.contains("imported,"),
        "no progress line claims an import: {err}"
    );
    assert_eq!(
        db.counts().await,
        [0, 0, 0, 0],
        "company, users, workflow, executions"
    );

    // The whole file imports, into a company created in the same transaction, with no user.
    let full = logs
        .join("running-example.xes")
        .to_string_lossy()
        .to_string();
    let o = db.run(&[
        "import-log",
        &full,
        "--mapping",
        &m,
        "--company",
        "Acme",
        "--create-company",
    ]);
    let out = succeeds(&o);
    assert!(out.contains("6 executions imported"), "{out}");
    assert!(
        text(&o).1.contains("6 staged"),
        "progress says staged: {}",
        text(&o).1
    );
    assert_eq!(
        db.counts().await,
        [1, 0, 1, 6],
        "no importer@ user is invented"
    );
    // The import says what it discovered and which mapped attributes it found.
    assert!(
        out.contains("discovered 9 steps (12 process-tree nodes"),
        "{out}"
    );
    assert!(
        out.contains("attribute \"Costs\": present in 6 of 6 cases"),
        "{out}"
    );
    old_log_windows(&db);
}

/// The running example is from 2010 and 2011: the default window says what it left out, and
/// `--days all` and `--since` reach it.
fn old_log_windows(db: &CliDb) {
    let out = succeeds(&db.run(&["suggestions", "generate"]));
    assert!(
        out.contains("history: 6 finished executions started between 2010-12-30 and 2011-01-06; 6 of them before the window were not mined (widen it"),
        "{out}"
    );
    let out = succeeds(&db.run(&["suggestions", "generate", "--days", "all"]));
    assert!(out.contains("; 0 of them before the window"), "{out}");
    let out = succeeds(&db.run(&["suggestions", "generate", "--since", "2011-01-01"]));
    assert!(out.contains("; 3 of them before the window"), "{out}");
    let o = db.run(&["suggestions", "generate", "--days", "100000000"]);
    fails_with(&o, "outside the representable range of dates");
    fails_with(
        &db.run(&["suggestions", "generate", "--days", "soon"]),
        "--days takes a whole number of days or \"all\"",
    );
    fails_with(
        &db.run(&["suggestions", "generate", "--days", "0"]),
        "days must be greater than 0",
    );
    fails_with(
        &db.run(&["suggestions", "generate", "--since", "2011-02-30"]),
        "invalid value",
    );
}

/// A log of `cases` traces c1, c2, … of three events each; trace `long` has `events` events
/// and trace `wide` a 2 MiB attribute after its name.
fn generated_xes(cases: usize, long: usize, events: usize, wide: usize) -> String {
    let mut s =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<log xes.version=\"1.0\">\n");
    for c in 1..=cases {
        s += &format!("<trace><string key=\"concept:name\" value=\"c{c}\"/>");
        if c == wide {
            s += &format!("<string key=\"note\" value=\"{}\"/>", "x".repeat(2 << 20));
        }
        let n = if c == long { events } else { 3 };
        for e in 0..n {
            let a = ["register", "check", "decide"][e % 3];
            s += &format!(
                "<event><string key=\"concept:name\" value=\"{a}\"/><date key=\"time:timestamp\" value=\"2024-01-01T{:02}:{:02}:00+00:00\"/></event>",
                c % 24,
                e % 60
            );
        }
        s += "</trace>\n";
    }
    s + "</log>\n"
}

fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(body).unwrap();
    z.finish().unwrap()
}

#[tokio::test]
async fn a_case_over_a_size_limit_is_named_and_nothing_is_written_and_big_logs_are_sampled() {
    let db = CliDb::new().await;
    let dir = temp_dir();
    let m = write(&dir.0, "m.toml", b"workflow = \"Generated\"\n[case]\nid = \"concept:name\"\n[event]\nactivity = \"concept:name\"\ntimestamp = \"time:timestamp\"\n");
    let import = |file: &str, env: &[(&str, &str)]| {
        let args = ["import-log", file, "--mapping", &m, "--company", "Acme"];
        db.run_with(&[&args[..], &["--create-company"]].concat(), env)
    };
    // Trace c4 holds 50 events, over a limit of 20.
    let f = write(&dir.0, "long.xes", generated_xes(6, 4, 50, 0).as_bytes());
    let limit = [("IMPORT_MAX_EVENTS_PER_CASE", "20")];
    let err = fails_with(
        &import(&f, &limit),
        "case \"c4\" (number 4 in the file) has more than 20 events",
    );
    assert!(err.contains("IMPORT_MAX_EVENTS_PER_CASE"), "{err}");
    // Within the default limit the same file imports.
    assert!(succeeds(&import(&f, &[])).contains("6 executions imported"));
    let db = CliDb::new().await;
    let import = |file: &str, env: &[(&str, &str)]| {
        let args = ["import-log", file, "--mapping", &m, "--company", "Acme"];
        db.run_with(&[&args[..], &["--create-company"]].concat(), env)
    };
    // A 2 MiB attribute in trace c3 of a compressed log, over the default 1 MiB.
    let f = write(
        &dir.0,
        "wide.xes.gz",
        &gzip(generated_xes(5, 0, 0, 3).as_bytes()),
    );
    let err = fails_with(
        &import(&f, &[]),
        "case \"c3\" (number 3 in the file): an element near byte",
    );
    assert!(
        err.contains("longer than 1048576 bytes") && err.contains("IMPORT_MAX_ATTRIBUTE_BYTES"),
        "{err}"
    );
    // The same in a CSV column.
    let csv = format!(
        "case,activity,time\r\n1,a,2024-01-01T00:00:00Z\r\n2,{},2024-01-01T00:00:00Z\r\n",
        "y".repeat(2 << 20)
    );
    let f = write(&dir.0, "wide.csv", csv.as_bytes());
    let cm = write(&dir.0, "c.toml", b"workflow = \"Generated\"\n[case]\nid = \"case\"\n[event]\nactivity = \"activity\"\ntimestamp = \"time\"\n");
    let args = [
        "import-log",
        &f,
        "--mapping",
        &cm,
        "--company",
        "Acme",
        "--create-company",
    ];
    let err = fails_with(
        &db.run(&args),
        "case \"2\" (number 2 in the file): column \"activity\" on CSV line 3",
    );
    assert!(err.contains("IMPORT_MAX_ATTRIBUTE_BYTES"), "{err}");
    assert_eq!(db.counts().await, [0, 0, 0, 0], "nothing half-written");
    // More cases than discovery reads: it samples, says so, and every case is imported.
    let f = write(&dir.0, "many.xes", generated_xes(400, 0, 0, 0).as_bytes());
    let out = succeeds(&import(&f, &[("DISCOVERY_MAX_CASES", "100")]));
    assert!(
        out.contains("a uniform sample of 100 of the log's 400 cases"),
        "{out}"
    );
    assert!(out.contains("400 executions imported"), "{out}");
}

const CSV_HEADER: &str = "case,activity,time,resource\r\n";

fn csv_rows() -> String {
    let mut s = String::from(CSV_HEADER);
    for case in 1..=3 {
        for (i, a) in ["register request", "examine casually", "pay compensation"]
            .iter()
            .enumerate()
        {
            s += &format!("{case},{a},2024-03-0{case} 1{i}:00:00,Sara\r\n");
        }
    }
    s
}

const CSV_MAPPING: &str = r#"
workflow = "Compensation requests"
timestamp_format = "%Y-%m-%d %H:%M:%S"
[case]
id = "case"
[event]
activity = "activity"
timestamp = "time"
resource = "resource"
[[approvals]]
activity = "pay compensation"
decision = "approved"
[[input]]
attribute = "amount"
type = "number"
"#;

#[tokio::test]
async fn a_csv_missing_a_mapped_column_cut_mid_line_or_with_bad_times_imports_nothing() {
    let db = CliDb::new().await;
    let dir = temp_dir();
    let m = write(&dir.0, "m.toml", CSV_MAPPING.as_bytes());
    let with_amount = |s: &str| {
        s.replace(",resource\r\n", ",resource,amount\r\n")
            .replace(",Sara\r\n", ",Sara,120\r\n")
    };
    let import = |file: &str| {
        db.run(&[
            "import-log",
            file,
            "--mapping",
            &m,
            "--company",
            "Acme",
            "--create-company",
        ])
    };
    // The mapping names an input column the header lacks.
    let f = write(&dir.0, "no-amount.csv", csv_rows().as_bytes());
    fails_with(&import(&f), "no column \"amount\"");
    // The resource column is missing: it is named, not replaced by "approver".
    let no_resource = with_amount(&csv_rows()).replace(",resource,", ",who,");
    let f = write(&dir.0, "no-resource.csv", no_resource.as_bytes());
    fails_with(&import(&f), "no column \"resource\"");
    // The file ends mid-line (its last record is cut within the timestamp).
    let full = with_amount(&csv_rows());
    let f = write(&dir.0, "cut.csv", &full.as_bytes()[..full.len() - 12]);
    fails_with(&import(&f), "middle of a line");
    // Garbage timestamps in the last case: the first cases are not kept either.
    let bad = full.replace("2024-03-03 12:00:00", "soon");
    let f = write(&dir.0, "bad.csv", bad.as_bytes());
    fails_with(&import(&f), "cannot read timestamp \"soon\"");
    // A NUL in the last case's resource (PostgreSQL cannot store it): named, nothing kept.
    let nul = full.replace("2024-03-03 12:00:00,Sara", "2024-03-03 12:00:00,Sa\0ra");
    let f = write(&dir.0, "nul.csv", nul.as_bytes());
    fails_with(&import(&f), "case \"3\" (number 3 in the file): event 3");
    assert_eq!(db.counts().await, [0, 0, 0, 0], "nothing half-written");

    let f = write(&dir.0, "good.csv", full.as_bytes());
    let out = succeeds(&import(&f));
    assert!(out.contains("3 executions imported"), "{out}");
    let c = db.conn().await;
    let approvers: Vec<Option<String>> = c
        .query_all_raw(sea_orm::Statement::from_string(
            c.get_database_backend(),
            "SELECT approver FROM step_executions WHERE approver IS NOT NULL",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("", "approver").unwrap())
        .collect();
    assert_eq!(approvers, vec![Some("Sara".to_string()); 3]);
    c.close().await.ok();
}

#[tokio::test]
async fn commands_refuse_unknown_companies_and_default_to_the_only_one() {
    let db = CliDb::new().await;
    // No company at all.
    let o = db.run(&["suggestions", "generate"]);
    fails_with(&o, "there are no companies yet");
    let o = db.run(&[
        "token",
        "create",
        "--company",
        "Acme",
        "--email",
        "a@acme.io",
        "--role",
        "admin",
    ]);
    fails_with(&o, "pass --create-company");
    assert_eq!(db.counts().await, [0, 0, 0, 0]);
    let o = db.run(&[
        "token",
        "create",
        "--company",
        "Acme",
        "--create-company",
        "--email",
        "a@acme.io",
        "--role",
        "admin",
    ]);
    succeeds(&o);
    // The only company is the default; a typo is an error naming the known ones.
    let out = succeeds(&db.run(&["suggestions", "generate"]));
    assert!(out.contains("0 new suggestions"), "{out}");
    let o = db.run(&["suggestions", "generate", "--company", "Acne"]);
    fails_with(&o, "no company \"Acne\"; known companies: \"Acme\"");
    let o = db.run(&["token", "list", "--company", "Acne"]);
    fails_with(&o, "known companies: \"Acme\"");
    assert!(succeeds(&db.run(&["token", "list"])).contains("a@acme.io"));
    let dir = temp_dir();
    let f = write(&dir.0, "t.json", b"{}");
    let o = db.run(&["templates", "import", &f, "--company", "Acme Inc"]);
    fails_with(&o, "known companies: \"Acme\"");
    assert_eq!(
        db.counts().await[..2],
        [1, 1],
        "one company, one user: the token's"
    );
    // With two companies, a command that names none says which there are.
    let o = db.run(&[
        "token",
        "create",
        "--company",
        "Bank",
        "--create-company",
        "--email",
        "b@bank.io",
        "--role",
        "viewer",
    ]);
    succeeds(&o);
    let o = db.run(&["suggestions", "generate"]);
    fails_with(
        &o,
        "--company is needed: known companies: \"Acme\", \"Bank\"",
    );
}

#[tokio::test]
async fn a_workflow_exports_as_bpmn_and_becomes_a_template_from_the_command_line() {
    let db = CliDb::new().await;
    db.admin_token();
    let dir = temp_dir();
    let f = write(&dir.0, "log.csv", csv_rows().as_bytes());
    let mapping = CSV_MAPPING.split("[[input]]").next().unwrap();
    let m = write(&dir.0, "m.toml", mapping.as_bytes());
    succeeds(&db.run(&["import-log", &f, "--mapping", &m, "--company", "Acme"]));
    let c = db.conn().await;
    let wf = workflow::Entity::find().one(&c).await.unwrap().unwrap();
    c.close().await.ok();
    let id = wf.id.to_string();

    let xml = succeeds(&db.run(&["workflows", "export", &id, "--bpmn"]));
    assert!(xml.starts_with("<?xml"), "{xml}");
    for element in [
        "<bpmn:startEvent",
        "<bpmn:endEvent",
        "<dc:Bounds",
        "register request",
    ] {
        assert!(xml.contains(element), "{element}: {xml}");
    }
    let doc = succeeds(&db.run(&["workflows", "export", &id]));
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["template"]["processSteps"], wf.steps);
    assert_eq!(doc["template"]["name"], "Compensation requests");

    let args = [
        "templates",
        "from-workflow",
        &id,
        "--name",
        "Compensation",
        "--version",
        "1.0.0",
    ];
    let out = succeeds(&db.run(&args));
    assert!(out.contains("as template Compensation 1.0.0"), "{out}");
    let args = [
        "templates",
        "from-workflow",
        &id,
        "--name",
        "Compensation",
        "--version",
        "0.9.0",
    ];
    fails_with(&db.run(&args), "is not above the latest version, 1.0.0");
    let missing = uuid::Uuid::now_v7().to_string();
    fails_with(
        &db.run(&["workflows", "export", &missing, "--bpmn"]),
        "not found",
    );
}
