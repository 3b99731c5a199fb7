//! The PostgreSQL ceiling of `completeExecution`, measured in the same run as the server's
//! completions (part `pg-throughput`): pgbench, with no server in between, sends the statements
//! that the server sends for a completion (`benches/pg_ceiling/now.sql`, each its own round
//! trip), and then the same writes as one statement (`one.sql`). Half the completions stay
//! within the SLA and half pass both thresholds, as in the server's run. The values are those
//! the server sent for one completion of the bench's workflow, with the executions drawn per
//! transaction and the rollups' buckets fixed. The store's own limit for this work, on this
//! machine: a target above it cannot be met by any server in front.
use std::process::Command;

/// Runs the ceiling on the bench's database at `url`, after the server's completions there:
/// `n` completions of each shape from 16 clients. `ours` is the server's completions a second.
pub fn pg_ceiling(url: &str, n: usize, ours: f64) {
    if Command::new("pgbench").arg("--version").output().is_err() {
        println!("(pgbench not found: the store's ceiling is not measured)\n");
        return;
    }
    let ids = psql_row(
        url,
        "SELECT c.id, w.id, s.id FROM companies c JOIN workflows w ON w.company_id = c.id \
         JOIN workflow_slas s ON s.workflow_id = w.id WHERE w.name = 'Load' LIMIT 1",
    );
    let [company, workflow, sla] = [0, 1, 2].map(|i| ids[i].clone());
    // Executions drawn at random from a pool 20 times the completions: about 2.5 % of the
    // draws repeat one, whose update then finds it completed and writes less.
    let pool = n * 20;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pg_ceiling");
    let setup = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1"])
        .args(["-v", &format!("company={company}")])
        .args(["-v", &format!("workflow={workflow}")])
        .args(["-v", &format!("total={}", 2 * pool)])
        .args(["-f", &format!("{dir}/setup.sql")])
        .status();
    assert!(
        setup.is_ok_and(|s| s.success()),
        "the ceiling's setup failed"
    );
    println!("## PostgreSQL's own ceiling for a completion's statements (pgbench, same run)\n");
    println!(
        "| statements | completions | per second | the server's {ours:.0} per s as a share |\n|---|---|---|---|"
    );
    for (shape, what, base) in [
        (
            "now",
            "as the server sends them, each its own round trip",
            0,
        ),
        ("one", "the writes in one statement", pool),
    ] {
        let vars = [
            ("base", base.to_string()),
            ("pool", pool.to_string()),
            ("company", company.clone()),
            ("workflow", workflow.clone()),
            ("sla", sla.clone()),
        ];
        let (tps, done) = pgbench(url, dir, shape, &vars, n / 16);
        println!("| {what} | {done} | {tps:.0} | {:.2} |", ours / tps);
    }
    println!();
}

/// One row of `sql`'s answer, its columns split.
fn psql_row(url: &str, sql: &str) -> Vec<String> {
    let out = Command::new("psql")
        .args([url, "-AtF", " ", "-c", sql])
        .output()
        .expect("psql");
    assert!(out.status.success(), "{sql} failed");
    let row = String::from_utf8_lossy(&out.stdout);
    row.split_whitespace().map(str::to_string).collect()
}

/// Runs the shape's script from 16 clients, `each` per client; its transactions a second and
/// how many it completed. Every transaction must pass.
fn pgbench(
    url: &str,
    dir: &str,
    shape: &str,
    vars: &[(&str, String)],
    each: usize,
) -> (f64, usize) {
    let mut cmd = Command::new("pgbench");
    cmd.args(["-n", "-M", "prepared", "-c", "16", "-j", "2"])
        .args(["-t", &each.to_string()]);
    for (k, v) in vars {
        cmd.args(["-D", &format!("{k}={v}")]);
    }
    cmd.args(["-f", &format!("{dir}/{shape}.sql")]);
    let out = cmd.arg(url).output().expect("pgbench");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench {shape}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = |key: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(key)).unwrap_or("");
        // "20000/20000" for the transactions processed: the first figure.
        let figure = line[key.len().min(line.len())..].split_whitespace().next();
        let figure = figure.and_then(|f| f.split('/').next());
        figure.and_then(|f| f.parse().ok()).unwrap_or(f64::NAN)
    };
    assert_eq!(
        after("number of failed transactions:"),
        0.0,
        "pgbench {shape}: {text}"
    );
    (
        after("tps ="),
        after("number of transactions actually processed:") as usize,
    )
}
