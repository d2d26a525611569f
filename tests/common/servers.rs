//! Upstream servers a test can kill and bring back on the same address, and a DNS server whose
//! records a test changes: for load balancing, health checks and re-resolution.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// An HTTP/1.1 server on a fixed address answering `server <name>` (and `/healthz` with 200,
/// or 503 once marked unhealthy), counting the requests it serves.
pub struct KillableServer {
    pub addr: SocketAddr,
    name: String,
    served: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl KillableServer {
    /// Starts on `addr` (a free port from `common::free_port`, on any loopback address).
    pub async fn start(addr: SocketAddr, name: &str) -> Self {
        let server = Self {
            addr,
            name: name.to_string(),
            served: Arc::new(AtomicUsize::new(0)),
            healthy: Arc::new(AtomicBool::new(true)),
            tasks: Arc::new(Mutex::new(Vec::new())),
        };
        server.listen().await;
        server
    }

    async fn listen(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        let (name, served, healthy, tasks) = (
            self.name.clone(),
            self.served.clone(),
            self.healthy.clone(),
            self.tasks.clone(),
        );
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (name, served, healthy) = (name.clone(), served.clone(), healthy.clone());
                let connection = tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                        let response = if req.uri().path() == "/healthz" {
                            let status = if healthy.load(Ordering::SeqCst) {
                                200
                            } else {
                                503
                            };
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::new()))
                                .unwrap()
                        } else {
                            served.fetch_add(1, Ordering::SeqCst);
                            let host = req
                                .headers()
                                .get("host")
                                .map(|h| h.to_str().unwrap().to_string())
                                .unwrap_or_default();
                            hyper::Response::builder()
                                .header("x-server", name.as_str())
                                .header("x-seen-host", host)
                                .body(Full::new(Bytes::from(format!("server {name}\n"))))
                                .unwrap()
                        };
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                tasks.lock().unwrap().push(connection);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Closes the listener and every open connection, as a crashed process would.
    pub fn kill(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same address.
    pub async fn restart(&self) {
        // The aborted accept loop drops its listener on its next poll.
        for _ in 0..100 {
            if std::net::TcpListener::bind(self.addr).is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.listen().await;
    }

    /// Requests served (health checks not counted).
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Makes `/healthz` answer 503 (or 200 again).
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }
}

impl Drop for KillableServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A DNS server on UDP that answers `A` queries from a table the test changes (TTL 1 s) and
/// everything else with no records.
pub struct DnsServer {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<Ipv4Addr>>>>,
    task: JoinHandle<()>,
}

impl DnsServer {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Vec<Ipv4Addr>>>> = Arc::default();
        let table = records.clone();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                let reply = answer(&buf[..n], &table.lock().unwrap());
                if let Some(reply) = reply {
                    let _ = socket.send_to(&reply, from).await;
                }
            }
        });
        Self {
            addr,
            records,
            task,
        }
    }

    /// `name` (without the final dot) now resolves to `ips` (none: the name does not exist).
    pub fn set(&self, name: &str, ips: &[Ipv4Addr]) {
        self.records
            .lock()
            .unwrap()
            .insert(name.to_ascii_lowercase(), ips.to_vec());
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reply to one query (RFC 1035 section 4): the question echoed, `A` records for a known
/// name, NXDOMAIN for an unknown one.
fn answer(query: &[u8], records: &HashMap<String, Vec<Ipv4Addr>>) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = &query[12..at + 4];
    let name = labels.join(".");
    let known = records.get(&name).filter(|ips| !ips.is_empty());
    let ips: &[Ipv4Addr] = match (known, qtype) {
        (Some(ips), 1) => ips,
        _ => &[],
    };
    let rcode = if known.is_some() { 0 } else { 3 };
    let mut reply = Vec::with_capacity(512);
    reply.extend_from_slice(&query[0..2]);
    let recursion_desired = query[2] & 0x01;
    reply.extend_from_slice(&[0x84 | recursion_desired, 0x80 | rcode]);
    reply.extend_from_slice(&1u16.to_be_bytes());
    reply.extend_from_slice(&(ips.len() as u16).to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]);
    reply.extend_from_slice(question);
    for ip in ips {
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        reply.extend_from_slice(&1u32.to_be_bytes());
        reply.extend_from_slice(&4u16.to_be_bytes());
        reply.extend_from_slice(&ip.octets());
    }
    Some(reply)
}
