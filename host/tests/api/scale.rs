//! Several hosts behind a real load balancer: three `sigil serve` hosts on
//! one PostgreSQL and one Redis, behind HAProxy (Debian's `haproxy`, which
//! `.ci/run` installs), as `docker compose --profile scale` runs them. What
//! one host learns (a plugin, a revocation, a logout, a rate-limit count)
//! holds on all three, and losing a host loses no recorded verification.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::helpers::app::{Answer, TestApp};
use crate::helpers::eventually;
use crate::helpers::signers::{Kind, TestKey, b64};

/// A running HAProxy in front of some hosts, stopped on drop.
struct Balancer {
    base: String,
    client: reqwest::Client,
    _process: Child,
    _dir: TempDir,
}

/// A scratch directory for the balancer's configuration, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn haproxy() -> &'static str {
    [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("HAProxy is not installed: `apt-get install haproxy` (.ci/run does)")
}

impl Balancer {
    /// HAProxy round-robin over `hosts`, health-checking `/ready` every
    /// 100 ms; a request whose connection is refused is sent elsewhere.
    async fn start(hosts: &[&TestApp]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("sigil-haproxy-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let servers: String = hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let addr = host.base.trim_start_matches("http://");
                format!("  server host{i} {addr} check\n")
            })
            .collect();
        let config = format!(
            "global\n  maxconn 1024\n\
             defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n\
             \x20 retries 3\n  option redispatch\n\
             frontend sigil\n  bind 127.0.0.1:{port}\n  default_backend hosts\n\
             backend hosts\n  balance roundrobin\n  option httpchk GET /ready\n\
             \x20 http-check expect status 200\n  default-server inter 100ms fall 2 rise 1\n{servers}"
        );
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).expect("configuration written");
        let process = Command::new(haproxy())
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("HAProxy starts");
        let balancer = Self {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _process: process,
            _dir: TempDir(dir),
        };
        eventually("HAProxy answers", Duration::from_secs(10), async || {
            balancer
                .client
                .get(format!("{}/ready", balancer.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await;
        balancer
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Answer::of(request.send().await.expect("sent through the balancer")).await
    }

    /// One verification through the balancer: `None` when the connection
    /// failed (the balancer closes a client's connection whose request was
    /// on a host that went away).
    async fn try_verify(&self, token: &str, body: &Value) -> Option<Answer> {
        let sent = self
            .client
            .post(format!("{}/v1/verify", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .ok()?;
        let (status, headers) = (sent.status(), sent.headers().clone());
        let bytes = sent.bytes().await.ok()?;
        Some(Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }
}

/// A signed document under a new `kind` key registered by `token`.
async fn signed(app: &TestApp, token: &str, kind: Kind, document: &[u8]) -> Value {
    let key = TestKey::generate(kind);
    let id = app.register_key(token, &key).await;
    json!({"public_key_id": id, "document": b64(document), "signature": b64(&key.sign(document))})
}

async fn three_hosts(change: impl Fn(&mut sigil::config::Config) + Copy) -> [TestApp; 3] {
    let a = TestApp::spawn_with(change).await;
    let b = a.another_host(change).await;
    let c = a.another_host(change).await;
    [a, b, c]
}

#[tokio::test]
async fn what_one_host_learns_holds_on_all_three_behind_the_balancer() {
    // Key writes: six per user per hour, counted in Redis across hosts.
    let hosts = three_hosts(|c| {
        c.rate_limits.window_secs = 3600;
        c.rate_limits.key_writes_per_user = 6;
    })
    .await;
    let [a, b, c] = &hosts;
    let lb = Balancer::start(&[a, b, c]).await;
    let (_, admin) = a.admin().await;

    // A plugin hot-loaded through one host serves on all three.
    let uploaded = b
        .upload_plugin(&admin, crate::helpers::component_bytes("ecdsa-p384"))
        .await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{:?}", uploaded.body);
    // Registered through the host that admitted it (the others learn of it
    // within a second, as the verifications below show).
    let p384 = signed(b, &admin, Kind::P384, b"scaled p384").await;
    for (host, name) in [(a, "a"), (b, "b"), (c, "c")] {
        eventually(
            &format!("host {name} serves P-384"),
            Duration::from_secs(1),
            async || host.verify(&admin, p384.clone()).await.body["valid"] == true,
        )
        .await;
    }
    for _ in 0..9 {
        let answer = lb
            .request(Method::POST, "/v1/verify", &admin, Some(p384.clone()))
            .await;
        assert_eq!(answer.body["valid"], true, "{:?}", answer.body);
    }

    // A key revoked through one host is refused on all within a second.
    let (_, user) = a.user(&["user"]).await;
    let body = signed(a, &user, Kind::Ed25519, b"scaled ed25519").await;
    for host in [a, b, c] {
        assert_eq!(host.verify(&user, body.clone()).await.body["valid"], true);
    }
    let key = body["public_key_id"].as_str().expect("key id");
    let revoked = c
        .post(&format!("/v1/keys/{key}/revoke"), Some(&user), json!({}))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{:?}", revoked.body);
    for (host, name) in [(a, "a"), (b, "b"), (c, "c")] {
        eventually(
            &format!("host {name} refuses the revoked key"),
            Duration::from_secs(1),
            async || host.verify(&user, body.clone()).await.code() == "key_revoked",
        )
        .await;
    }

    // A token logged out through one host is refused everywhere.
    let (_, session) = a.user(&["user"]).await;
    for host in [a, b, c] {
        assert_eq!(
            host.get("/v1/auth/me", Some(&session)).await.status,
            StatusCode::OK
        );
    }
    let out = lb
        .request(Method::POST, "/v1/auth/logout", &session, None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    for (host, name) in [(a, "a"), (b, "b"), (c, "c")] {
        eventually(
            &format!("host {name} refuses the logged-out token"),
            Duration::from_secs(1),
            async || {
                host.get("/v1/auth/me", Some(&session)).await.status == StatusCode::UNAUTHORIZED
            },
        )
        .await;
    }

    // Rate limits are counted across hosts: six key writes through the
    // balancer (round robin: two per host), then every host refuses.
    let (_, writer) = a.user(&["user"]).await;
    for i in 0..6 {
        let key = TestKey::generate(Kind::Ed25519);
        let answer = lb
            .request(
                Method::POST,
                "/v1/keys",
                &writer,
                Some(key.pem_registration()),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "write {i}: {:?}",
            answer.body
        );
    }
    for (host, name) in [(a, "a"), (b, "b"), (c, "c")] {
        let answer = host
            .post(
                "/v1/keys",
                Some(&writer),
                TestKey::generate(Kind::Ed25519).pem_registration(),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS,
            "host {name} counted only its own writes: {:?}",
            answer.body
        );
    }
}

#[tokio::test]
async fn losing_a_host_under_load_loses_no_recorded_verification() {
    let [a, b, c] = three_hosts(|_| {}).await;
    let lb = Arc::new(Balancer::start(&[&a, &b, &c]).await);
    let (user_id, user) = a.user(&["user"]).await;
    let body = signed(&a, &user, Kind::Ed25519, b"under load").await;

    // Eight clients verify through the balancer until told to stop; each
    // keeps the verification ids it was answered and counts failures.
    // Phases: 0 all hosts up, 1 host c just lost (requests in flight on
    // it may fail), 2 the balancer has had a second to notice (none may).
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicU8::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (lb, user, body) = (lb.clone(), user.clone(), body.clone());
            let (stop, phase) = (stop.clone(), phase.clone());
            tokio::spawn(async move {
                let (mut answered, mut failures) = (Vec::new(), [0u32; 3]);
                while !stop.load(Ordering::Relaxed) {
                    let sent = usize::from(phase.load(Ordering::Relaxed));
                    let answer = lb.try_verify(&user, &body).await;
                    let done = usize::from(phase.load(Ordering::Relaxed));
                    let answered_id = answer
                        .as_ref()
                        .filter(|answer| answer.status == StatusCode::OK)
                        .and_then(|answer| answer.body["verification_id"].as_str());
                    match answered_id {
                        Some(id) => {
                            answered.push(id.parse::<Uuid>().expect("uuid"));
                        }
                        // In flight when the host was lost.
                        _ if sent == 0 && done > 0 => failures[1] += 1,
                        _ => failures[sent] += 1,
                    }
                }
                (answered, failures)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Host c goes away: it stops listening and its server task ends.
    phase.store(1, Ordering::Relaxed);
    drop(c);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    phase.store(2, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut answered = Vec::new();
    let mut failures = [0u32; 3];
    for client in clients {
        let (ids, failed) = client.await.expect("client ran");
        answered.extend(ids);
        for (total, n) in failures.iter_mut().zip(failed) {
            *total += n;
        }
    }
    assert!(
        answered.len() > 50,
        "the load ran ({} answers)",
        answered.len()
    );
    // With every host up nothing fails; once the balancer has noticed the
    // lost host, it routes every request to the other two.
    assert_eq!(
        (failures[0], failures[2]),
        (0, 0),
        "failures (all up, just lost, routed around): {failures:?}"
    );

    // Every answered verification is in PostgreSQL.
    let db = a.superuser().await;
    let recorded: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM verification_records WHERE user_id = $1 AND id = ANY($2)",
    )
    .bind(user_id)
    .bind(&answered)
    .fetch_all(&db)
    .await
    .expect("records");
    assert_eq!(
        recorded.len(),
        answered.len(),
        "answered verifications missing from PostgreSQL"
    );
    drop(b);
}
