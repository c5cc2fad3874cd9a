//! Operations: metrics after traffic, the audit trail, graceful shutdown
//! under load (the real binary, SIGTERM), and the compose file.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::app::TestApp;
use crate::helpers::signers::{Kind, TestKey, b64};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Three single verifications (the last two answered from the result
/// cache) and one batch of two.
async fn verify_traffic(app: &TestApp, token: &str) {
    let signer = TestKey::generate(Kind::P256);
    let id = app.register_key(token, &signer).await;
    let body = json!({"public_key_id": id, "document": b64(b"metered"), "signature": b64(&signer.sign(b"metered"))});
    for _ in 0..3 {
        assert_eq!(app.verify(token, body.clone()).await.body["valid"], true);
    }
    app.post(
        "/v1/verify/batch",
        Some(token),
        json!({"items": [body.clone(), body]}),
    )
    .await;
}

/// A trap and a timeout from a misbehaving plugin, loaded behind the
/// service's back.
async fn plugin_failures(app: &TestApp, token: &str) {
    let hostile = crate::helpers::plugin("test-hostile");
    app.state
        .store
        .catalogue_plugin(hostile.descriptor())
        .await
        .expect("catalogued");
    app.state.caches.catalogue_changed().await;
    app.state.plugins.install(hostile);
    let hostile_key = app
        .post(
            "/v1/keys",
            Some(token),
            json!({"key_data": b64(b"any key"), "format": "raw", "algorithm": "HOSTILE"}),
        )
        .await;
    assert_eq!(
        hostile_key.status,
        StatusCode::CREATED,
        "{:?}",
        hostile_key.body
    );
    let trap = app.verify(token, json!({"public_key_id": hostile_key.body["id"], "document": b64(b"x"), "signature": b64(&[4])})).await;
    assert_eq!(
        (trap.status, trap.code()),
        (StatusCode::BAD_GATEWAY, "plugin_trap")
    );
    // The trap's text (panic message, wasm backtrace) is logged, not shown.
    let detail = trap.body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("plugin_trap") && !detail.contains("panics on request"),
        "{detail}"
    );
    let timeout = app.verify(token, json!({"public_key_id": hostile_key.body["id"], "document": b64(b"x"), "signature": b64(&[2])})).await;
    assert_eq!(
        (timeout.status, timeout.code()),
        (StatusCode::GATEWAY_TIMEOUT, "plugin_timeout")
    );
}

#[tokio::test]
async fn metrics_report_traffic_plugins_caches_limits_and_the_database() {
    let app = TestApp::spawn_with(|c| c.rate_limits.per_user = 40).await;
    let (_, token) = app.user(&["user"]).await;
    verify_traffic(&app, &token).await;
    plugin_failures(&app, &token).await;
    // Exhaust the per-user limit.
    let mut limited = false;
    for _ in 0..60 {
        if app.get("/v1/auth/me", Some(&token)).await.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited);

    let scrape = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("scrape");
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(
        scrape.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/plain")
    );
    let text = scrape.text().await.expect("text");
    for series in [
        r#"sigil_http_requests_total{method="POST",route="/v1/verify",status="200"} 3"#,
        r#"sigil_http_request_duration_seconds_bucket{method="POST",route="/v1/verify",status="200",le="+Inf"} 3"#,
        r#"sigil_http_requests_total{method="POST",route="/v1/verify/batch",status="200"} 1"#,
        r#"sigil_verify_duration_seconds_count{plugin="ecdsa-p256@0.1.0"}"#,
        r#"sigil_plugin_failures_total{plugin="hostile@0.1.0",kind="trap"} 1"#,
        r#"sigil_plugin_failures_total{plugin="hostile@0.1.0",kind="timeout"} 1"#,
        r#"sigil_cache_hits_total{cache="result"}"#,
        r#"sigil_cache_misses_total{cache="public_key"}"#,
        r#"sigil_rate_limited_total{scope="user"}"#,
        r#"sigil_db_pool_connections{state="idle"}"#,
        r#"sigil_db_pool_connections{state="in_use"}"#,
        r#"sigil_record_commit_rows_bucket{le="+Inf"}"#,
        r#"sigil_redis_breaker_state{state="closed"} 1"#,
        "sigil_plugins_loaded 6",
    ] {
        assert!(text.contains(series), "missing {series}\n{text}");
    }
    let hits: f64 = text
        .lines()
        .find(|l| l.starts_with(r#"sigil_cache_hits_total{cache="result"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .expect("result hits");
    assert!(
        hits >= 2.0,
        "the repeated verifications hit the result cache ({hits})"
    );
}

#[tokio::test]
async fn the_audit_trail_is_filtered_and_paged_for_admins() {
    let app = TestApp::spawn().await;
    let (admin_id, admin) = app.admin().await;
    let (user_id, user) = app.user(&["user"]).await;
    let failed = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "nobody", "password": "wrong password!!"}),
        )
        .await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let signer = TestKey::generate(Kind::Ed25519);
    let key = app.register_key(&user, &signer).await;
    app.post(&format!("/v1/keys/{key}/revoke"), Some(&user), json!({}))
        .await;
    app.request(
        reqwest::Method::PUT,
        &format!("/v1/users/{user_id}/roles"),
        Some(&admin),
        Some(json!({"roles": ["user", "admin"]})),
    )
    .await;

    let all = app.get("/v1/audit?limit=100", Some(&admin)).await;
    let actions: Vec<&str> = all.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    for action in ["auth.login", "key.create", "key.revoke", "user.roles"] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    let failures = app.get("/v1/audit?action=auth.login", Some(&admin)).await;
    let outcomes: Vec<&str> = failures.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["outcome"].as_str().expect("outcome"))
        .collect();
    assert!(
        outcomes.contains(&"failure") && outcomes.contains(&"success"),
        "{outcomes:?}"
    );
    let by_admin = app
        .get(
            &format!("/v1/audit?actor_id={admin_id}&action=user.roles"),
            Some(&admin),
        )
        .await;
    assert_eq!(by_admin.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        by_admin.body["items"][0]["target_id"],
        json!(user_id.to_string())
    );
    // Pages of two, no overlap, newest first.
    let mut ids = Vec::new();
    let mut path = "/v1/audit?limit=2".to_owned();
    loop {
        let page = app.get(&path, Some(&admin)).await;
        ids.extend(
            page.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|e| e["id"].clone()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/audit?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), actions.len());
    // The user (no longer admin-only: promoted above) and a plain user.
    let (_, plain) = app.user(&["user"]).await;
    assert_eq!(
        app.get("/v1/audit", Some(&plain)).await.status,
        StatusCode::FORBIDDEN
    );
}

/// `sigil serve`, the real binary, on a fresh database and a free port.
struct Served {
    child: Child,
    base: String,
    database: String,
}

impl Served {
    /// Start the binary and wait until it is ready.
    async fn start() -> Self {
        let database = crate::helpers::app::fresh_database().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let config = crate::helpers::app::test_config(
            &database,
            &format!("sigil-test:{}:", uuid::Uuid::new_v4()),
        );
        let child = Command::new(env!("CARGO_BIN_EXE_sigil"))
            .arg("serve")
            .env("DATABASE_URL", config.database.url.expose())
            .env("REDIS_URL", config.redis.url.expose())
            .env("SIGIL_REDIS__KEY_PREFIX", &config.redis.key_prefix)
            .env("SIGIL_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "SIGIL_PLUGIN_DIR",
                crate::helpers::plugins_dir().join("default"),
            )
            .env("SIGIL_LOG__FILTER", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("sigil serve starts");
        let client = reqwest::Client::new();
        let started = Instant::now();
        while client
            .get(format!("{base}/ready"))
            .send()
            .await
            .map(|r| r.status() != StatusCode::OK)
            .unwrap_or(true)
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the service did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            base,
            database,
        }
    }

    /// Register and log in a user and register an Ed25519 key of theirs,
    /// all over HTTP: (access token, key id, the key).
    async fn signer(&self, client: &reqwest::Client) -> (String, Value, TestKey) {
        let base = &self.base;
        let password = "correct horse battery staple";
        client
            .post(format!("{base}/v1/auth/register"))
            .json(&json!({"username": "load", "email": "load@example.test", "password": password}))
            .send()
            .await
            .expect("register");
        let pair: Value = client
            .post(format!("{base}/v1/auth/login"))
            .json(&json!({"username": "load", "password": password}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        let token = pair["access_token"].as_str().expect("token").to_owned();
        let signer = TestKey::generate(Kind::Ed25519);
        let key: Value = client
            .post(format!("{base}/v1/keys"))
            .bearer_auth(&token)
            .json(&json!({"key_data": signer.pem(), "format": "PEM", "algorithm": "EdDSA"}))
            .send()
            .await
            .expect("key")
            .json()
            .await
            .expect("json");
        (token, key["id"].clone(), signer)
    }
}

/// Verification ids the server answered, shared by the load's workers.
type Answered = Arc<std::sync::Mutex<Vec<String>>>;

/// Eight workers verifying in a loop until the server is gone; each
/// answered verification id goes into `answered`.
fn verify_until_gone(
    base: &str,
    token: &str,
    key: &Value,
    signer: &TestKey,
    answered: &Answered,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::new();
    (0..8)
        .map(|worker| {
            let (client, base, token, answered) = (
                client.clone(),
                base.to_owned(),
                token.to_owned(),
                answered.clone(),
            );
            let doc = format!("document of worker {worker}");
            let body = json!({"public_key_id": key, "document": b64(doc.as_bytes()), "signature": b64(&signer.sign(doc.as_bytes()))});
            tokio::spawn(async move {
                loop {
                    match client
                        .post(format!("{base}/v1/verify"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(response) if response.status() == StatusCode::OK => {
                            let answer: Value = match response.json().await {
                                Ok(answer) => answer,
                                Err(_) => continue,
                            };
                            answered
                                .lock()
                                .expect("lock")
                                .push(answer["verification_id"].as_str().expect("id").to_owned());
                        }
                        // Refused or cut off while shutting down: not answered.
                        Ok(_) | Err(_) => {
                            if client.get(format!("{base}/health")).send().await.is_err() {
                                return;
                            }
                        }
                    }
                }
            })
        })
        .collect()
}

#[tokio::test]
async fn sigterm_under_load_finishes_in_flight_requests_and_loses_no_record() {
    let served = Served::start().await;
    let (token, key, signer) = served.signer(&reqwest::Client::new()).await;
    let Served {
        mut child,
        base,
        database,
    } = served;
    let answered = Answered::default();
    let load = verify_until_gone(&base, &token, &key, &signer, &answered);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = answered.lock().expect("lock").len();
    assert!(before > 0, "the load is running");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "sigil serve exited with {status:?}");
    for task in load {
        let _ = task.await;
    }

    let answered = answered.lock().expect("lock").clone();
    let db = sqlx::PgPool::connect(&crate::helpers::app::admin_url(&database))
        .await
        .expect("db");
    let stored: Vec<String> = sqlx::query_scalar("SELECT id::text FROM verification_records")
        .fetch_all(&db)
        .await
        .expect("records");
    let missing: Vec<&String> = answered.iter().filter(|id| !stored.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered verifications were not recorded",
        missing.len(),
        answered.len()
    );
    eprintln!(
        "{} verifications answered, all recorded; {} records in all",
        answered.len(),
        stored.len()
    );
}

#[test]
fn the_compose_file_is_valid() {
    // The default services, and with the `scale` profile (replicas behind
    // HAProxy).
    for profile in [&[][..], &["--profile", "scale"][..]] {
        compose_accepts(profile);
    }
}

fn compose_accepts(profile: &[&str]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let attempts: [&[&str]; 2] = [&["docker", "compose"], &["docker-compose"]];
    let mut tried = Vec::new();
    for command in attempts {
        let mut args: Vec<&str> = command[1..].to_vec();
        args.extend(profile);
        args.extend(["config", "--quiet"]);
        match Command::new(command[0])
            .args(&args)
            .current_dir(&root)
            .output()
        {
            Ok(output) if output.status.success() => return,
            Ok(output) => tried.push(format!(
                "{} {}: {}",
                command[0],
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            )),
            Err(error) => tried.push(format!("{}: {error}", command.join(" "))),
        }
    }
    panic!(
        "no compose implementation accepted docker-compose.yml ({profile:?}):\n{}",
        tried.join("\n")
    );
}
