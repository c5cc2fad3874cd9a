//! User administration through HTTP.

use crate::helpers::app::TestApp;
use crate::helpers::signers::{Kind, TestKey};
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

/// A server, a logged-in admin (id, token) and the user "jane", created by
/// the admin with the roles admin and user (her id).
async fn admin_and_jane() -> (TestApp, Uuid, String, String) {
    let app = TestApp::spawn().await;
    let (admin_id, admin) = app.admin().await;
    let created = app
        .post("/v1/users", Some(&admin), json!({"username": "jane", "email": "jane@example.test", "password": PASSWORD, "roles": ["admin", "user"]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["roles"], json!(["admin", "user"]));
    let jane = created.body["id"].as_str().expect("id").to_owned();
    (app, admin_id, admin, jane)
}

#[tokio::test]
async fn admins_create_users_with_known_roles_only() {
    let (app, _, admin, _) = admin_and_jane().await;
    let unknown_role = app
        .post("/v1/users", Some(&admin), json!({"username": "kim", "email": "kim@example.test", "password": PASSWORD, "roles": ["root"]}))
        .await;
    assert_eq!(unknown_role.code(), "unknown_role");
}

#[tokio::test]
async fn users_are_listed_in_pages_without_overlap() {
    let (app, _, admin, _) = admin_and_jane().await;
    for i in 0..5 {
        app.create_user(&format!("bulk{i}"), PASSWORD, &["user"])
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users?limit=3&cursor={c}"),
            None => "/v1/users?limit=3".to_owned(),
        };
        let page = app.get(&path, Some(&admin)).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let items = page.body["items"].as_array().expect("items");
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|u| u["username"].as_str().expect("name").to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7, "pages overlap: {seen:?}");
    assert_eq!(
        app.get("/v1/users?cursor=garbage", Some(&admin))
            .await
            .code(),
        "invalid_cursor"
    );
    let suspended = app.get("/v1/users?status=suspended", Some(&admin)).await;
    assert_eq!(suspended.body["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn admins_change_a_users_email_roles_and_status() {
    let (app, _, admin, jane) = admin_and_jane().await;
    let got = app.get(&format!("/v1/users/{jane}"), Some(&admin)).await;
    assert_eq!(got.body["email"], "jane@example.test");
    let patched = app
        .request(
            Method::PATCH,
            &format!("/v1/users/{jane}"),
            Some(&admin),
            Some(json!({"email": "Jane2@Example.test"})),
        )
        .await;
    assert_eq!(patched.body["email"], "jane2@example.test");
    let roles = app
        .request(
            Method::PUT,
            &format!("/v1/users/{jane}/roles"),
            Some(&admin),
            Some(json!({"roles": ["user"]})),
        )
        .await;
    assert_eq!(roles.body["roles"], json!(["user"]));
    let bad_status = app
        .request(
            Method::PATCH,
            &format!("/v1/users/{jane}"),
            Some(&admin),
            Some(json!({"status": "banned"})),
        )
        .await;
    assert_eq!(bad_status.code(), "invalid_status");
}

#[tokio::test]
async fn a_changed_password_ends_the_users_sessions_and_the_new_one_works() {
    let (app, _, admin, jane) = admin_and_jane().await;
    let jane_pair = app.login("jane", PASSWORD).await;
    let new_password = "an entirely new passphrase";
    app.request(
        Method::PATCH,
        &format!("/v1/users/{jane}"),
        Some(&admin),
        Some(json!({"password": new_password})),
    )
    .await;
    assert_eq!(
        app.get("/v1/auth/me", jane_pair["access_token"].as_str())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    app.login("jane", new_password).await;
}

#[tokio::test]
async fn admins_delete_users_but_not_themselves() {
    let (app, admin_id, admin, jane) = admin_and_jane().await;
    let own = app
        .request(
            Method::DELETE,
            &format!("/v1/users/{admin_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(own.code(), "cannot_delete_self", "{own:?}");
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/v1/users/{jane}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
    let gone = app.get(&format!("/v1/users/{jane}"), Some(&admin)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{gone:?}");
    let malformed = app.get("/v1/users/not-a-uuid", Some(&admin)).await;
    assert_eq!(malformed.code(), "invalid_path", "{malformed:?}");
}

/// A deletion that loses a deadlock is run again. A user's or a key's
/// DELETE fires a trigger that reads the records' partitions, and
/// partition maintenance creating one locks the referenced tables; staged
/// here by a session that locks the records (the deletion waits for it) and
/// then asks for the deleted row's table. PostgreSQL rolls back the side
/// that has waited longest, the deletion; the service runs it again once
/// the session is gone, instead of answering 503.
async fn delete_against_a_deadlock(app: &TestApp, token: &str, path: &str, lock: &'static str) {
    let db = app.superuser().await;
    let mut other = db.begin().await.expect("begin");
    sqlx::query("LOCK TABLE verification_records IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *other)
        .await
        .expect("lock the records");
    let deleting = app.request(Method::DELETE, path, Some(token), None);
    let interfering = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // Waits until PostgreSQL has rolled the deletion back.
        sqlx::query(lock)
            .execute(&mut *other)
            .await
            .expect("the lock, once the deletion is rolled back");
        other.rollback().await.expect("rollback");
    };
    let (deleted, ()) = tokio::join!(deleting, interfering);
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
    let gone = app.get(path, Some(token)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{gone:?}");
}

#[tokio::test]
async fn a_user_deletion_that_loses_a_deadlock_is_run_again() {
    let (app, _, admin, jane) = admin_and_jane().await;
    delete_against_a_deadlock(
        &app,
        &admin,
        &format!("/v1/users/{jane}"),
        "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE",
    )
    .await;
}

#[tokio::test]
async fn a_key_deletion_that_loses_a_deadlock_is_run_again() {
    let (app, _, admin, _) = admin_and_jane().await;
    let key = app
        .register_key(&admin, &TestKey::generate(Kind::Ed25519))
        .await;
    delete_against_a_deadlock(
        &app,
        &admin,
        &format!("/v1/keys/{key}"),
        "LOCK TABLE public_keys IN SHARE ROW EXCLUSIVE MODE",
    )
    .await;
}

#[tokio::test]
async fn the_last_admin_is_protected_and_history_is_kept() {
    let app = TestApp::spawn().await;
    let (admin_id, admin) = app.admin().await;
    let demote = app
        .request(
            Method::PUT,
            &format!("/v1/users/{admin_id}/roles"),
            Some(&admin),
            Some(json!({"roles": ["user"]})),
        )
        .await;
    assert_eq!(
        (demote.status, demote.code()),
        (StatusCode::CONFLICT, "last_admin")
    );
    let suspend = app
        .request(
            Method::PATCH,
            &format!("/v1/users/{admin_id}"),
            Some(&admin),
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(suspend.code(), "last_admin");

    // A user with verification history cannot be deleted (records are kept).
    let (user, _) = app.user(&["user"]).await;
    let db = app.superuser().await;
    sqlx::query(
        "WITH k AS (INSERT INTO public_keys (user_id, algorithm_id, key_data) SELECT $1, id, 'k' FROM algorithms WHERE name = 'RSA' RETURNING id, algorithm_id)
         INSERT INTO verification_records (user_id, document_hash, public_key_id, algorithm_id, is_valid) SELECT $1, 'ab', id, algorithm_id, true FROM k",
    )
    .bind(user)
    .execute(&db)
    .await
    .expect("history");
    let delete = app
        .request(
            Method::DELETE,
            &format!("/v1/users/{user}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (delete.status, delete.code()),
        (StatusCode::CONFLICT, "user_has_history")
    );
}
