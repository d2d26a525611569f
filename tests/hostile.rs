//! The differential suite: every request in `tests/hostile/requests.txt` is sent on a raw socket
//! through Gatehouse to real upstreams that parse requests differently (Python's wsgiref, Node's
//! http, nginx, a servlet on Tomcat), without a session and with a plain user's. Each upstream reports the path,
//! host and identity it resolved; the request passes when Gatehouse refused it, or when that
//! path and host, as the most lenient framework on top of that upstream would read them, are
//! ones the request's credential may reach, with no identity the client forged.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::db::{Kind, TestDb};
use common::gateway::Gateway;
use common::{free_port, random_token, session_cookie};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUTES: &str = r#"
[[routes]]
prefix = "/"
policy = "public"

[[routes]]
prefix = "/public"
policy = "public"

[[routes]]
prefix = "/account"

[[routes]]
prefix = "/req"

[[routes]]
prefix = "/admin"
roles = ["admin"]

[[routes]]
prefix = "/"
host = "secure.example.com"
"#;

/// One line of the table.
struct Hostile {
    line: usize,
    method: String,
    target: Vec<u8>,
    headers: Vec<Vec<u8>>,
    send_host: bool,
    body: Vec<u8>,
}

/// `\xNN` escapes to bytes.
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\x") && i + 4 <= bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 2..i + 4], 16) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn table() -> Vec<Hostile> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/requests.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut table = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split(" || ");
        let (method, target) = parts.next().unwrap().split_once(' ').unwrap();
        let mut headers = Vec::new();
        let mut send_host = true;
        let mut body = Vec::new();
        for part in parts {
            if part == "NOHOST" {
                send_host = false;
                continue;
            }
            if let Some(bytes) = part.strip_prefix("BODY ") {
                body = unescape(bytes);
                continue;
            }
            if part.to_ascii_lowercase().starts_with("host:") {
                send_host = false;
            }
            headers.push(unescape(part));
        }
        table.push(Hostile {
            line: i + 1,
            method: method.to_string(),
            target: unescape(target),
            headers,
            send_host,
            body,
        });
    }
    table
}

/// What an upstream said it resolved.
#[derive(Debug, Default)]
struct Resolved {
    upstream: String,
    path: String,
    host: String,
    user: String,
    role: String,
    path_override: String,
    real_ip: String,
    method: String,
    method_override: String,
}

fn parse_report(body: &str) -> Option<Resolved> {
    let mut r = Resolved::default();
    for line in body.lines() {
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let field = match key {
            "upstream" => &mut r.upstream,
            "path" => &mut r.path,
            "host" => &mut r.host,
            "user" => &mut r.user,
            "role" => &mut r.role,
            "override" => &mut r.path_override,
            "real_ip" => &mut r.real_ip,
            "method" => &mut r.method,
            "method_override" => &mut r.method_override,
            _ => continue,
        };
        *field = value.to_string();
    }
    (!r.upstream.is_empty()).then_some(r)
}

/// A path as the most lenient framework reads it: lower case, path parameters, trailing dots
/// and spaces cut from segments, backslashes as slashes, dot segments resolved.
fn lenient(path: &str) -> String {
    let lower = path.to_lowercase().replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for segment in lower.split('/') {
        let segment = segment.split(';').next().unwrap_or_default();
        let segment = segment.split('\0').next().unwrap_or_default();
        let trimmed = segment.trim_end_matches(['.', ' ', '\t']);
        match (segment, trimmed) {
            ("..", _) => {
                out.pop();
            }
            (".", _) | ("", _) => {}
            (_, "") => {}
            (_, t) => out.push(t),
        }
    }
    format!("/{}", out.join("/"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Nothing,
    Session,
    Admin,
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}/"))
}

/// What Gatehouse's routes demand for a path and host as an upstream resolved them.
fn need(path: &str, host: &str) -> Need {
    let path = lenient(path);
    let host = host.to_lowercase();
    let host = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    let on_secure_host = host.trim_end_matches('.') == "secure.example.com";
    if under(&path, "/admin") {
        Need::Admin
    } else if on_secure_host || under(&path, "/account") || under(&path, "/req") {
        Need::Session
    } else {
        Need::Nothing
    }
}

/// Why `resolved` escapes the policy for a request made with `user` (`None`: anonymous).
fn violation(resolved: &Resolved, user: Option<&str>) -> Option<String> {
    let mut needed = need(&resolved.path, &resolved.host);
    if !resolved.path_override.is_empty() {
        needed = needed.max(need(&resolved.path_override, &resolved.host));
    }
    // No identity, or exactly the session's (on public routes Gatehouse sends none).
    let identity = match (resolved.user.as_str(), resolved.role.as_str()) {
        ("", "") => None,
        (id, "user") if Some(id) == user => Some(id),
        (id, role) => return Some(format!("forged identity: user {id:?} role {role:?}")),
    };
    if !resolved.real_ip.is_empty() {
        return Some(format!("forged client IP {:?}", resolved.real_ip));
    }
    // A CORS preflight passes without a session by design, as long as the upstream can only
    // act on it as an OPTIONS (no method override in any spelling).
    let preflight = resolved.method == "OPTIONS" && resolved.method_override.is_empty();
    let allowed = match needed {
        Need::Nothing => true,
        _ if preflight => true,
        Need::Session => identity.is_some(),
        Need::Admin => false,
    };
    (!allowed).then(|| format!("reached a {needed:?} path"))
}

/// Sends `request` on a fresh connection; the status and body of the answer.
async fn send(gateway: &Gateway, request: &Hostile, cookie: Option<&str>) -> (u16, String) {
    let mut wire = Vec::new();
    wire.extend_from_slice(request.method.as_bytes());
    wire.push(b' ');
    wire.extend_from_slice(&request.target);
    wire.extend_from_slice(b" HTTP/1.1\r\n");
    if request.send_host {
        wire.extend_from_slice(b"Host: gatehouse.test\r\n");
    }
    for header in &request.headers {
        wire.extend_from_slice(header);
        wire.extend_from_slice(b"\r\n");
    }
    if let Some(cookie) = cookie {
        wire.extend_from_slice(format!("Cookie: {cookie}\r\n").as_bytes());
    }
    wire.extend_from_slice(b"Connection: close\r\n\r\n");
    wire.extend_from_slice(&request.body);
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(&wire).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    if read.is_err() && answer.is_empty() {
        return (0, String::new());
    }
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a reporting upstream that prints its port first; its address.
async fn spawn_reporting(mut command: Command) -> (Process, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    });
    let port = tokio::time::timeout(Duration::from_secs(20), first_line)
        .await
        .expect("upstream printed its port")
        .unwrap()
        .unwrap();
    (Process(child), format!("http://127.0.0.1:{}", port.trim()))
}

fn hostile_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

async fn wsgiref() -> (Process, String) {
    let mut command = Command::new("python3");
    command.arg(hostile_dir().join("wsgi_upstream.py"));
    spawn_reporting(command).await
}

async fn node() -> (Process, String) {
    let mut command = Command::new("node");
    command.arg(hostile_dir().join("node_upstream.mjs"));
    spawn_reporting(command).await
}

async fn nginx(dir: &Path) -> (Process, String) {
    let port = free_port();
    let conf = std::fs::read_to_string(hostile_dir().join("nginx.conf"))
        .unwrap()
        .replace("@DIR@", dir.to_str().unwrap())
        .replace("@PORT@", &port.to_string());
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    // Debian puts it in /usr/sbin, which a non-root PATH may lack.
    let nginx = if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    };
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .spawn()
        .expect("nginx is installed (.ci/run installs it)");
    let addr = format!("127.0.0.1:{port}");
    assert!(
        common::eventually(Duration::from_secs(10), || std::net::TcpStream::connect(
            &addr
        )
        .is_ok())
        .await,
        "nginx did not start"
    );
    (Process(child), format!("http://{addr}"))
}

/// Tomcat from Debian's `tomcat10` (installed by `.ci/run`) with one servlet mapped to `/*`,
/// compiled here with `javac`, in a fresh `CATALINA_BASE` under `dir`.
async fn tomcat(dir: &Path) -> (Process, String) {
    const HOME: &str = "/usr/share/tomcat10";
    let source = hostile_dir().join("tomcat");
    let classes = dir.join("webapps/ROOT/WEB-INF/classes");
    for sub in ["conf", "logs", "temp", "work"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::create_dir_all(&classes).unwrap();
    for file in ["web.xml", "catalina.properties"] {
        std::fs::copy(format!("{HOME}/etc/{file}"), dir.join("conf").join(file))
            .expect("tomcat10 is installed (.ci/run installs it)");
    }
    std::fs::copy(
        source.join("web.xml"),
        dir.join("webapps/ROOT/WEB-INF/web.xml"),
    )
    .unwrap();
    let port = free_port();
    let server = std::fs::read_to_string(source.join("server.xml"))
        .unwrap()
        .replace("@PORT@", &port.to_string());
    std::fs::write(dir.join("conf/server.xml"), server).unwrap();
    let compiled = Command::new("javac")
        .arg("-cp")
        .arg(format!("{HOME}/lib/servlet-api.jar"))
        .arg("-d")
        .arg(&classes)
        .arg(source.join("Report.java"))
        .status()
        .expect("javac is installed");
    assert!(compiled.success(), "javac Report.java");
    let child = Command::new("java")
        .arg("-cp")
        .arg(format!(
            "{HOME}/bin/bootstrap.jar:{HOME}/bin/tomcat-juli.jar"
        ))
        .arg(format!("-Dcatalina.home={HOME}"))
        .arg(format!("-Dcatalina.base={}", dir.display()))
        .arg("org.apache.catalina.startup.Bootstrap")
        .arg("start")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("java is installed");
    let process = Process(child);
    let url = format!("http://127.0.0.1:{port}");
    // The connector opens once the application is deployed; a few seconds of JVM start.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !reqwest::get(format!("{url}/ready"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(std::time::Instant::now() < deadline, "tomcat did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (process, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hostile_request_escapes_its_route_policy() {
    let db = TestDb::migrated(Kind::Sqlite).await.unwrap();
    let token = random_token();
    let (user_id, _) = db.seed(&token, 3600).await;
    let cookie = session_cookie(&token);
    let nginx_dir = tempfile::tempdir().unwrap();
    let tomcat_dir = tempfile::tempdir().unwrap();
    let upstreams = vec![
        wsgiref().await,
        node().await,
        nginx(nginx_dir.path()).await,
        tomcat(tomcat_dir.path()).await,
    ];
    let table = table();
    let mut failures = Vec::new();
    let mut forwarded = 0;
    let mut refused = 0;
    for (_process, url) in &upstreams {
        let env = [
            ("GATEHOUSE_UPSTREAM", url.as_str()),
            ("GATEHOUSE_DATABASE_URL", db.url.as_str()),
        ];
        let gateway = Gateway::start(ROUTES, &env).await;
        for request in &table {
            for user in [None, Some(user_id.as_str())] {
                let (status, body) = send(&gateway, request, user.map(|_| cookie.as_str())).await;
                let Some(resolved) = parse_report(&body) else {
                    refused += 1;
                    continue;
                };
                forwarded += 1;
                if let Some(why) = violation(&resolved, user) {
                    failures.push(format!(
                        "line {} {} {:?} ({}) -> {} {status}: {why}; resolved {:?} on host {:?}",
                        request.line,
                        request.method,
                        String::from_utf8_lossy(&request.target),
                        if user.is_some() { "user" } else { "anonymous" },
                        resolved.upstream,
                        resolved.path,
                        resolved.host,
                    ));
                }
            }
        }
        common::assert_log_is_clean(&gateway.log());
    }
    println!(
        "{} requests x {} upstreams x 2 credentials: {forwarded} forwarded, {refused} answered by Gatehouse",
        table.len(),
        upstreams.len()
    );
    assert!(
        failures.is_empty(),
        "{} requests escaped their route's policy:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The suite can fail: the baselines really reach each upstream, and the policy model
    // flags them when the credential is taken away.
    assert!(
        forwarded >= upstreams.len() * 4,
        "too few requests reached an upstream"
    );
    let account = Resolved {
        upstream: "model".into(),
        path: "/public/..;/ACCOUNT.".into(),
        ..Resolved::default()
    };
    assert!(violation(&account, None).is_some());
    let forged = Resolved {
        user: "attacker".into(),
        role: "user".into(),
        ..account
    };
    assert!(violation(&forged, Some(&user_id)).is_some());
}

#[test]
fn the_policy_model_reads_paths_leniently() {
    assert_eq!(lenient("/public/..;/Admin./x"), "/admin/x");
    assert_eq!(lenient("//a/./b/../c\\d"), "/a/c/d");
    assert_eq!(need("/x", "SECURE.example.com.:80"), Need::Session);
    assert_eq!(need("/public/../ADMIN", "gatehouse.test"), Need::Admin);
    assert_eq!(need("/publicity", "gatehouse.test"), Need::Nothing);
}
