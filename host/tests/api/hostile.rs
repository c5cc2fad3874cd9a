//! Hostile load: requests shaped to cost the service more than they are
//! worth (bodies of millions of tiny items, made-up HTTP methods, floods of
//! refused logins) each cost a bounded amount. Figures that need a release
//! build and timing (peak RSS under concurrent hostile bodies) are measured
//! outside the test suite.

use crate::helpers::app::TestApp;
use crate::helpers::signers::{Kind, TestKey, b64};
use futures::StreamExt as _;
use reqwest::StatusCode;
use serde_json::json;

/// `{"items":[0,0,…]}` with `count` items, then `tail` verbatim.
fn tiny_items(count: usize, tail: &str) -> String {
    let mut body = String::with_capacity(count * 2 + 16);
    body.push_str("{\"items\":[");
    for i in 0..count {
        if i > 0 {
            body.push(',');
        }
        body.push('0');
    }
    body.push_str(tail);
    body
}

async fn post_raw(app: &TestApp, path: &str, token: &str, body: String) -> (StatusCode, String) {
    let answer = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_batch_of_far_too_many_tiny_items_is_refused_before_it_is_read_whole() {
    let max = 10;
    let app = TestApp::spawn_with(|c| c.verify.max_batch_items = max).await;
    let (_, token) = app.user(&["user"]).await;
    let rows = [
        ("max + 1000 items", tiny_items(max + 1000, "]}")),
        ("max + 1 items", tiny_items(max + 1, "]}")),
        // Parsing stops at item max + 1: what follows is never read, not
        // even to find that it is not JSON.
        (
            "max + 1 items, then garbage",
            tiny_items(max + 1, ",!!! not json"),
        ),
    ];
    for (what, body) in rows {
        let answer = post_raw(&app, "/v1/verify/batch", &token, body).await;
        assert_eq!(
            answer,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "batch_too_large".to_owned()
            ),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_batch_body_over_its_byte_limit_is_refused() {
    let app = TestApp::spawn_with(|c| {
        c.http.batch_body_limit_bytes = 1024;
        c.verify.max_batch_items = 100_000;
    })
    .await;
    let (_, token) = app.user(&["user"]).await;
    let answer = post_raw(&app, "/v1/verify/batch", &token, tiny_items(1000, "]}")).await;
    assert_eq!(
        answer,
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large".to_owned())
    );
}

#[tokio::test]
async fn a_single_request_over_the_body_limit_is_refused_before_it_is_decoded() {
    let app = TestApp::spawn_with(|c| c.http.body_limit_bytes = 64 * 1024).await;
    let (_, token) = app.user(&["user"]).await;
    let body = json!({"public_key_id": uuid::Uuid::new_v4(), "document": "A".repeat(128 * 1024),
                      "signature": "AA=="});
    let answer = post_raw(&app, "/v1/verify", &token, body.to_string()).await;
    assert_eq!(
        answer,
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large".to_owned())
    );
}

#[tokio::test]
async fn a_batch_body_keeps_its_shape_rules_and_a_bad_item_fails_alone() {
    let app = TestApp::spawn_with(|c| c.verify.max_batch_items = 10).await;
    let (_, token) = app.user(&["user"]).await;
    let shapes = [
        (
            r#"{"items": [], "extra": 1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (r#"{}"#, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (
            r#"{"items": 7}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (r#"{"items": [0"#, StatusCode::BAD_REQUEST, "malformed_body"),
        (
            r#"{"items": []}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
        ),
    ];
    for (body, status, code) in shapes {
        let answer = post_raw(&app, "/v1/verify/batch", &token, body.to_owned()).await;
        assert_eq!(answer, (status, code.to_owned()), "{body}");
    }
    let not_json = app
        .client
        .post(format!("{}/v1/verify/batch", app.base))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(r#"{"items": [0]}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let p256 = TestKey::generate(Kind::P256);
    let id = app.register_key(&token, &p256).await;
    let good = json!({"public_key_id": id, "document": b64(b"hello"),
                      "signature": b64(&p256.sign(b"hello"))});
    let answer = app
        .post(
            "/v1/verify/batch",
            Some(&token),
            json!({"items": [good, 0]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let results = &answer.body["results"];
    assert_eq!(results[0]["valid"], true, "{results}");
    assert_eq!(results[1]["error"]["code"], "invalid_item", "{results}");
}

/// The samples in a `/metrics` scrape (one line per series).
async fn series(app: &TestApp) -> Vec<String> {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("scraped")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|line| line.starts_with("sigil_http_"))
        .map(|line| {
            line.rsplit_once(' ')
                .map_or(line, |(name, _)| name)
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn made_up_http_methods_add_no_metrics_series() {
    let app = TestApp::spawn().await;
    let send = |method: String, path: &'static str| {
        let request = app.client.request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("a method token"),
            format!("{}{path}", app.base),
        );
        async move { request.send().await.expect("sent").status() }
    };
    let paths = ["/health", "/v1/keys", "/no/such/route"];
    // One made-up method per path first: `other` gets its series once.
    for path in paths {
        send("WARMUP".to_owned(), path).await;
    }
    series(&app).await;
    let before = series(&app).await;
    for i in 0..100 {
        let method = format!("M{:08X}", rand_token(i));
        send(method, paths[i % paths.len()]).await;
    }
    let after = series(&app).await;
    assert_eq!(before.len(), after.len(), "new series: {:?}", {
        let mut new = after.clone();
        new.retain(|s| !before.contains(s));
        new
    });
    assert!(
        after.iter().any(|s| s.contains(r#"method="other""#)),
        "{after:?}"
    );
    assert!(!after.iter().any(|s| s.contains("WARMUP")), "{after:?}");
}

/// A different-looking number per `i` (no rand dependency needed).
fn rand_token(i: usize) -> u32 {
    (i as u32).wrapping_mul(2_654_435_761) ^ 0x5bd1_e995
}

#[tokio::test]
async fn two_thousand_refused_logins_add_a_handful_of_audit_rows() {
    let app = TestApp::spawn_with(|c| {
        // Two attempts for the pair, then a lock that outlasts the test.
        c.rate_limits.login_free_attempts = 1;
        c.rate_limits.login_lockout_base_secs = 600;
        c.rate_limits.login_attempts_per_network = 1_000_000;
        c.rate_limits.enabled = false;
    })
    .await;
    let attempts = 2000;
    let statuses: Vec<StatusCode> = futures::stream::iter(0..attempts)
        .map(|_| async {
            app.post(
                "/v1/auth/login",
                None,
                json!({"username": "Target", "password": "not the password at all"}),
            )
            .await
            .status
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(refused >= attempts - 2, "{refused} of {attempts} refused");

    let db = app.superuser().await;
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND details->>'reason' = 'rate_limited'",
    )
    .fetch_one(&db)
    .await
    .expect("counted");
    assert!(
        (1..=3).contains(&rows),
        "{rows} audit rows for {refused} refusals"
    );

    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("scraped")
        .text()
        .await
        .expect("text");
    let counted: usize = text
        .lines()
        .find_map(|line| line.strip_prefix("sigil_login_refusals_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_default();
    assert_eq!(counted, refused, "{text}");
}
