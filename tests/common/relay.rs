//! A TCP relay in front of a real database, so a test can cut the database off (every open
//! connection dropped, new ones refused) and bring it back, without stopping the shared server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The running relay.
pub struct Relay {
    pub addr: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    /// Starts relaying a free loopback port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let relay = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            target,
            tasks: Arc::default(),
        };
        let addr = relay.addr;
        relay.listen_on(addr).await
    }

    async fn listen_on(mut self, addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
        self
    }

    /// Drops every connection and stops listening: the database is unreachable.
    pub fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port: the database is back.
    pub async fn restore(self) -> Self {
        let addr = self.addr;
        self.listen_on(addr).await
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}
