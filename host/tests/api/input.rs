//! Input PostgreSQL cannot store (NUL in text and JSON, deep or wide JSON,
//! times out of range) answers a 4xx naming the field, and writes nothing;
//! what the edge lets through but the database refuses is still a 4xx.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::app::TestApp;
use crate::helpers::signers::{Kind, TestKey};

const PASSWORD: &str = "correct horse battery staple";

/// Rows in `table` (one of a fixed few: the SQL is a literal).
async fn count(pool: &PgPool, table: &str) -> i64 {
    let sql = match table {
        "public_keys" => "SELECT count(*) FROM public_keys",
        "curves" => "SELECT count(*) FROM curves",
        "users" => "SELECT count(*) FROM users",
        other => panic!("no count for {other}"),
    };
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// A body with `key` set to `value`, on top of `base`.
fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut body = base.clone();
    body[key] = value;
    body
}

/// `{"a": {"a": ... {}}}`, `levels` objects deep.
fn nested(levels: usize) -> Value {
    (1..levels).fold(json!({}), |inner, _| json!({ "a": inner }))
}

/// An object with `n` keys.
fn wide(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect())
}

#[track_caller]
fn assert_refused(
    answer: &crate::helpers::app::Answer,
    status: StatusCode,
    code: &str,
    case: &str,
) {
    assert_eq!(answer.status, status, "{case}: {:?}", answer.body);
    assert_eq!(answer.code(), code, "{case}: {:?}", answer.body);
}

#[tokio::test]
async fn unstorable_key_fields_are_refused_by_name_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let db = app.superuser().await;
    let key = TestKey::generate(Kind::P256);
    let base = key.pem_registration();
    let cases = [
        (
            "NUL in name",
            with(&base, "name", json!("a\u{0}b")),
            "invalid_name",
        ),
        (
            "name too long",
            with(&base, "name", json!("é".repeat(65))),
            "invalid_name",
        ),
        (
            "NUL in a metadata key",
            with(&base, "metadata", json!({"a\u{0}b": 1})),
            "invalid_metadata",
        ),
        (
            "NUL in a metadata value",
            with(&base, "metadata", json!({"a": "x\u{0}"})),
            "invalid_metadata",
        ),
        (
            "NUL in a nested metadata value",
            with(
                &base,
                "metadata",
                json!({"a": {"b": ["ok", {"c": "\u{0}"}]}}),
            ),
            "invalid_metadata",
        ),
        (
            "metadata too deep",
            with(&base, "metadata", nested(40)),
            "invalid_metadata",
        ),
        (
            "metadata too wide",
            with(&base, "metadata", wide(1100)),
            "invalid_metadata",
        ),
        (
            "expiry past year 9999",
            with(&base, "expires_at", json!("300000-01-01T00:00:00Z")),
            "invalid_expires_at",
        ),
        (
            "expiry before year 1",
            with(&base, "expires_at", json!("-10000-01-01T00:00:00Z")),
            "invalid_expires_at",
        ),
    ];
    for (case, body, code) in cases {
        let before = count(&db, "public_keys").await;
        let answer = app.post("/v1/keys", Some(&token), body).await;
        assert_refused(&answer, StatusCode::UNPROCESSABLE_ENTITY, code, case);
        assert_eq!(
            count(&db, "public_keys").await,
            before,
            "{case} wrote a key"
        );
    }
}

#[tokio::test]
async fn an_unpaired_surrogate_is_a_malformed_body() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let key = TestKey::generate(Kind::P256);
    let body = key.pem_registration().to_string();
    let body = format!(r#"{}, "name": "a\ud800b"}}"#, body.trim_end_matches('}'));
    let response = app
        .client
        .post(format!("{}/v1/keys", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.expect("problem");
    assert_eq!(problem["code"], "malformed_body");
}

#[tokio::test]
async fn unicode_names_and_metadata_are_kept_as_sent() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let key = TestKey::generate(Kind::Ed25519);
    let name = "clé ✓ 鍵 🔑 ".repeat(6);
    let metadata = json!({"équipe": "sécurité", "emoji": "🔐", "n": [1.5, -2, 1e300]});
    let mut body = with(&key.pem_registration(), "name", json!(name));
    body["metadata"] = metadata.clone();
    body["expires_at"] = json!("9999-12-31T23:59:59Z");
    let view = app.add_key(&token, body).await;
    assert_eq!(view["name"], json!(name));
    assert_eq!(view["metadata"], metadata);
}

#[tokio::test]
async fn a_key_patch_with_unstorable_fields_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let key = TestKey::generate(Kind::P256);
    let body = with(&key.pem_registration(), "name", json!("kept"));
    let id = app.add_key(&token, body).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v1/keys/{id}");
    let cases = [
        ("NUL in name", json!({"name": "x\u{0}"}), "invalid_name"),
        (
            "NUL in metadata",
            json!({"metadata": {"\u{0}": true}}),
            "invalid_metadata",
        ),
        (
            "expiry before year 1",
            json!({"expires_at": "-4800-01-01T00:00:00Z"}),
            "invalid_expires_at",
        ),
    ];
    for (case, patch, code) in cases {
        let answer = app
            .request(Method::PATCH, &path, Some(&token), Some(patch))
            .await;
        assert_refused(&answer, StatusCode::UNPROCESSABLE_ENTITY, code, case);
    }
    let kept = app.get(&path, Some(&token)).await.body;
    assert_eq!(kept["name"], "kept");
    assert_eq!(kept["metadata"], Value::Null);
    assert_eq!(kept["expires_at"], Value::Null);
}

#[tokio::test]
async fn unstorable_curves_are_refused_by_name_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let db = app.superuser().await;
    let base = json!({"name": "P-999", "algorithm": "ECDSA", "parameters": {"bits": 999}});
    let cases = [
        (
            "NUL in a parameters key",
            with(&base, "parameters", json!({"\u{0}": 1})),
            "invalid_parameters",
        ),
        (
            "NUL in a parameters value",
            with(&base, "parameters", json!({"p": ["\u{0}"]})),
            "invalid_parameters",
        ),
        (
            "parameters too deep",
            with(&base, "parameters", nested(40)),
            "invalid_parameters",
        ),
        (
            "NUL in the description",
            with(&base, "description", json!("a\u{0}")),
            "invalid_description",
        ),
        (
            "NUL in the algorithm",
            with(&base, "algorithm", json!("EC\u{0}DSA")),
            "invalid_algorithm",
        ),
    ];
    for (case, body, code) in cases {
        let before = count(&db, "curves").await;
        let answer = app.post("/v1/curves", Some(&admin), body).await;
        assert_refused(&answer, StatusCode::UNPROCESSABLE_ENTITY, code, case);
        assert_eq!(count(&db, "curves").await, before, "{case} wrote a curve");
    }
}

#[tokio::test]
async fn unstorable_account_fields_are_refused_by_name_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let db = app.superuser().await;
    let base =
        json!({"username": "newcomer", "email": "newcomer@example.test", "password": PASSWORD});
    let cases = [
        (
            "NUL in the username",
            with(&base, "username", json!("new\u{0}comer")),
            "invalid_username",
        ),
        (
            "NUL in the e-mail",
            with(&base, "email", json!("new\u{0}comer@example.test")),
            "invalid_email",
        ),
        (
            "NUL ending the e-mail",
            with(&base, "email", json!("newcomer@example.test\u{0}")),
            "invalid_email",
        ),
    ];
    for (case, body, code) in cases {
        for (path, token) in [
            ("/v1/auth/register", None),
            ("/v1/users", Some(admin.as_str())),
        ] {
            let before = count(&db, "users").await;
            let answer = app.post(path, token, body.clone()).await;
            assert_refused(
                &answer,
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                &format!("{case} at {path}"),
            );
            assert_eq!(
                count(&db, "users").await,
                before,
                "{case} at {path} wrote a user"
            );
        }
    }
}

#[tokio::test]
async fn an_admin_patch_with_a_nul_in_the_email_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let jane = app.create_user("jane", PASSWORD, &["user"]).await;
    let path = format!("/v1/users/{jane}");
    let answer = app
        .request(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"email": "j\u{0}@example.test"})),
        )
        .await;
    assert_refused(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_email",
        "patch",
    );
    let kept = app.get(&path, Some(&admin)).await.body;
    assert_eq!(kept["email"], "jane@example.test");
}

#[tokio::test]
async fn values_only_the_database_refuses_are_still_the_clients_fault() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let db = app.superuser().await;
    // Role names are looked up, not stored: a NUL in one reaches
    // PostgreSQL, which refuses it; the answer stays a 4xx.
    let before = count(&db, "users").await;
    let body = json!({"username": "roleless", "email": "roleless@example.test", "password": PASSWORD, "roles": ["ad\u{0}min"]});
    let answer = app.post("/v1/users", Some(&admin), body).await;
    assert_refused(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        "role",
    );
    assert_eq!(count(&db, "users").await, before);
    // A login name is checked as it is decoded.
    let login = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "a\u{0}b", "password": PASSWORD}),
        )
        .await;
    assert_refused(
        &login,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_username",
        "login",
    );
}
