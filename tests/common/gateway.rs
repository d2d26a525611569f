//! The real `gatehouse` binary, started as a child process with a config file and environment,
//! on a free loopback port; killed when dropped. Its log goes to a file the test can read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, SECRET};

/// A running gateway.
pub struct Gateway {
    pub addr: SocketAddr,
    /// The operations listener (`/metrics`, `/healthz`, `/readyz`).
    pub metrics_addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts `gatehouse serve` with `config_toml` (no file when empty) and `env` on top of
    /// `BETTER_AUTH_SECRET` and a free `GATEHOUSE_LISTEN` (unless `env` sets one); waits until it
    /// accepts connections.
    pub async fn start(config_toml: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with_args(config_toml, env, &["serve"]).await
    }

    /// [`Gateway::start`] with other command-line arguments (`serve --upgrade`).
    pub async fn start_with_args(config_toml: &str, env: &[(&str, &str)], args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listen = env
            .iter()
            .find(|(k, _)| *k == "GATEHOUSE_LISTEN")
            .map(|(_, v)| v.to_string());
        let addr: SocketAddr = listen
            .unwrap_or_else(|| format!("127.0.0.1:{}", free_port()))
            .parse()
            .unwrap();
        let metrics = env
            .iter()
            .find(|(k, _)| *k == "GATEHOUSE_METRICS_LISTEN")
            .map(|(_, v)| v.to_string());
        let metrics_addr: SocketAddr = metrics
            .unwrap_or_else(|| format!("127.0.0.1:{}", free_port()))
            .parse()
            .unwrap();
        let log = std::fs::File::create(dir.path().join("gateway.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("BETTER_AUTH_SECRET", SECRET)
            .env("GATEHOUSE_LISTEN", addr.to_string())
            .env("GATEHOUSE_METRICS_LISTEN", metrics_addr.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if !config_toml.is_empty() {
            let path = dir.path().join("gatehouse.toml");
            std::fs::write(&path, config_toml).unwrap();
            cmd.arg("--config").arg(path);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let mut gateway = Self {
            addr,
            metrics_addr,
            child,
            dir,
        };
        gateway.wait_ready().await;
        gateway
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "gatehouse exited with {status} before listening:\n{}",
                    self.log()
                );
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                // Someone listens; make sure it is this process (a failed bind exits at once).
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Some(status) = self.child.try_wait().unwrap() {
                    panic!("gatehouse exited with {status}:\n{}", self.log());
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "gatehouse did not listen on {} within 30 s:\n{}",
            self.addr,
            self.log()
        );
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://metrics_addr/path`.
    pub fn ops_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.metrics_addr)
    }

    /// Sends `signal` (`TERM`, `QUIT`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status();
        assert!(status.unwrap().success());
    }

    /// Waits up to `limit` for the process to exit; its exit status, if it did.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// The Prometheus text its operations listener serves now.
    pub async fn metrics_text(&self) -> String {
        super::client()
            .get(self.ops_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Everything the gateway has logged so far. The gateway writes its log in batches a few
    /// milliseconds after a line (src/logging/batched.rs): this waits out one batch first.
    pub fn log(&self) -> String {
        std::thread::sleep(LOG_BATCH);
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Where the log is written.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("gateway.log")
    }
}

/// Longer than the gateway's log writer takes to write a batch (5 ms after its first line),
/// with room for a loaded machine.
const LOG_BATCH: std::time::Duration = std::time::Duration::from_millis(60);

impl Drop for Gateway {
    fn drop(&mut self) {
        // The last lines reach the file before the kill (SIGKILL loses what is pending).
        std::thread::sleep(LOG_BATCH);
        let _ = self.child.kill();
        let _ = self.child.wait();
        // SECURITY: every test's gateway log is checked for tokens and the secret.
        if !std::thread::panicking() {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            super::assert_log_is_clean(&log);
        }
    }
}
