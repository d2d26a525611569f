//! A real Better Auth 1.7 server (`tests/interop/server.mjs` on Node), started as a child
//! process on PostgreSQL; killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::SECRET;

/// The interop project's directory.
pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Whether `npm ci` has been run there; outside CI a missing install skips the test.
pub fn installed() -> bool {
    if project_dir().join("node_modules/better-auth").exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tests/interop/node_modules is missing: run `npm ci --prefix tests/interop`"
    );
    eprintln!("skipping: run `npm ci --prefix tests/interop` to test against a real Better Auth");
    false
}

fn command(database_url: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg("server.mjs")
        .current_dir(project_dir())
        .env("DATABASE_URL", database_url)
        .env("BETTER_AUTH_SECRET", SECRET)
        .env_remove("NODE_ENV")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Better Auth's own verdict on a database's schema: `Ok` when it would create or add nothing.
pub fn check_schema(database_url: &str) -> Result<(), String> {
    let out = command(database_url, &[("BA_CHECK_SCHEMA", "1")])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A running Better Auth server.
pub struct BetterAuth {
    pub port: u16,
    child: Child,
}

impl BetterAuth {
    /// Starts the server on `database_url` with `env` (e.g. `BETTER_AUTH_URL`) and waits for its
    /// `READY <port>` line.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let mut child = command(database_url, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("Better Auth did not start: {line:?}"));
        Self { port, child }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for BetterAuth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the client script `script` (in the interop project) against `base_url`; its
/// transcript, one JSON value per stdout line. Panics, with its output, when it fails.
pub async fn run_script(script: &'static str, base_url: String) -> Vec<serde_json::Value> {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args([script, &base_url])
            .current_dir(project_dir())
            .env_remove("NODE_ENV")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}
