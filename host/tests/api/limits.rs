//! Rate limits and overload under hostile load: every limit is per user or
//! per client network, so floods from other addresses never make a user's
//! request answer 429; login throttling leaves the owner a way in; batches
//! are charged per item; an IPv6 /64 is one client; too many requests in
//! flight are shed with 503. Distinct client addresses are real: clients
//! bound to 127.0.0.2 and up (IPv4 loopback is a /8), or `X-Forwarded-For`
//! behind a trusted proxy for IPv6.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::helpers::app::TestApp;
use crate::helpers::signers::{Kind, TestKey, b64};

const PASSWORD: &str = "correct horse battery staple";

/// A client whose connections come from `127.0.0.{last}`.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .expect("client")
}

/// POST JSON from `client`: (status, problem code, Retry-After).
async fn post_from(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, String, Option<String>) {
    let mut request = client.post(format!("{}{path}", app.base)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.expect("sent");
    let status = answer.status();
    let retry = answer
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = answer.json().await.unwrap_or_default();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        retry,
    )
}

async fn login_from(
    client: &reqwest::Client,
    app: &TestApp,
    username: &str,
    password: &str,
) -> (StatusCode, String, Option<String>) {
    post_from(
        client,
        app,
        "/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

/// A valid single verification body for `token`'s new P-256 key.
async fn verify_item(app: &TestApp, token: &str) -> Value {
    let key = TestKey::generate(Kind::P256);
    let id = app.register_key(token, &key).await;
    json!({"public_key_id": id, "document": b64(b"limits"), "signature": b64(&key.sign(b"limits"))})
}

#[tokio::test]
async fn floods_of_unauthenticated_requests_never_make_a_users_request_answer_429() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limits.per_network = 20;
        c.rate_limits.login_attempts_per_network = 10;
    })
    .await;
    let (_, token) = app.user(&["user"]).await;
    let item = verify_item(&app, &token).await;
    app.create_user("victim", PASSWORD, &["user"]).await;

    // 4 addresses x (60 anonymous verifications + 30 logins), 16 at once.
    let flooders: Vec<reqwest::Client> = (2..=5).map(client_from).collect();
    let requests = flooders.iter().flat_map(|client| {
        let verify = (0..60).map(move |_| (client, "/v1/verify"));
        let login = (0..30).map(move |_| (client, "/v1/auth/login"));
        verify.chain(login)
    });
    let flood = futures::stream::iter(requests)
        .map(|(client, path)| {
            let body = if path == "/v1/verify" {
                item.clone()
            } else {
                json!({"username": "victim", "password": "a wrong password"})
            };
            let app = &app;
            async move { post_from(client, app, path, None, body).await.0 }
        })
        .buffer_unordered(16)
        .collect::<Vec<StatusCode>>();
    // Meanwhile the user (from 127.0.0.1) verifies and reads.
    let user = async {
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(app.verify(&token, item.clone()).await.status);
            statuses.push(app.get("/v1/auth/me", Some(&token)).await.status);
        }
        statuses
    };
    let (flood, during) = tokio::join!(flood, user);
    let refused = flood
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        refused >= 4 * 40,
        "the flood is limited: {refused} of {} refused",
        flood.len()
    );
    assert!(
        during.iter().all(|s| *s == StatusCode::OK),
        "the user's answers during the flood: {during:?}"
    );
    // After it, the user still verifies, and logs in from its own address.
    assert_eq!(
        app.verify(&token, item.clone()).await.status,
        StatusCode::OK
    );
    let login = login_from(&app.client, &app, "victim", PASSWORD).await;
    assert_eq!(login.0, StatusCode::OK, "{login:?}");
}

#[tokio::test]
async fn a_login_flood_for_admin_from_one_address_does_not_stop_admin_elsewhere() {
    // Default limits, but a first lock long enough to outlast the test.
    let app = TestApp::spawn_with(|c| c.rate_limits.login_lockout_base_secs = 60).await;
    app.create_user("admin", PASSWORD, &["admin"]).await;
    let attacker = client_from(2);
    let started = Instant::now();
    let statuses: Vec<(StatusCode, String, Option<String>)> = futures::stream::iter(0..200)
        .map(|i| {
            let (attacker, app) = (&attacker, &app);
            async move { login_from(attacker, app, "admin", &format!("guess number {i}")).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let refused: Vec<_> = statuses
        .iter()
        .filter(|s| s.0 == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    let tried = statuses
        .iter()
        .filter(|s| s.0 == StatusCode::UNAUTHORIZED)
        .count();
    println!(
        "200 guesses from one address in {:?}: {tried} checked, {} refused",
        started.elapsed(),
        refused.len()
    );
    assert!(tried <= 10, "{tried} guesses reached the password check");
    assert!(
        refused
            .iter()
            .all(|s| s.1 == "rate_limited" && s.2.as_deref().is_some_and(|r| r != "0")),
        "{refused:?}"
    );
    // The attacker's address is locked out, even with the right password.
    assert_eq!(
        login_from(&attacker, &app, "admin", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The administrator, from another address (never used before), is not.
    let admin = login_from(&client_from(3), &app, "admin", PASSWORD).await;
    assert_eq!(admin.0, StatusCode::OK, "{admin:?}");
}

#[tokio::test]
async fn the_username_ceiling_spares_networks_where_the_user_logged_in() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limits.login_attempts_per_username = 4;
        c.rate_limits.login_free_attempts = 100;
    })
    .await;
    app.create_user("admin", PASSWORD, &["admin"]).await;
    let home = client_from(1);
    assert_eq!(
        login_from(&home, &app, "Admin", PASSWORD).await.0,
        StatusCode::OK
    );
    // Guesses from many addresses fill the per-username ceiling.
    let mut statuses = Vec::new();
    for last in 2..=6 {
        statuses.push(
            login_from(&client_from(last), &app, "admin", "wrong guess")
                .await
                .0,
        );
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // A new network is refused; the network admin logged in from is not.
    let stranger = login_from(&client_from(7), &app, "admin", PASSWORD).await;
    assert_eq!(
        (stranger.0, stranger.1.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let again = login_from(&home, &app, "admin", PASSWORD).await;
    assert_eq!(again.0, StatusCode::OK, "{again:?}");

    // The refusals were audited once per (username, network), not each.
    let db = app.superuser().await;
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND details->>'reason' = 'rate_limited'",
    )
    .fetch_one(&db)
    .await
    .expect("counted");
    assert_eq!(rows, 3, "one audit row per refused (username, network)");
}

#[tokio::test]
async fn a_batch_is_charged_per_item_to_its_user_alone() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limits.verify_items_per_minute = 10;
        c.verify.max_batch_items = 10;
    })
    .await;
    let (_, greedy) = app.user(&["user"]).await;
    let (_, other) = app.user(&["user"]).await;
    let greedy_item = verify_item(&app, &greedy).await;
    let other_item = verify_item(&app, &other).await;
    let batch = |item: &Value, n: usize| json!({"items": vec![item.clone(); n]});

    let first = app
        .post("/v1/verify/batch", Some(&greedy), batch(&greedy_item, 6))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    // One request, but 6 + 5 items: over the quota of 10.
    let second = app
        .post("/v1/verify/batch", Some(&greedy), batch(&greedy_item, 5))
        .await;
    assert_eq!(
        (second.status, second.code()),
        (StatusCode::TOO_MANY_REQUESTS, "verification_quota_exceeded")
    );
    let retry: u64 = second.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // The refused batch cost nothing: 4 items are left, singles count one.
    for _ in 0..4 {
        assert_eq!(
            app.verify(&greedy, greedy_item.clone()).await.status,
            StatusCode::OK
        );
    }
    let single = app.verify(&greedy, greedy_item.clone()).await;
    assert_eq!(single.code(), "verification_quota_exceeded");
    // Another user's quota is untouched.
    let theirs = app
        .post("/v1/verify/batch", Some(&other), batch(&other_item, 10))
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{:?}", theirs.body);
}

#[tokio::test]
async fn ipv6_addresses_in_one_slash_64_share_a_bucket() {
    let app = TestApp::spawn_with(|c| {
        c.http.trust_forwarded_for = true;
        c.rate_limits.per_network = 3;
    })
    .await;
    let from = |address: &'static str| {
        let request = app
            .client
            .get(format!("{}/v1/auth/me", app.base))
            .header("x-forwarded-for", address);
        async move { request.send().await.expect("sent").status() }
    };
    let mut same_64 = Vec::new();
    for address in [
        "2001:db8:1:2::a",
        "2001:db8:1:2:ffff::b",
        "2001:db8:1:2:1234:5678:9abc:def0",
        "2001:db8:1:2::d",
    ] {
        same_64.push(from(address).await);
    }
    assert_eq!(
        same_64,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // The next /64 is another client.
    assert_eq!(from("2001:db8:1:3::a").await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn requests_past_the_in_flight_limit_are_shed_with_503_and_retry_after() {
    let app = TestApp::spawn_with(|c| {
        c.overload.max_in_flight = 2;
        c.overload.retry_after_secs = 3;
    })
    .await;
    let address = app.base.trim_start_matches("http://").to_owned();
    // Two requests whose bodies never finish hold both places.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut socket = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connected");
        socket
            .write_all(
                b"POST /v1/auth/login HTTP/1.1\r\nhost: sigil\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"username\":",
            )
            .await
            .expect("written");
        stalled.push(socket);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let shed = loop {
        let answer = app.get("/v1/curves", None).await;
        if answer.status == StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (shed.status, shed.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "overloaded")
    );
    assert_eq!(shed.headers["retry-after"], "3");
    assert_eq!(
        shed.headers["content-type"], "application/problem+json",
        "{:?}",
        shed.headers
    );
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);

    // Once they go, requests are served again.
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(5);
    let served = loop {
        let status = app.get("/v1/curves", None).await.status;
        if status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(served, StatusCode::UNAUTHORIZED);
}
