//! Headless Chromium driven from Rust through `playground/browser.mjs`: one JSON command per
//! line, one answer per line. Every request to another origin is blocked, and any request the
//! pages tried or any error they threw fails the step that saw it.
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// Chromium's path, or None (with a notice) where Chromium, node or the playground's
/// node_modules are missing; with REQUIRE_BROWSER=1 (CI) that is a failure instead.
pub fn available(what: &str) -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var("CHROMIUM").unwrap_or_default(),
        "/usr/bin/chromium".into(),
        "/usr/bin/chromium-browser".into(),
    ];
    let chromium = candidates
        .into_iter()
        .find(|c| !c.is_empty() && Path::new(c).exists());
    let driver = root
        .join("playground/node_modules/playwright-core")
        .exists();
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok();
    if let (Some(c), true, true) = (&chromium, driver, node) {
        return Some(c.clone());
    }
    let msg = format!(
        "{what} skipped: needs /usr/bin/chromium (Debian package chromium), node, and `npm ci` in playground/"
    );
    if std::env::var("REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("{msg}");
    }
    eprintln!("NOTICE: {msg}");
    None
}

pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Browser {
    pub fn launch(chromium: &str) -> Browser {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("playground/browser.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .env("CHROMIUM", chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start node playground/browser.mjs");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Browser {
            child,
            stdin,
            lines,
        }
    }

    /// Sends one command and returns its value; panics on a failed command, a blocked
    /// request or a page error.
    pub async fn run(&mut self, cmd: Value) -> Value {
        self.stdin
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .unwrap();
        let wait = std::time::Duration::from_secs(90);
        let line = tokio::time::timeout(wait, self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no answer to {cmd} within 90 s"))
            .unwrap()
            .unwrap_or_else(|| panic!("the browser driver exited on {cmd}"));
        let a: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(a["blocked"], json!([]), "requests to other origins: {a}");
        assert_eq!(a["errors"], json!([]), "page errors: {a}");
        assert_eq!(a["ok"], true, "{cmd} failed: {}", a["error"]);
        a["value"].clone()
    }

    pub async fn open(&mut self, page: &str, url: &str) {
        self.run(json!({"op": "open", "page": page, "url": url}))
            .await;
    }

    /// Waits (at most 30 s) until the JavaScript expression is truthy, and returns it.
    pub async fn wait(&mut self, page: &str, js: &str) -> Value {
        self.run(json!({"op": "wait", "page": page, "js": js}))
            .await
    }

    pub async fn eval(&mut self, page: &str, js: &str) -> Value {
        self.run(json!({"op": "eval", "page": page, "js": js}))
            .await
    }

    pub async fn click(&mut self, page: &str, selector: &str) {
        self.run(json!({"op": "click", "page": page, "selector": selector}))
            .await;
    }

    pub async fn fill(&mut self, page: &str, selector: &str, value: &str) {
        let cmd = json!({"op": "fill", "page": page, "selector": selector, "value": value});
        self.run(cmd).await;
    }

    pub async fn screenshot(&mut self, page: &str, path: &Path) {
        let cmd = json!({"op": "screenshot", "page": page, "path": path});
        self.run(cmd).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
