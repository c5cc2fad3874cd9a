//! API tokens (`/v1/tokens`, `Authorization: Bearer sigil_pat_...`): the
//! life cycle (create, use, scope, expiry, revocation on another host,
//! suspension), what is stored (the hash only, in rows the app role sees
//! only under row-level security) and audited (ids, never values), the
//! quota and the administrators' view.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::helpers::app::{Answer, TestApp};
use crate::helpers::signers::{Kind, TestKey, b64};

const DOCUMENT: &[u8] = b"a release tarball";

fn in_days(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339()
}

/// `POST /v1/tokens` with `session`.
async fn create(app: &TestApp, session: &str, scopes: Value) -> Answer {
    app.post(
        "/v1/tokens",
        Some(session),
        json!({"name": "ci", "expires_at": in_days(30), "scopes": scopes}),
    )
    .await
}

/// A new token's (id, value); the creation must succeed.
async fn token(app: &TestApp, session: &str, scopes: Value) -> (Uuid, String) {
    let answer = create(app, session, scopes).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    let id = answer.body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("id");
    let value = answer.body["token"].as_str().expect("value").to_owned();
    (id, value)
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Answer {
    app.request(Method::DELETE, path, Some(token), None).await
}

#[tokio::test]
async fn a_token_is_shown_once_and_authenticates_with_its_scopes_only() {
    let app = TestApp::spawn().await;
    let (user, session) = app.user(&["user"]).await;
    let created = create(&app, &session, json!(["verify_signatures"])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.headers["cache-control"], "no-store");
    let value = created.body["token"].as_str().expect("value").to_owned();
    assert!(
        value.starts_with("sigil_pat_") && value.len() > 50,
        "{value}"
    );
    assert_eq!(created.body["scopes"], json!(["verify_signatures"]));
    assert_eq!(created.body["user_id"], json!(user));
    assert_eq!(created.body["revoked"], false);

    // Who the token is: the user, with the token's scopes as permissions.
    let me = app.get("/v1/auth/me", Some(&value)).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["id"], json!(user));
    assert_eq!(me.body["permissions"], json!(["verify_signatures"]));

    // It verifies, as an access token would...
    let signer = TestKey::generate(Kind::P256);
    let key = app.register_key(&session, &signer).await;
    let body = json!({"public_key_id": key, "document": b64(DOCUMENT), "signature": b64(&signer.sign(DOCUMENT))});
    let verified = app.verify(&value, body).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(verified.body["valid"], true);
    // ...and does nothing its scopes do not cover, though its owner could.
    let refused = app.get("/v1/keys", Some(&value)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code(), "forbidden");
    assert_eq!(
        app.get("/v1/keys", Some(&session)).await.status,
        StatusCode::OK
    );

    // Listed with its use, never with its value.
    let listed = app.get("/v1/tokens", Some(&value)).await;
    assert_eq!(listed.status, StatusCode::OK);
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], created.body["id"]);
    assert_eq!(items[0]["name"], "ci");
    assert!(items[0]["last_used_at"].is_string(), "{:?}", items[0]);
    assert!(items[0].get("token").is_none());
    assert!(!listed.body.to_string().contains(&value[10..]));

    // A token is no session: logging out with it is refused.
    let logout = app.post("/v1/auth/logout", Some(&value), json!({})).await;
    assert_eq!(logout.code(), "not_a_session");
}

#[tokio::test]
async fn what_a_token_may_carry_is_checked_at_creation() {
    let app = TestApp::spawn_with(|c| c.auth.api_token_max_ttl_secs = 40 * 24 * 3600).await;
    let (_, session) = app.user(&["user"]).await;
    let post = |body: Value| app.post("/v1/tokens", Some(&session), body);

    let beyond = create(&app, &session, json!(["verify_signatures", "manage_users"])).await;
    assert_eq!(beyond.status, StatusCode::FORBIDDEN);
    assert_eq!(beyond.code(), "scope_not_held");
    assert_eq!(beyond.headers["content-type"], "application/problem+json");
    for scopes in [json!([]), json!(["root"])] {
        let answer = create(&app, &session, scopes.clone()).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{scopes}");
        assert_eq!(answer.code(), "invalid_scopes", "{scopes}");
    }
    let past =
        post(json!({"name": "x", "expires_at": in_days(-1), "scopes": ["verify_signatures"]}))
            .await;
    assert_eq!(past.code(), "invalid_expiry");
    let too_late =
        post(json!({"name": "x", "expires_at": in_days(41), "scopes": ["verify_signatures"]}))
            .await;
    assert_eq!(too_late.code(), "invalid_expiry");
    let no_expiry = post(json!({"name": "x", "scopes": ["verify_signatures"]})).await;
    assert_eq!(no_expiry.status, StatusCode::UNPROCESSABLE_ENTITY);
    let blank =
        post(json!({"name": "  ", "expires_at": in_days(1), "scopes": ["verify_signatures"]}))
            .await;
    assert_eq!(blank.code(), "invalid_name");

    // Duplicates collapse; the order is the catalogue's.
    let (_, value) = token(
        &app,
        &session,
        json!([
            "manage_public_keys",
            "verify_signatures",
            "manage_public_keys"
        ]),
    )
    .await;
    let listed = app.get("/v1/tokens", Some(&session)).await;
    assert_eq!(
        listed.body["items"][0]["scopes"],
        json!(["verify_signatures", "manage_public_keys"])
    );
    // A token cannot make tokens (a leaked one could otherwise outlive
    // its own expiry).
    let from_token = create(&app, &value, json!(["verify_signatures"])).await;
    assert_eq!(from_token.status, StatusCode::FORBIDDEN);
    assert_eq!(from_token.code(), "session_required");
}

#[tokio::test]
async fn an_expired_token_is_refused_and_the_refusal_is_audited_by_id() {
    let app = TestApp::spawn().await;
    let (_, session) = app.user(&["user"]).await;
    let (id, value) = token(&app, &session, json!(["verify_signatures"])).await;
    assert_eq!(
        app.get("/v1/auth/me", Some(&value)).await.status,
        StatusCode::OK
    );
    let db = app.superuser().await;
    sqlx::query(
        "UPDATE api_tokens SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE id = $1",
    )
    .bind(id)
    .execute(&db)
    .await
    .expect("expire it");
    let refused = app.get("/v1/auth/me", Some(&value)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.code(), "token_expired");
    let (outcome, details): (String, Value) = sqlx::query_as(
        "SELECT outcome, details FROM audit_log WHERE action = 'token.use_refused' AND target_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&db)
    .await
    .expect("one refusal audited");
    assert_eq!(outcome, "failure");
    assert_eq!(details["reason"], "expired");
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_on_every_host() {
    let a = TestApp::spawn().await;
    let b = a.another_host(|_| {}).await;
    let (_, session) = a.user(&["user"]).await;
    let (id, value) = token(&a, &session, json!(["verify_signatures"])).await;
    // Both hosts have served it.
    assert_eq!(
        a.get("/v1/auth/me", Some(&value)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.get("/v1/auth/me", Some(&value)).await.status,
        StatusCode::OK
    );

    let revoked = delete(&a, &format!("/v1/tokens/{id}"), &session).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    // The very next request, on either host: no propagation to wait for.
    for host in [&b, &a] {
        let answer = host.get("/v1/auth/me", Some(&value)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.code(), "token_revoked");
    }
    // Listed as revoked; revoking again changes nothing.
    let listed = b.get("/v1/tokens", Some(&session)).await;
    assert_eq!(listed.body["items"][0]["revoked"], true);
    assert_eq!(
        delete(&b, &format!("/v1/tokens/{id}"), &session)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let db = a.superuser().await;
    let revocations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'token.revoke' AND target_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&db)
    .await
    .expect("count");
    assert_eq!(revocations, 1);
}

#[tokio::test]
async fn a_suspended_owners_tokens_stop_working() {
    let app = TestApp::spawn().await;
    let (user, session) = app.user(&["user"]).await;
    let (_, admin) = app.admin().await;
    let (_, value) = token(&app, &session, json!(["verify_signatures"])).await;
    assert_eq!(
        app.get("/v1/auth/me", Some(&value)).await.status,
        StatusCode::OK
    );
    let path = format!("/v1/users/{user}");
    let set_status = |status: &'static str| {
        app.request(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"status": status})),
        )
    };
    assert_eq!(set_status("suspended").await.status, StatusCode::OK);
    let refused = app.get("/v1/auth/me", Some(&value)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code(), "account_disabled");
    // Reinstated, the (unrevoked, unexpired) token works again.
    assert_eq!(set_status("active").await.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/auth/me", Some(&value)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn only_the_hash_is_stored_and_the_audit_log_names_tokens_by_id() {
    let app = TestApp::spawn().await;
    let (_, session) = app.user(&["user"]).await;
    let (id, value) = token(&app, &session, json!(["verify_signatures"])).await;
    let secret = &value["sigil_pat_".len()..];
    assert_eq!(
        app.get("/v1/auth/me", Some(&value)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        delete(&app, &format!("/v1/tokens/{id}"), &session)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/v1/auth/me", Some(&value)).await.code(),
        "token_revoked"
    );

    let db = app.superuser().await;
    let (row, hash): (String, String) =
        sqlx::query_as("SELECT row_to_json(t)::text, token_hash FROM api_tokens t WHERE id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .expect("row");
    assert_eq!(hash, hex::encode(Sha256::digest(value.as_bytes())));
    assert!(!row.contains(secret), "{row}");
    // Nowhere in the database, in any table, as text.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'",
    )
    .fetch_all(&db)
    .await
    .expect("tables");
    for table in tables {
        let found: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {table} t WHERE strpos(t::text, $1) > 0)"
        )))
        .bind(secret)
        .fetch_one(&db)
        .await
        .expect("search");
        assert!(!found, "the token's secret is in {table}");
    }
    let events: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT action, target_type, target_id FROM audit_log WHERE action LIKE 'token.%' ORDER BY occurred_at",
    )
    .fetch_all(&db)
    .await
    .expect("events");
    let expected = |action: &str| {
        (
            action.to_owned(),
            Some("api_token".to_owned()),
            Some(id.to_string()),
        )
    };
    assert_eq!(
        events,
        vec![
            expected("token.create"),
            expected("token.revoke"),
            expected("token.use_refused")
        ]
    );

    // The app role sees no token without acting for someone.
    let app_role = app.app_role().await;
    let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM api_tokens")
        .fetch_one(&app_role)
        .await
        .expect("count");
    assert_eq!(visible, 0);
}

#[tokio::test]
async fn the_quota_counts_live_tokens_only() {
    let app = TestApp::spawn_with(|c| c.quotas.tokens_per_user = 2).await;
    let (_, session) = app.user(&["user"]).await;
    let (first, _) = token(&app, &session, json!(["verify_signatures"])).await;
    token(&app, &session, json!(["verify_signatures"])).await;
    let over = create(&app, &session, json!(["verify_signatures"])).await;
    assert_eq!(over.status, StatusCode::CONFLICT);
    assert_eq!(over.code(), "token_quota_exceeded");
    assert_eq!(
        app.get("/v1/tokens", Some(&session)).await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "nothing was stored"
    );
    delete(&app, &format!("/v1/tokens/{first}"), &session).await;
    token(&app, &session, json!(["verify_signatures"])).await;
    // Another user has a quota of their own.
    let (_, other) = app.user(&["user"]).await;
    token(&app, &other, json!(["verify_signatures"])).await;
}

#[tokio::test]
async fn administrators_list_and_revoke_anyones_tokens_and_others_do_not() {
    let app = TestApp::spawn().await;
    let (owner, session) = app.user(&["user"]).await;
    let (_, stranger) = app.user(&["user"]).await;
    let (_, admin) = app.admin().await;
    let (id, value) = token(&app, &session, json!(["verify_signatures"])).await;
    let theirs = format!("/v1/tokens?user_id={owner}");

    let peek = app.get(&theirs, Some(&stranger)).await;
    assert_eq!(peek.status, StatusCode::FORBIDDEN);
    assert_eq!(
        delete(&app, &format!("/v1/tokens/{id}"), &stranger)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The stranger's own list does not show it either.
    let own = app.get("/v1/tokens", Some(&stranger)).await;
    assert_eq!(own.body["items"], json!([]));

    // An administrator's token without manage_users has no reach either.
    let (_, narrow) = token(&app, &admin, json!(["verify_signatures"])).await;
    assert_eq!(
        app.get(&theirs, Some(&narrow)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&app, &format!("/v1/tokens/{id}"), &narrow)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let listed = app.get(&theirs, Some(&admin)).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["items"][0]["id"], json!(id));
    assert!(listed.body["items"][0].get("token").is_none());
    assert_eq!(
        delete(&app, &format!("/v1/tokens/{id}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/v1/auth/me", Some(&value)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let db = app.superuser().await;
    let actor: Option<Uuid> = sqlx::query_scalar(
        "SELECT actor_id FROM audit_log WHERE action = 'token.revoke' AND target_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&db)
    .await
    .expect("revocation audited");
    assert_ne!(actor, Some(owner), "the administrator revoked it");
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_refused_alike() {
    let app = TestApp::spawn().await;
    let forged = format!("sigil_pat_{}", "A".repeat(43));
    for token in [forged.as_str(), "sigil_pat_short", "sigil_pat_"] {
        let answer = app.get("/v1/auth/me", Some(token)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(answer.code(), "invalid_token", "{token}");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_tokens_and_their_scheme() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json", None).await.body;
    let scheme = &doc["components"]["securitySchemes"]["api_token"];
    assert_eq!(scheme["scheme"], "bearer");
    for (path, method) in [
        ("/v1/tokens", "post"),
        ("/v1/tokens", "get"),
        ("/v1/tokens/{id}", "delete"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    // Accepted wherever an access token is, with the same scopes...
    let verify = &doc["paths"]["/v1/verify"]["post"]["security"];
    assert!(
        verify
            .as_array()
            .expect("security")
            .contains(&json!({"api_token": ["verify_signatures"]})),
        "{verify}"
    );
    // ...but not to create tokens.
    let create = doc["paths"]["/v1/tokens"]["post"]["security"].to_string();
    assert!(!create.contains("api_token"), "{create}");
}

#[tokio::test]
async fn an_administrators_narrow_token_sees_only_its_owners_rows() {
    let app = TestApp::spawn().await;
    let (_, user) = app.user(&["user"]).await;
    let signer = TestKey::generate(Kind::Ed25519);
    let key = app.register_key(&user, &signer).await;
    let body = json!({"public_key_id": key, "document": b64(DOCUMENT), "signature": b64(&signer.sign(DOCUMENT))});
    assert_eq!(app.verify(&user, body).await.body["valid"], true);

    let (_, admin) = app.admin().await;
    // The administrator's session reaches every user's history and keys.
    let listed = app.get("/v1/verifications", Some(&admin)).await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "{:?}",
        listed.body
    );
    let shown = app.get(&format!("/v1/keys/{key}"), Some(&admin)).await;
    assert_eq!(shown.status, StatusCode::OK, "{:?}", shown.body);

    // A token of that administrator scoped to verification does not.
    let (_, narrow) = token(&app, &admin, json!(["verify_signatures"])).await;
    let listed = app.get("/v1/verifications", Some(&narrow)).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(listed.body["items"], json!([]), "{:?}", listed.body);
    let (_, keys_token) = token(&app, &admin, json!(["manage_public_keys"])).await;
    let shown = app.get(&format!("/v1/keys/{key}"), Some(&keys_token)).await;
    assert_eq!(shown.status, StatusCode::NOT_FOUND, "{:?}", shown.body);
    // With the manage_users scope it has the administrator's reach again.
    let (_, wide) = token(&app, &admin, json!(["verify_signatures", "manage_users"])).await;
    let listed = app.get("/v1/verifications", Some(&wide)).await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "{:?}",
        listed.body
    );
}
