//! Real Redis deployments of a test's own, on loopback: a three-node
//! Redis Cluster (`redis-server --cluster-enabled yes`, joined by
//! `redis-cli --cluster create`) and a primary with a replica watched by a
//! Sentinel (`redis-server --sentinel`). Every process is killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port whose cluster-bus twin (port + 10000) is free too.
pub fn spare_port() -> u16 {
    for _ in 0..200 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair");
}

/// A scratch directory for the nodes' files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sigil-test-{what}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `redis-server` process.
pub struct Node {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

impl Node {
    fn start(port: u16, args: &[&str]) -> Self {
        let child = Command::new("redis-server")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server on {port} did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            child: Some(child),
        }
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kill it (SIGKILL: a crash, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A plain connection to this one node.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("connection to a node")
    }

    /// The keys on this node that start with `prefix`.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut self.connection().await)
            .await
            .expect("KEYS")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn plain(port: u16, dir: &std::path::Path) -> Vec<String> {
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &dir.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Three primaries sharing the 16384 slots.
pub struct Cluster {
    /// The nodes, in the order given to `redis-cli --cluster create`.
    pub nodes: Vec<Node>,
    _scratch: Scratch,
}

impl Cluster {
    /// Start three nodes and join them; returns once every node reports
    /// `cluster_state:ok`.
    pub async fn start() -> Self {
        let scratch = Scratch::new("cluster");
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = spare_port();
            let dir = scratch.0.join(port.to_string());
            std::fs::create_dir_all(&dir).expect("node directory");
            let mut args = plain(port, &dir);
            args.extend(
                ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"].map(str::to_owned),
            );
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            nodes.push(Node::start(port, &args));
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli runs");
        assert!(created.success(), "redis-cli --cluster create failed");
        let started = Instant::now();
        for node in &nodes {
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut node.connection().await)
                    .await
                    .expect("CLUSTER INFO");
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "the cluster did not become ok: {info}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Self {
            nodes,
            _scratch: scratch,
        }
    }

    /// The seed list for `REDIS_URL`.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A primary, its replica and one Sentinel watching them (quorum 1,
/// down after 500 ms).
pub struct Sentineled {
    /// The primary at the start.
    pub primary: Node,
    /// Its replica, promoted by a failover.
    pub replica: Node,
    /// The Sentinel.
    pub sentinel: Node,
    _scratch: Scratch,
}

/// The name the Sentinel knows the primary by.
pub const MASTER: &str = "sigil-main";

impl Sentineled {
    /// Start all three; returns once the replica is in sync and the
    /// Sentinel knows both.
    pub async fn start() -> Self {
        let scratch = Scratch::new("sentinel");
        let start = |name: &str, extra: &[String]| {
            let port = spare_port();
            let dir = scratch.0.join(name);
            std::fs::create_dir_all(&dir).expect("node directory");
            let mut args = plain(port, &dir);
            args.extend_from_slice(extra);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Node::start(port, &args)
        };
        let primary = start("primary", &[]);
        let replica = start(
            "replica",
            &[
                "--replicaof".into(),
                "127.0.0.1".into(),
                primary.port.to_string(),
            ],
        );
        let port = spare_port();
        let config = scratch.0.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {primary} 1\n\
                 sentinel down-after-milliseconds {MASTER} 500\n\
                 sentinel failover-timeout {MASTER} 5000\n",
                dir = scratch.0.display(),
                primary = primary.port,
            ),
        )
        .expect("sentinel.conf");
        let sentinel = Node::start(port, &[config.to_str().expect("utf-8 path"), "--sentinel"]);
        let this = Self {
            primary,
            replica,
            sentinel,
            _scratch: scratch,
        };
        let started = Instant::now();
        loop {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut this.replica.connection().await)
                .await
                .expect("INFO");
            let replicas: Vec<redis::Value> = redis::cmd("SENTINEL")
                .arg("REPLICAS")
                .arg(MASTER)
                .query_async(&mut this.sentinel.connection().await)
                .await
                .unwrap_or_default();
            if info.contains("master_link_status:up") && !replicas.is_empty() {
                return this;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "replica or sentinel not ready: {info}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The primary's port as the Sentinel reports it now.
    pub async fn primary_port(&self) -> u16 {
        let (_, port): (String, u16) = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(MASTER)
            .query_async(&mut self.sentinel.connection().await)
            .await
            .expect("SENTINEL GET-MASTER-ADDR-BY-NAME");
        port
    }
}
