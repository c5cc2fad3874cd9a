//! Per-user quotas (keys, sessions), identical batch items verified once,
//! and the verification-result cache in a Redis of its own that may fill up
//! without touching revocations.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::app::{TestApp, redis_url};
use crate::helpers::signers::{Kind, TestKey, b64};

const PASSWORD: &str = "correct horse battery staple";

async fn keys_held(app: &TestApp, user: Uuid) -> i64 {
    let db = app.superuser().await;
    sqlx::query_scalar("SELECT count(*) FROM public_keys WHERE user_id = $1")
        .bind(user)
        .fetch_one(&db)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_user_at_the_key_quota_gets_a_conflict_and_nothing_is_stored() {
    let app = TestApp::spawn_with(|c| c.quotas.keys_per_user = 2).await;
    let (user, token) = app.user(&["user"]).await;
    let first = app
        .register_key(&token, &TestKey::generate(Kind::P256))
        .await;
    app.register_key(&token, &TestKey::generate(Kind::Ed25519))
        .await;

    let refused = app
        .post(
            "/v1/keys",
            Some(&token),
            TestKey::generate(Kind::P256).pem_registration(),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "key_quota_exceeded"),
        "{:?}",
        refused.body
    );
    assert_eq!(
        refused.headers["content-type"], "application/problem+json",
        "a problem body"
    );
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains('2')),
        "{:?}",
        refused.body
    );
    assert_eq!(keys_held(&app, user).await, 2, "nothing written");

    // Another user is not affected; deleting a key makes room.
    let (_, other) = app.user(&["user"]).await;
    app.register_key(&other, &TestKey::generate(Kind::P256))
        .await;
    let deleted = app
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/keys/{first}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    app.register_key(&token, &TestKey::generate(Kind::P256))
        .await;
    assert_eq!(keys_held(&app, user).await, 2);
}

#[tokio::test]
async fn concurrent_uploads_at_the_edge_do_not_exceed_the_key_quota() {
    const QUOTA: usize = 3;
    const UPLOADS: usize = 12;
    let app = TestApp::spawn_with(|c| c.quotas.keys_per_user = QUOTA as u32).await;
    let (user, token) = app.user(&["user"]).await;
    let bodies: Vec<Value> = (0..UPLOADS)
        .map(|_| TestKey::generate(Kind::Ed25519).pem_registration())
        .collect();
    let answers = futures::future::join_all(
        bodies
            .into_iter()
            .map(|body| app.post("/v1/keys", Some(&token), body)),
    )
    .await;
    let created = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    let refused = answers
        .iter()
        .filter(|a| (a.status, a.code()) == (StatusCode::CONFLICT, "key_quota_exceeded"))
        .count();
    println!(
        "{UPLOADS} concurrent uploads at a quota of {QUOTA}: {created} created, {refused} refused"
    );
    assert_eq!((created, refused), (QUOTA, UPLOADS - QUOTA), "{answers:?}");
    assert_eq!(keys_held(&app, user).await, QUOTA as i64);
}

async fn refresh(app: &TestApp, pair: &Value) -> (StatusCode, String) {
    let answer = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    (answer.status, answer.code().to_owned())
}

async fn me(app: &TestApp, pair: &Value) -> StatusCode {
    let token = pair["access_token"].as_str().unwrap_or_default();
    app.get("/v1/auth/me", Some(token)).await.status
}

#[tokio::test]
async fn a_login_beyond_the_session_quota_ends_the_least_recently_used_session() {
    let app = TestApp::spawn_with(|c| c.quotas.sessions_per_user = 2).await;
    let username = format!("s{}", &Uuid::new_v4().simple().to_string()[..12]);
    let user = app.create_user(&username, PASSWORD, &["user"]).await;
    let oldest = app.login(&username, PASSWORD).await;
    let middle = app.login(&username, PASSWORD).await;
    assert_eq!(me(&app, &oldest).await, StatusCode::OK);

    let newest = app.login(&username, PASSWORD).await;
    // The oldest session is gone: its refresh token and its access token.
    assert_eq!(
        refresh(&app, &oldest).await,
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token".to_owned())
    );
    assert_eq!(me(&app, &oldest).await, StatusCode::UNAUTHORIZED);
    // The two newer ones work.
    assert_eq!(me(&app, &middle).await, StatusCode::OK);
    assert_eq!(me(&app, &newest).await, StatusCode::OK);
    assert_eq!(refresh(&app, &middle).await.0, StatusCode::OK);
    assert_eq!(refresh(&app, &newest).await.0, StatusCode::OK);

    let db = app.superuser().await;
    let live: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT family_id) FROM refresh_tokens
         WHERE user_id = $1 AND spent_at IS NULL AND revoked_at IS NULL",
    )
    .bind(user)
    .fetch_one(&db)
    .await
    .expect("count");
    assert_eq!(live, 2, "live sessions stay at the quota");
}

/// The sum of a counter or histogram count over all its series.
async fn metric_sum(app: &TestApp, prefix: &str) -> f64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn identical_batch_items_are_verified_once_and_each_gets_its_answer() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let signer = TestKey::generate(Kind::P256);
    let id = app.register_key(&token, &signer).await;
    let item = |document: &[u8], signature: &[u8]| json!({"public_key_id": id, "document": b64(document), "signature": b64(signature)});
    let (a, b) = (b"document a".as_slice(), b"document b".as_slice());
    let good_a = item(a, &signer.sign(a));
    let good_b = item(b, &signer.sign(b));
    let wrong = item(b"document c", &signer.sign(a));
    let malformed = item(a, &[0x30, 0x01, 0xff]);
    // 11 items, 4 distinct.
    let items = vec![
        good_a.clone(),
        wrong.clone(),
        good_a.clone(),
        good_b.clone(),
        malformed.clone(),
        good_a.clone(),
        wrong.clone(),
        good_b.clone(),
        malformed.clone(),
        good_a.clone(),
        good_a.clone(),
    ];
    let expected = [
        Some(true),
        Some(false),
        Some(true),
        Some(true),
        None,
        Some(true),
        Some(false),
        Some(true),
        None,
        Some(true),
        Some(true),
    ];
    let calls = "sigil_verify_duration_seconds_count";
    let lookups = r#"sigil_cache_misses_total{cache="result"}"#;
    let (calls_before, lookups_before) = (
        metric_sum(&app, calls).await,
        metric_sum(&app, lookups).await,
    );

    let answer = app
        .post("/v1/verify/batch", Some(&token), json!({"items": items}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);

    let plugin_calls = metric_sum(&app, calls).await - calls_before;
    let cache_lookups = metric_sum(&app, lookups).await - lookups_before;
    println!(
        "11 items, 4 distinct: {plugin_calls} plugin verifications, {cache_lookups} result-cache lookups"
    );
    assert_eq!(
        plugin_calls, 4.0,
        "one plugin verification per distinct item"
    );
    assert_eq!(cache_lookups, 4.0, "one cache lookup per distinct item");

    let results = answer.body["results"].as_array().expect("results");
    assert_eq!(results.len(), items.len());
    for (index, (result, valid)) in results.iter().zip(expected).enumerate() {
        assert_eq!(result["index"], index);
        assert_eq!(result["valid"].as_bool(), valid, "item {index}: {result}");
    }
    let malformed_codes: Vec<&Value> = [4, 8]
        .iter()
        .map(|&i| &results[i]["error"]["code"])
        .collect();
    assert!(malformed_codes[0].is_string(), "{:?}", results[4]);
    assert_eq!(
        malformed_codes[0], malformed_codes[1],
        "a twin fails as its first"
    );
    assert_eq!(answer.body["success_count"], 7);

    // Every answered item has its own record.
    let ids: std::collections::HashSet<&str> = results
        .iter()
        .filter_map(|r| r["verification_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 9, "9 answered items, 9 distinct records");
    let db = app.superuser().await;
    let batch_id: Uuid = answer.body["batch_id"]
        .as_str()
        .and_then(|b| b.parse().ok())
        .expect("batch id");
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM batch_verification_items WHERE batch_id = $1")
            .bind(batch_id)
            .fetch_one(&db)
            .await
            .expect("items");
    assert_eq!(rows, 9);
}

/// A private `redis-server` on a free loopback port, running the shipped
/// result-cache configuration with a small `maxmemory`; killed on drop.
struct CacheRedis {
    child: Child,
    url: String,
}

impl Drop for CacheRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn cache_redis(maxmemory: &str) -> CacheRedis {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let conf =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/redis/redis-cache.conf");
    let child = Command::new("redis-server")
        .arg(conf)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--maxmemory", maxmemory, "--dir", "/tmp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server runs (apt-get install redis-server)");
    let server = CacheRedis {
        child,
        url: format!("redis://127.0.0.1:{port}"),
    };
    let client = redis::Client::open(server.url.as_str()).expect("client");
    let started = Instant::now();
    loop {
        if let Ok(mut conn) = client.get_multiplexed_async_connection().await
            && redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .is_ok()
        {
            return server;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the private redis-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connection")
}

async fn keys_matching(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(conn)
        .await
        .expect("keys")
}

async fn info_field(
    conn: &mut redis::aio::MultiplexedConnection,
    section: &str,
    field: &str,
) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg(section)
        .query_async(conn)
        .await
        .expect("info");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in INFO {section}"))
}

#[tokio::test]
async fn the_result_cache_fills_its_own_redis_and_revocations_keep_working() {
    const MAXMEMORY: u64 = 4 << 20;
    let cache = cache_redis("4mb").await;
    let url = cache.url.clone();
    let app =
        TestApp::spawn_with(|c| c.redis.result_cache_url = sigil::config::Secret::new(url)).await;
    let username = format!("r{}", &Uuid::new_v4().simple().to_string()[..12]);
    app.create_user(&username, PASSWORD, &["user"]).await;
    let pair = app.login(&username, PASSWORD).await;
    let token = pair["access_token"].as_str().expect("token").to_owned();
    let signer = TestKey::generate(Kind::Ed25519);
    let id = app.register_key(&token, &signer).await;
    let body = |i: usize| {
        let document = format!("document {i}");
        json!({"public_key_id": id, "document": b64(document.as_bytes()), "signature": b64(&signer.sign(document.as_bytes()))})
    };

    let mut cache_conn = connection(&cache.url).await;
    let mut main_conn = connection(&redis_url()).await;
    assert_eq!(app.verify(&token, body(0)).await.body["valid"], true);
    let pattern = format!("{}verify:doc:*", app.redis_prefix);
    let entries = keys_matching(&mut cache_conn, &pattern).await;
    assert_eq!(entries.len(), 1, "the result lives in the cache Redis");
    assert!(
        keys_matching(&mut main_conn, &pattern).await.is_empty(),
        "and not in the main Redis"
    );
    let entry_bytes: u64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(&entries[0])
        .query_async(&mut cache_conn)
        .await
        .expect("memory usage");
    let value_bytes: u64 = redis::cmd("STRLEN")
        .arg(&entries[0])
        .query_async(&mut cache_conn)
        .await
        .expect("strlen");
    println!(
        "one result entry: {entry_bytes} bytes in Redis (key {} bytes, value {value_bytes} bytes)",
        entries[0].len()
    );

    // Fill the cache Redis past its maxmemory with entries shaped like
    // results (same key length, TTL and value size).
    let filler_value = vec![7u8; usize::try_from(value_bytes).unwrap_or(64)];
    for chunk in 0..40 {
        let mut pipe = redis::pipe();
        for i in 0..500 {
            let key = format!(
                "{}verify:doc:{:0>64}:key:{id}:sig:{:0>64}",
                app.redis_prefix, chunk, i
            );
            pipe.cmd("SET")
                .arg(key)
                .arg(&filler_value)
                .arg("EX")
                .arg(3600)
                .ignore();
        }
        let () = pipe
            .query_async(&mut cache_conn)
            .await
            .expect("fill (never refused)");
    }
    let evicted = info_field(&mut cache_conn, "stats", "evicted_keys").await;
    let used = info_field(&mut cache_conn, "memory", "used_memory").await;
    println!(
        "cache Redis after 20000 fills: used_memory {used} of {MAXMEMORY}, evicted_keys {evicted}"
    );
    assert!(evicted > 0, "the cache evicted to make room");
    assert!(
        used <= MAXMEMORY + (256 << 10),
        "used_memory {used} stays near its cap"
    );

    // Verifications keep working and keep caching into the full cache.
    for i in 1..=20 {
        assert_eq!(app.verify(&token, body(i)).await.body["valid"], true);
    }
    let again = app.verify(&token, body(20)).await;
    assert_eq!(
        (
            again.body["valid"].as_bool(),
            again.body["cached"].as_bool()
        ),
        (Some(true), Some(true)),
        "a new result was cached in the full cache"
    );

    // Revocation still reaches the main Redis and still works.
    let logout = app.post("/v1/auth/logout", Some(&token), json!({})).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let blacklist = keys_matching(
        &mut main_conn,
        &format!("{}{{blacklist}}:*", app.redis_prefix),
    )
    .await;
    assert!(
        blacklist.iter().any(|k| k.contains("{blacklist}:session:"))
            && blacklist.iter().any(|k| k.contains("{blacklist}:ready")),
        "revocations written to the main Redis: {blacklist:?}"
    );
    assert_eq!(
        app.get("/v1/auth/me", Some(&token)).await.code(),
        "token_revoked"
    );
    assert_eq!(
        refresh(&app, &pair).await.0,
        StatusCode::UNAUTHORIZED,
        "the session ended"
    );
    // Nothing Sigil must keep was written to the cache Redis.
    let all: Vec<String> = keys_matching(&mut cache_conn, &format!("{}*", app.redis_prefix)).await;
    assert!(
        all.iter().all(|k| k.contains("verify:doc:")),
        "only results in the cache Redis"
    );
}
