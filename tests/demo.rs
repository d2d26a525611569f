//! `gatehouse demo`, the README's first command, as a newcomer runs it: the curl lines it prints
//! work, with its own echo upstream or in front of another app (`--upstream`).

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::upstream::Upstream;
use common::{client, free_port};

/// A running demo, killed when dropped.
struct Demo {
    child: Child,
    gateway: String,
    cookie: String,
    _dir: tempfile::TempDir,
}

impl Demo {
    /// Starts `gatehouse demo` with `args` and waits for its printed `Cookie:` line.
    async fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("stdout");
        let listen = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["demo", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen", &listen, "--threads", "1"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let printed = loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if text.contains("Stop with Ctrl-C") {
                break text;
            }
            assert!(Instant::now() < deadline, "no instructions printed: {text}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let cookie = printed
            .split("-H 'Cookie: ")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap()
            .to_string();
        let mut demo = Self {
            child,
            gateway: format!("http://{listen}"),
            cookie,
            _dir: dir,
        };
        demo.wait_listening().await;
        demo
    }

    async fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while client()
            .get(self.url("/public/ready"))
            .send()
            .await
            .is_err()
        {
            assert!(self.child.try_wait().unwrap().is_none(), "the demo exited");
            assert!(Instant::now() < deadline, "the demo does not answer");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> (u16, String) {
        let mut request = client().get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_commands_work_with_the_echo_upstream() {
    let demo = Demo::start(&[]).await;
    let (status, body) = demo.get("/hello", Some(&demo.cookie)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("x-auth-user-id"), "{body}");
    assert!(body.contains("demo@example.com"), "{body}");
    assert_eq!(demo.get("/hello", None).await.0, 401);
    assert_eq!(demo.get("/public/hello", None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_upstream_the_demo_fronts_another_app() {
    let app = Upstream::start().await;
    let demo = Demo::start(&["--upstream", &app.url()]).await;
    let (status, body) = demo.get("/hello", Some(&demo.cookie)).await;
    assert_eq!(status, 200, "{body}");
    let seen = app.last();
    assert_eq!(seen.path, "/hello");
    assert_eq!(seen.header("x-auth-user-email"), Some("demo@example.com"));
    let before = app.count();
    assert_eq!(demo.get("/hello", None).await.0, 401);
    assert_eq!(
        app.count(),
        before,
        "the app never sees the request without a session"
    );
}

/// A busy `--listen` address: the demo exits non-zero at once, names the address, and prints
/// no curl lines for a gateway that is not there.
#[test]
fn demo_on_a_busy_port_exits_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = holder.local_addr().unwrap().to_string();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["demo", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--listen", &busy])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {busy}")),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("curl"));
}
