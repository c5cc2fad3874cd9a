//! Batch verification and history through HTTP.

use crate::helpers::app::TestApp;
use crate::helpers::signers::{Kind, TestKey, b64};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

struct Signer {
    key: TestKey,
    id: Uuid,
}

/// One registered key of each kind but P-384.
async fn signers(app: &TestApp, token: &str) -> Vec<Signer> {
    let mut out = Vec::new();
    for kind in [Kind::P256, Kind::Secp256k1, Kind::Ed25519, Kind::Rsa2048] {
        let key = TestKey::generate(kind);
        let id = app.register_key(token, &key).await;
        out.push(Signer { id, key });
    }
    out
}

#[tokio::test]
async fn a_thousand_mixed_items_verify_in_order_and_are_recorded_atomically() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let signers = signers(&app, &token).await;

    let mut items = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1000usize {
        let signer = &signers[i % signers.len()];
        let document = format!("document number {i}");
        let signature = signer.key.sign(document.as_bytes());
        // Every third item is signed over another document.
        let valid = i % 3 != 0;
        let presented = if valid {
            document
        } else {
            format!("{document} (altered)")
        };
        items.push(json!({"public_key_id": signer.id, "document": b64(presented.as_bytes()), "signature": b64(&signature)}));
        expected.push(valid);
    }
    let answer = app
        .post("/v1/verify/batch", Some(&token), json!({"items": items}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body["total_count"], 1000);
    let valid_count = expected.iter().filter(|v| **v).count();
    assert_eq!(answer.body["success_count"], valid_count);
    let results = answer.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 1000);
    for (i, (result, valid)) in results.iter().zip(&expected).enumerate() {
        assert_eq!(result["index"], i, "results in request order");
        assert_eq!(result["valid"], *valid, "item {i}: {result:?}");
        assert!(result["verification_id"].is_string());
        assert!(result.get("error").is_none());
    }

    let batch_id = answer.body["batch_id"].as_str().expect("batch id");
    let db = app.superuser().await;
    let (batches, records, batch_items): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM batch_verifications),
                (SELECT count(*) FROM verification_records WHERE metadata->>'batch_id' = $1),
                (SELECT count(*) FROM batch_verification_items WHERE batch_id = $1::uuid)",
    )
    .bind(batch_id)
    .fetch_one(&db)
    .await
    .expect("counts");
    assert_eq!((batches, records, batch_items), (1, 1000, 1000));
    // Each item takes its record's id (time-ordered, so the items' primary
    // key appends; migration 20261203000200), and that record is the one
    // its result names.
    let linked: Vec<(i32, Uuid, Uuid)> = sqlx::query_as(
        "SELECT item_index, id, verification_record_id FROM batch_verification_items
         WHERE batch_id = $1::uuid ORDER BY item_index",
    )
    .bind(batch_id)
    .fetch_all(&db)
    .await
    .expect("items");
    assert_eq!(linked.len(), 1000);
    for ((index, id, record), result) in linked.iter().zip(results) {
        assert_eq!(id, record, "item {index} has its record's id");
        assert_eq!(
            result["verification_id"].as_str(),
            Some(record.to_string().as_str()),
            "item {index}"
        );
    }
    let (total, success): (i32, i32) = sqlx::query_as(
        "SELECT total_count, success_count FROM batch_verifications WHERE id = $1::uuid",
    )
    .bind(batch_id)
    .fetch_one(&db)
    .await
    .expect("batch row");
    assert_eq!((total, success as usize), (1000, valid_count));

    // The batch reads back with its items in order.
    let detail = app
        .get(&format!("/v1/batches/{batch_id}"), Some(&token))
        .await;
    let items = detail.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1000);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["index"], i);
        assert_eq!(item["valid"], expected[i]);
        assert_eq!(item["verification_id"], results[i]["verification_id"]);
    }
    assert_eq!(
        app.get("/v1/batches", Some(&token)).await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn bad_items_fail_alone() {
    let app = TestApp::spawn_with(|c| c.verify.max_batch_items = 10).await;
    let (_, token) = app.user(&["user"]).await;
    let signers = signers(&app, &token).await;
    let p256 = &signers[0];
    let ed = &signers[2];
    let doc = b"hello";
    let items = vec![
        json!({"public_key_id": p256.id, "document": b64(doc), "signature": b64(&p256.key.sign(doc))}),
        json!({"public_key_id": uuid::Uuid::new_v4(), "document": b64(doc), "signature": b64(&p256.key.sign(doc))}),
        json!({"public_key_id": p256.id, "document": b64(doc), "signature": "@@not base64@@"}),
        json!({"public_key_id": "not-a-uuid", "document": b64(doc), "signature": "AA=="}),
        json!({"public_key_id": p256.id, "document": b64(doc), "signature": b64(b"\x30\x02\x01")}),
        json!({"public_key_id": ed.id, "document": b64(doc), "signature": b64(&ed.key.sign(doc))}),
        json!({"public_key_id": ed.id, "document": b64(doc), "signature": b64(&ed.key.sign(b"other"))}),
    ];
    let answer = app
        .post("/v1/verify/batch", Some(&token), json!({"items": items}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let codes: Vec<Value> = answer.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["error"]["code"].clone())
        .collect();
    assert_eq!(
        codes,
        vec![
            Value::Null,
            json!("key_not_found"),
            json!("malformed_signature"),
            json!("invalid_item"),
            json!("malformed_signature"),
            Value::Null,
            Value::Null,
        ]
    );
    let valid: Vec<Value> = answer.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["valid"].clone())
        .collect();
    assert_eq!(
        valid,
        vec![
            json!(true),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            json!(true),
            json!(false)
        ]
    );
    assert_eq!(
        (
            answer.body["total_count"].as_u64(),
            answer.body["success_count"].as_u64()
        ),
        (Some(7), Some(2))
    );
    let detail = app
        .get(
            &format!(
                "/v1/batches/{}",
                answer.body["batch_id"].as_str().expect("id")
            ),
            Some(&token),
        )
        .await;
    assert_eq!(
        detail.body["items"].as_array().map(Vec::len),
        Some(3),
        "only items with an answer have records"
    );
    assert_eq!(
        detail.body["metadata"]["errors"].as_array().map(Vec::len),
        Some(4)
    );
}

#[tokio::test]
async fn a_batch_over_the_limit_or_empty_is_refused_whole() {
    let app = TestApp::spawn_with(|c| c.verify.max_batch_items = 10).await;
    let (_, token) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let id = app.register_key(&token, &p256).await;
    let item = json!({"public_key_id": id, "document": b64(b"hello"), "signature": "AA=="});
    let rows: Vec<(&str, Vec<Value>, StatusCode, &str)> = vec![
        (
            "11 items, 10 allowed",
            vec![item; 11],
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_too_large",
        ),
        (
            "no item",
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
        ),
    ];
    for (what, items, status, code) in rows {
        let refused = app
            .post("/v1/verify/batch", Some(&token), json!({"items": items}))
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (status, code),
            "{what}: {:?}",
            refused.body
        );
    }
}

/// Alice's history: seven single verifications with her Ed25519 key (the
/// odd ones invalid), one with her P-256 key and a batch of one; and Bob
/// and an admin beside her.
struct History {
    app: TestApp,
    alice: String,
    bob: String,
    admin: String,
    ed25519_key: Uuid,
    single: String,
    batch: String,
    started: chrono::DateTime<chrono::Utc>,
}

impl History {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let (_, alice) = app.user(&["user"]).await;
        let (_, bob) = app.user(&["user"]).await;
        let (_, admin) = app.admin().await;
        let signers = signers(&app, &alice).await;
        let ed = &signers[2];
        let started = chrono::Utc::now();
        for i in 0..7 {
            let doc = format!("doc {i}");
            let signed = if i % 2 == 0 {
                doc.clone()
            } else {
                "something else".to_owned()
            };
            app.verify(&alice, json!({"public_key_id": ed.id, "document": b64(doc.as_bytes()), "signature": b64(&ed.key.sign(signed.as_bytes()))})).await;
        }
        let p256 = &signers[0];
        let single = app.verify(&alice, json!({"public_key_id": p256.id, "document": b64(b"x"), "signature": b64(&p256.key.sign(b"x"))})).await;
        let batch = app.post("/v1/verify/batch", Some(&alice), json!({"items": [{"public_key_id": p256.id, "document": b64(b"y"), "signature": b64(&p256.key.sign(b"y"))}]})).await;
        Self {
            ed25519_key: ed.id,
            single: single.body["verification_id"]
                .as_str()
                .expect("id")
                .to_owned(),
            batch: batch.body["batch_id"].as_str().expect("id").to_owned(),
            app,
            alice,
            bob,
            admin,
            started,
        }
    }

    /// How many items `path` lists for `token`.
    async fn count(&self, path: &str, token: &str) -> Option<usize> {
        self.app.get(path, Some(token)).await.body["items"]
            .as_array()
            .map(Vec::len)
    }
}

#[tokio::test]
async fn history_is_paged_newest_first_without_overlap() {
    let History { app, alice, .. } = &History::new().await;
    // 9 records in pages of 4.
    let mut seen: Vec<Value> = Vec::new();
    let mut path = "/v1/verifications?limit=4".to_owned();
    loop {
        let page = app.get(&path, Some(alice)).await;
        let items = page.body["items"].as_array().expect("items").clone();
        seen.extend(items);
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/verifications?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 9);
    let times: Vec<&str> = seen
        .iter()
        .map(|r| r["verified_at"].as_str().expect("time"))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
}

#[tokio::test]
async fn history_is_filtered_by_key_validity_and_time() {
    let history = History::new().await;
    let (alice, key) = (&history.alice, history.ed25519_key);
    assert_eq!(
        history
            .count(&format!("/v1/verifications?public_key_id={key}"), alice)
            .await,
        Some(7)
    );
    assert_eq!(
        history
            .count(
                &format!("/v1/verifications?public_key_id={key}&valid=false"),
                alice
            )
            .await,
        Some(3)
    );
    let from = (history.started - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (history.started - chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let window = history
        .app
        .get(
            &format!("/v1/verifications?from={from}&to={to}"),
            Some(alice),
        )
        .await;
    assert_eq!(
        window.body["items"].as_array().map(Vec::len),
        Some(0),
        "{:?}",
        window.body
    );
}

#[tokio::test]
async fn history_is_private_to_its_owner_and_open_to_admins() {
    let history = History::new().await;
    let History {
        app,
        bob,
        admin,
        single,
        batch,
        ..
    } = &history;
    // Bob sees none of it; an admin sees all of it.
    assert_eq!(app.record(bob, single).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/v1/batches/{batch}"), Some(bob))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/verifications", Some(bob)).await.body["items"],
        json!([])
    );
    assert_eq!(
        app.get("/v1/batches", Some(bob)).await.body["items"],
        json!([])
    );
    assert_eq!(app.record(admin, single).await.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/v1/batches/{batch}"), Some(admin))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        history.count("/v1/verifications?limit=100", admin).await,
        Some(9)
    );
}
