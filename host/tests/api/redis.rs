//! The Redis layer on the real local Redis: the result cache binds the
//! signature, hosts invalidate each other, rate limits hold, and the
//! service carries on (losing nothing, keeping revocations) when Redis
//! goes away, and picks caching up again when it is back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::app::TestApp;
use crate::helpers::eventually;
use crate::helpers::signers::{Kind, TestKey, b64};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const DOCUMENT: &[u8] = b"the contract, final version";

#[tokio::test]
async fn a_cached_valid_result_never_vouches_for_another_signature() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let signer = TestKey::generate(Kind::P256);
    let id = app.register_key(&token, &signer).await;
    let genuine = signer.sign(DOCUMENT);
    let body = |signature: &[u8]| json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(signature)});

    let first = app.verify(&token, body(&genuine)).await;
    assert_eq!(
        (
            first.body["valid"].as_bool(),
            first.body["cached"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let second = app.verify(&token, body(&genuine)).await;
    assert_eq!(
        (
            second.body["valid"].as_bool(),
            second.body["cached"].as_bool()
        ),
        (Some(true), Some(true))
    );

    // A forged signature for the very same document and key: a well-formed
    // ECDSA signature made with another key.
    let forged = TestKey::generate(Kind::P256).sign(DOCUMENT);
    let answer = app.verify(&token, body(&forged)).await;
    assert_eq!(
        (
            answer.body["valid"].as_bool(),
            answer.body["cached"].as_bool()
        ),
        (Some(false), Some(false)),
        "{:?}",
        answer.body
    );

    // Every answer, cached or not, is recorded; the cached one says so.
    let record = app
        .record(&token, second.body["verification_id"].as_str().expect("id"))
        .await;
    assert_eq!(record.body["metadata"]["cached"], true);
    let history = app.get("/v1/verifications", Some(&token)).await;
    assert_eq!(history.body["items"].as_array().map(Vec::len), Some(3));

    // Revoking the key makes its cached results unusable at once.
    app.post(&format!("/v1/keys/{id}/revoke"), Some(&token), json!({}))
        .await;
    assert_eq!(
        app.verify(&token, body(&genuine)).await.code(),
        "key_revoked"
    );

    // The batch path uses and respects the cache the same way.
    let signer = TestKey::generate(Kind::Ed25519);
    let id = app.register_key(&token, &signer).await;
    let genuine = signer.sign(DOCUMENT);
    let forged = TestKey::generate(Kind::Ed25519).sign(DOCUMENT);
    let item = |signature: &[u8]| json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(signature)});
    app.verify(&token, item(&genuine)).await;
    let batch = app
        .post(
            "/v1/verify/batch",
            Some(&token),
            json!({"items": [item(&genuine), item(&forged)]}),
        )
        .await;
    let valid: Vec<Value> = batch.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["valid"].clone())
        .collect();
    assert_eq!(valid, vec![json!(true), json!(false)]);
}

#[tokio::test]
async fn recent_verifications_are_served_newest_first() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let signer = TestKey::generate(Kind::Ed25519);
    let id = app.register_key(&token, &signer).await;
    let mut ids = Vec::new();
    for i in 0..23 {
        let doc = format!("document {i}");
        let answer = app.verify(&token, json!({"public_key_id": id, "document": b64(doc.as_bytes()), "signature": b64(&signer.sign(doc.as_bytes()))})).await;
        ids.push(answer.body["verification_id"].clone());
    }
    let recent = app.get("/v1/verifications/recent", Some(&token)).await;
    let got: Vec<Value> = recent.body["items"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    let expected: Vec<Value> = ids.iter().rev().take(20).cloned().collect();
    assert_eq!(got, expected);
    // Without the Redis list, PostgreSQL answers the same.
    let mut conn = raw_redis().await;
    let user = app.get("/v1/auth/me", Some(&token)).await.body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{}verify:recent:{user}", app.redis_prefix))
        .query_async(&mut conn)
        .await
        .expect("del");
    let again = app.get("/v1/verifications/recent", Some(&token)).await;
    let got: Vec<Value> = again.body["items"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_second_host_sees_revocations_within_a_second() {
    let a = TestApp::spawn().await;
    let b = a.another_host(|_| {}).await;
    let (_, token) = a.user(&["user"]).await;
    let signer = TestKey::generate(Kind::P256);
    let id = a.register_key(&token, &signer).await;
    let body = json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&signer.sign(DOCUMENT))});
    // B has the key (and the user) cached and answers from its caches.
    for _ in 0..2 {
        assert_eq!(b.verify(&token, body.clone()).await.body["valid"], true);
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // B's subscription is up
    assert_eq!(
        a.post(&format!("/v1/keys/{id}/revoke"), Some(&token), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let took = eventually(
        "B refuses the revoked key",
        Duration::from_secs(1),
        async || b.verify(&token, body.clone()).await.code() == "key_revoked",
    )
    .await;
    eprintln!("revocation reached the second host in {took:?}");

    // A token revoked on A is refused on B.
    let (_, other) = a.user(&["user"]).await;
    assert_eq!(
        b.get("/v1/auth/me", Some(&other)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        a.post("/v1/auth/logout", Some(&other), json!({}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        b.get("/v1/auth/me", Some(&other)).await.code(),
        "token_revoked"
    );

    // A suspension on A locks the user out on B.
    let (suspended, victim) = a.user(&["user"]).await;
    let (_, admin) = a.admin().await;
    assert_eq!(
        b.get("/v1/auth/me", Some(&victim)).await.status,
        StatusCode::OK
    );
    a.request(
        Method::PATCH,
        &format!("/v1/users/{suspended}"),
        Some(&admin),
        Some(json!({"status": "suspended"})),
    )
    .await;
    eventually(
        "B refuses the suspended user",
        Duration::from_secs(1),
        async || b.get("/v1/auth/me", Some(&victim)).await.status == StatusCode::UNAUTHORIZED,
    )
    .await;
}

/// A server with the given per-network and per-user request limits.
async fn limited(per_network: u32, per_user: u32) -> TestApp {
    TestApp::spawn_with(|c| {
        c.rate_limits.per_network = per_network;
        c.rate_limits.per_user = per_user;
    })
    .await
}

#[tokio::test]
async fn rate_limits_per_network_name_the_limit_that_refused_and_spare_users() {
    let app = limited(5, 1000).await;
    let (_, token) = app.user(&["user"]).await; // one anonymous request
    let mut anonymous = Vec::new();
    for _ in 0..5 {
        anonymous.push(app.get("/v1/auth/me", None).await);
    }
    let first = &anonymous[0];
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    let policy = first.headers["ratelimit-policy"].to_str().expect("text");
    assert_eq!(policy, "\"network\";q=5;w=60");
    assert!(
        first.headers["ratelimit"]
            .to_str()
            .expect("text")
            .starts_with("\"network\";r="),
        "{:?}",
        first.headers["ratelimit"]
    );
    let limited = anonymous
        .iter()
        .find(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .expect("a 429");
    assert_eq!(limited.code(), "rate_limited");
    assert_eq!(limited.headers["content-type"], "application/problem+json");
    assert!(
        limited.headers["retry-after"]
            .to_str()
            .expect("text")
            .parse::<u64>()
            .expect("seconds")
            >= 1
    );
    let detail = limited.body["detail"].as_str().expect("detail");
    assert!(detail.contains("(network)"), "{detail}");
    // The user, from the same address, is counted as the user.
    let me = app.get("/v1/auth/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.headers["ratelimit-policy"].to_str().expect("text"),
        "\"user\";q=1000;w=60"
    );
    // Operations routes are not limited.
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rate_limits_per_user_stop_one_user_not_another() {
    let app = limited(1000, 3).await;
    let (_, greedy) = app.user(&["user"]).await;
    let (_, modest) = app.user(&["user"]).await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/v1/auth/me", Some(&greedy)).await.status,
            StatusCode::OK
        );
    }
    let stopped = app.get("/v1/auth/me", Some(&greedy)).await;
    assert_eq!(stopped.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        stopped.body["detail"]
            .as_str()
            .expect("detail")
            .contains("user")
    );
    assert_eq!(
        app.get("/v1/auth/me", Some(&modest)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn key_writes_are_limited_per_user_and_reads_are_not() {
    let app = TestApp::spawn_with(|c| c.rate_limits.key_writes_per_user = 2).await;
    let (_, one) = app.user(&["user"]).await;
    let (_, two) = app.user(&["user"]).await;
    for _ in 0..2 {
        app.add_key(&one, TestKey::generate(Kind::Ed25519).pem_registration())
            .await;
    }
    let stopped = app
        .post(
            "/v1/keys",
            Some(&one),
            TestKey::generate(Kind::Ed25519).pem_registration(),
        )
        .await;
    assert_eq!(
        (stopped.status, stopped.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let detail = stopped.body["detail"].as_str().expect("detail");
    assert!(detail.contains("(key_writes)"), "{detail}");
    assert_eq!(app.get("/v1/keys", Some(&one)).await.status, StatusCode::OK);
    app.add_key(&two, TestKey::generate(Kind::Ed25519).pem_registration())
        .await;
}

/// A redis-server of the test's own on a spare port.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "redis-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            child: Some(child),
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// With Redis down, everything keeps working from PostgreSQL: 20 single
/// verifications and a batch of two. Returns how many were answered.
async fn verify_without_redis(app: &TestApp, token: &str, body: &Value) -> i64 {
    for i in 0..20 {
        let answer = app.verify(token, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {i} with Redis down: {:?}",
            answer.body
        );
        assert_eq!(answer.body["valid"], true);
    }
    let batch = app
        .post(
            "/v1/verify/batch",
            Some(token),
            json!({"items": [body.clone(), body.clone()]}),
        )
        .await;
    assert_eq!(batch.body["success_count"], 2);
    22
}

#[tokio::test]
async fn losing_redis_loses_nothing_and_caching_comes_back() {
    let mut redis = OwnRedis::start(spare_port());
    let url = redis.url();
    let app = TestApp::spawn_with(|c| {
        c.redis.url = sigil::config::Secret::new(url.clone());
        c.redis.cluster = false;
    })
    .await;
    let (_, token) = app.user(&["user"]).await;
    let (_, doomed) = app.user(&["user"]).await;
    let signer = TestKey::generate(Kind::Ed25519);
    let id = app.register_key(&token, &signer).await;
    let body = json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&signer.sign(DOCUMENT))});
    let mut answered = 0;
    for _ in 0..2 {
        assert_eq!(app.verify(&token, body.clone()).await.body["valid"], true);
        answered += 1;
    }
    assert_eq!(app.verify(&token, body.clone()).await.body["cached"], true);
    answered += 1;
    assert_eq!(app.get("/ready", None).await.body["redis"], "up");

    redis.stop();
    answered += verify_without_redis(&app, &token, &body).await;
    assert_eq!(
        app.get("/v1/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );
    let relogin = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "nobody", "password": "whatever it is"}),
        )
        .await;
    assert_eq!(
        relogin.status,
        StatusCode::UNAUTHORIZED,
        "login still answers"
    );
    // A token revoked while Redis is down stays revoked.
    assert_eq!(
        app.post("/v1/auth/logout", Some(&doomed), json!({}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/v1/auth/me", Some(&doomed)).await.code(),
        "token_revoked"
    );
    let ready = app.get("/ready", None).await;
    assert_eq!(
        (ready.status, ready.body["redis"].as_str()),
        (StatusCode::OK, Some("down"))
    );

    // Nothing was lost.
    let db = app.superuser().await;
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_records")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(records, answered);

    // Redis comes back (empty): the revoked token stays revoked, and
    // caching resumes by itself.
    let _redis = OwnRedis::start(redis.port);
    eventually(
        "Redis reported up again",
        Duration::from_secs(15),
        async || app.get("/ready", None).await.body["redis"] == "up",
    )
    .await;
    assert_eq!(
        app.get("/v1/auth/me", Some(&doomed)).await.code(),
        "token_revoked"
    );
    eventually(
        "a cached answer again",
        Duration::from_secs(15),
        async || app.verify(&token, body.clone()).await.body["cached"] == true,
    )
    .await;
}

#[tokio::test]
async fn audit_events_reach_the_redis_stream() {
    let app = TestApp::spawn().await;
    let _ = app.user(&["user"]).await; // a login is audited
    let mut conn = raw_redis().await;
    let stream = format!("{}audit:stream", app.redis_prefix);
    let entries: Vec<redis::Value> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("xrange");
    assert!(!entries.is_empty(), "no audit events in {stream}");
    let db = app.superuser().await;
    let logins: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND outcome = 'success'",
    )
    .fetch_one(&db)
    .await
    .expect("count");
    assert_eq!(logins, 1);
}

#[tokio::test]
async fn entries_forged_in_redis_are_ignored() {
    use sha2::Digest as _;
    let app = TestApp::spawn().await;
    let (user, token) = app.user(&["user"]).await;
    let signer = TestKey::generate(Kind::P256);
    let id = app.register_key(&token, &signer).await;
    let genuine = signer.sign(DOCUMENT);
    let forged = TestKey::generate(Kind::P256).sign(DOCUMENT);
    let body = |signature: &[u8]| json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(signature)});
    assert_eq!(app.verify(&token, body(&genuine)).await.body["valid"], true);

    let mut conn = raw_redis().await;
    let doc_hash = hex::encode(sha2::Sha256::digest(DOCUMENT));
    let entry = |signature: &[u8]| {
        format!(
            "{}verify:doc:{doc_hash}:key:{id}:sig:{}",
            app.redis_prefix,
            hex::encode(sha2::Sha256::digest(signature))
        )
    };
    let sealed: Vec<u8> = redis::cmd("GET")
        .arg(entry(&genuine))
        .query_async(&mut conn)
        .await
        .expect("cached entry");
    // Someone with write access to Redis copies the genuine "valid" entry
    // under the forged signature's key: the seal binds the key, so it is
    // ignored and the plugin answers.
    let _: () = redis::cmd("SET")
        .arg(entry(&forged))
        .arg(&sealed)
        .query_async(&mut conn)
        .await
        .expect("set");
    let answer = app.verify(&token, body(&forged)).await;
    assert_eq!(
        (
            answer.body["valid"].as_bool(),
            answer.body["cached"].as_bool()
        ),
        (Some(false), Some(false))
    );

    // A hand-made user entry granting admin rights is ignored too.
    let user_key = format!("{}cache:user:{{{user}}}", app.redis_prefix);
    let _: () = redis::cmd("DEL")
        .arg(&user_key)
        .query_async(&mut conn)
        .await
        .expect("del");
    let fake: Vec<(String, Vec<u8>)> = vec![
        (
            "roles".into(),
            rmp_serde::to_vec(&json!(["admin"])).expect("msgpack"),
        ),
        (
            "permissions".into(),
            rmp_serde::to_vec(&json!(["manage_users"])).expect("msgpack"),
        ),
    ];
    let _: () = redis::cmd("HSET")
        .arg(&user_key)
        .arg(&fake)
        .query_async(&mut conn)
        .await
        .expect("hset");
    let restarted = app.another_host(|_| {}).await; // no in-process copy
    assert_eq!(
        restarted.get("/v1/users", Some(&token)).await.status,
        StatusCode::FORBIDDEN
    );
}

/// A connection of the test's own to the Redis the servers use (a
/// cluster when `SIGIL_TEST_REDIS_CLUSTER` says so).
async fn raw_redis() -> sigil::cache::topology::Connection {
    crate::helpers::app::raw_redis().await
}

#[tokio::test]
async fn a_key_entry_replayed_after_its_revocation_is_not_honoured() {
    let a = TestApp::spawn().await;
    let (_, token) = a.user(&["user"]).await;
    let signer = TestKey::generate(Kind::P256);
    let id = a.register_key(&token, &signer).await;
    let body = json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&signer.sign(DOCUMENT))});
    assert_eq!(a.verify(&token, body.clone()).await.body["valid"], true);

    // Someone with access to Redis keeps the sealed entry of the active key.
    let mut conn = raw_redis().await;
    let key = format!("{}cache:public_key:{{{id}}}", a.redis_prefix);
    let captured: Vec<u8> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("the key is cached in Redis");
    // A host that starts now reads the key from that entry and honours it.
    let b = a.another_host(|_| {}).await;
    assert_eq!(b.verify(&token, body.clone()).await.body["valid"], true);

    assert_eq!(
        a.post(&format!("/v1/keys/{id}/revoke"), Some(&token), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    // ...and writes it back after the revocation (and removes the tombstone).
    let _: () = redis::pipe()
        .cmd("SET")
        .arg(&key)
        .arg(&captured)
        .ignore()
        .cmd("DEL")
        .arg(format!("{key}:tomb"))
        .ignore()
        .query_async(&mut conn)
        .await
        .expect("replayed");
    // A third host has no in-process copy: it reads Redis, finds the
    // replayed entry sealed under the key generation before the
    // revocation, and takes it for a miss.
    let c = a.another_host(|_| {}).await;
    for (host, name) in [(&a, "the revoking host"), (&c, "a fresh host")] {
        let answer = host.verify(&token, body.clone()).await;
        assert_eq!(
            answer.code(),
            "key_revoked",
            "{name} honoured a replayed entry: {:?}",
            answer.body
        );
    }
    // The host that had it cached drops its copy when the invalidation
    // arrives, and then refuses the replayed entry too.
    eventually(
        "B refuses the revoked key",
        Duration::from_secs(1),
        async || b.verify(&token, body.clone()).await.code() == "key_revoked",
    )
    .await;
}

/// The `jti` and `sid` of an access token.
fn token_ids(token: &str) -> (String, String) {
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("claims");
    (
        claims["jti"].as_str().expect("jti").to_owned(),
        claims["sid"].as_str().expect("sid").to_owned(),
    )
}

#[tokio::test]
async fn a_tampered_blacklist_is_not_honoured() {
    let app = TestApp::spawn().await;
    let mut conn = raw_redis().await;
    let prefix = app.redis_prefix.clone();
    let ready = format!("{prefix}{{blacklist}}:ready");
    let marker = eventually(
        "the revocation list is loaded",
        Duration::from_secs(5),
        async || {
            redis::cmd("EXISTS")
                .arg(&ready)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap_or(0)
                == 1
        },
    )
    .await;
    eprintln!("revocation list loaded in {marker:?}");
    let old_marker: Vec<u8> = redis::cmd("GET")
        .arg(&ready)
        .query_async(&mut conn)
        .await
        .expect("marker");

    let (_, revoked) = app.user(&["user"]).await;
    assert_eq!(
        app.post("/v1/auth/logout", Some(&revoked), json!({}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/v1/auth/me", Some(&revoked)).await.code(),
        "token_revoked"
    );
    let (jti, sid) = token_ids(&revoked);
    let entries = [
        format!("{prefix}{{blacklist}}:token:{jti}"),
        format!("{prefix}{{blacklist}}:session:{sid}"),
    ];

    // Deleting the entries and replaying the marker from before the
    // revocation, or forging one, does not make Redis say "not revoked".
    for (what, marker) in [
        ("replayed marker", old_marker.clone()),
        ("forged marker", b"1".to_vec()),
    ] {
        let _: () = redis::pipe()
            .cmd("DEL")
            .arg(&entries[..])
            .ignore()
            .cmd("SET")
            .arg(&ready)
            .arg(&marker)
            .ignore()
            .query_async(&mut conn)
            .await
            .expect("tampered");
        assert_eq!(
            app.get("/v1/auth/me", Some(&revoked)).await.code(),
            "token_revoked",
            "{what}"
        );
    }

    // A revocation entry forged for a live token is not believed either:
    // PostgreSQL answers, and the token works.
    let (_, live) = app.user(&["user"]).await;
    let (live_jti, _) = token_ids(&live);
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}{{blacklist}}:token:{live_jti}"))
        .arg("1")
        .query_async(&mut conn)
        .await
        .expect("forged entry");
    assert_eq!(
        app.get("/v1/auth/me", Some(&live)).await.status,
        StatusCode::OK
    );
    // The genuine entries (sealed) are written again by the reload the
    // mismatch started, and they are believed.
    let reloaded = eventually(
        "the revocation list is reloaded",
        Duration::from_secs(5),
        async || {
            redis::cmd("EXISTS")
                .arg(&entries[1])
                .query_async::<i64>(&mut conn)
                .await
                .unwrap_or(0)
                == 1
        },
    )
    .await;
    eprintln!("reloaded in {reloaded:?}");
}

#[tokio::test]
async fn the_redis_sealing_key_is_sealed_in_postgresql_and_old_rows_are_rewrapped() {
    const SECRET: &str = "a test signing-key secret of 32+ characters";
    // A deployment from before: no secret, the key stored in the clear.
    let a = TestApp::spawn().await;
    let db = a.superuser().await;
    let stored = || async {
        sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT value FROM deployment_secrets WHERE name = 'cache_mac'",
        )
        .fetch_one(&db)
        .await
        .expect("cache_mac")
    };
    let clear = stored().await;
    assert_eq!(clear.len(), 32, "without a secret: the key in the clear");
    let (_, token) = a.user(&["user"]).await;
    let signer = TestKey::generate(Kind::P256);
    let id = a.register_key(&token, &signer).await;
    let body = json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&signer.sign(DOCUMENT))});
    assert_eq!(a.verify(&token, body.clone()).await.body["cached"], false);

    // A host with the secret re-wraps it: the row no longer holds the key.
    let b = a
        .another_host(|c| c.auth.signing_key_secret = sigil::config::Secret::new(SECRET))
        .await;
    let wrapped = stored().await;
    assert!(wrapped.starts_with(b"SDS1"), "sealed form");
    assert!(
        !wrapped.windows(clear.len()).any(|w| w == clear.as_slice()),
        "the key is not in the row any more"
    );
    // ...and it is the same key: B opens what A sealed in Redis.
    let cached = b.verify(&token, body.clone()).await;
    assert_eq!(
        (
            cached.body["valid"].as_bool(),
            cached.body["cached"].as_bool()
        ),
        (Some(true), Some(true)),
        "{:?}",
        cached.body
    );
    // A host without the secret cannot open it and does not start.
    let config = crate::helpers::app::test_config(&a.database, &a.redis_prefix);
    match sigil::app::Application::build(config).await {
        Err(error) => assert!(
            error.to_string().contains("cache_mac") || error.to_string().contains("sealed"),
            "{error}"
        ),
        Ok(_) => panic!("a host without the secret started"),
    }

    // A new deployment with the secret never stores the key in the clear.
    let fresh = TestApp::spawn_with(|c| {
        c.auth.signing_key_secret = sigil::config::Secret::new(SECRET);
    })
    .await;
    let row: Vec<u8> =
        sqlx::query_scalar("SELECT value FROM deployment_secrets WHERE name = 'cache_mac'")
            .fetch_one(&fresh.superuser().await)
            .await
            .expect("cache_mac");
    assert!(
        row.starts_with(b"SDS1") && row.len() == 4 + 24 + 32 + 16,
        "{} bytes",
        row.len()
    );
}
