//! Every protected endpoint answers 401 without a token and 403 without its
//! permission: a table-driven test over the routes the server itself
//! publishes in `/openapi.json` (each operation's bearer scopes name the
//! permission it needs).

use crate::helpers::app::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Routes anyone may call.
const OPEN: &[&str] = &[
    "/v1/auth/register",
    "/v1/auth/login",
    "/v1/auth/refresh",
    "/.well-known/jwks.json",
    "/health",
    "/ready",
    "/metrics",
];

#[tokio::test]
async fn protected_routes_refuse_missing_tokens_and_missing_permissions() {
    let app = TestApp::spawn().await;
    let (_, nobody) = app.user(&[]).await; // a user without any role
    let (_, admin) = app.admin().await;
    let spec = app.get("/openapi.json", None).await.body;
    let paths = spec["paths"].as_object().expect("paths");
    let mut checked = 0;
    let mut scoped = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("operations") {
            let url = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let Some(security) = operation.get("security") else {
                assert!(
                    OPEN.contains(&path.as_str()),
                    "{method} {path} has no security requirement"
                );
                continue;
            };
            let body =
                matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
            let anonymous = app.request(method.clone(), &url, None, body.clone()).await;
            assert_eq!(
                anonymous.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without a token"
            );
            assert!(
                anonymous.headers.contains_key("www-authenticate"),
                "{method} {path}: no challenge"
            );
            assert_eq!(
                anonymous.headers["content-type"],
                "application/problem+json"
            );
            checked += 1;

            let scopes: Vec<&str> = security[0]["bearer"]
                .as_array()
                .expect("bearer scopes")
                .iter()
                .filter_map(|s| s.as_str())
                .collect();
            if scopes.is_empty() {
                continue;
            }
            scoped += 1;
            let denied = app
                .request(method.clone(), &url, Some(&nobody), body.clone())
                .await;
            assert_eq!(
                denied.status,
                StatusCode::FORBIDDEN,
                "{method} {path} needs {scopes:?}"
            );
            assert_eq!(denied.code(), "forbidden");
            let allowed = app.request(method.clone(), &url, Some(&admin), body).await;
            assert!(
                ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&allowed.status),
                "{method} {path} refused an admin: {:?}",
                allowed.body
            );
        }
    }
    assert!(
        checked >= 8 && scoped >= 6,
        "only {checked} protected operations ({scoped} with a permission)"
    );
}
