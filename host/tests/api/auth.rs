//! Authentication end to end through HTTP: register, login, refresh,
//! logout, me; and every way a token must be refused.

use crate::helpers::app::TestApp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn register_login_me_refresh_logout_end_to_end() {
    let app = TestApp::spawn().await;

    let registered = app
        .post(
            "/v1/auth/register",
            None,
            json!({"username": "alice", "email": "Alice@Example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{:?}",
        registered.body
    );
    assert_eq!(registered.body["username"], "alice");
    assert_eq!(registered.body["email"], "alice@example.test");
    assert_eq!(registered.body["roles"], json!(["user"]));
    assert!(registered.body.get("password_hash").is_none());

    let pair = app.login("alice", PASSWORD).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    let access = pair["access_token"].as_str().expect("access token");

    let me = app.get("/v1/auth/me", Some(access)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "alice");
    assert_eq!(
        me.body["permissions"],
        json!(["manage_public_keys", "verify_signatures"])
    );
    assert!(me.body["last_login"].is_string());

    let refreshed = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    assert_ne!(refreshed.body["refresh_token"], pair["refresh_token"]);
    let new_access = refreshed.body["access_token"]
        .as_str()
        .expect("access token");
    assert_eq!(
        app.get("/v1/auth/me", Some(new_access)).await.status,
        StatusCode::OK
    );

    let logout = app
        .post("/v1/auth/logout", Some(new_access), json!({}))
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let after = app.get("/v1/auth/me", Some(new_access)).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.code(), "token_revoked");
    // Logout ends the session: the other access token of the session and
    // its refresh token stop working too.
    assert_eq!(
        app.get("/v1/auth/me", Some(access)).await.code(),
        "token_revoked"
    );
    let again = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": refreshed.body["refresh_token"]}),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
}

/// Refused registrations: `(what, body, status, problem code)` rows, each
/// checked in turn.
async fn refuse_registrations(app: &TestApp, rows: Vec<(&str, Value, StatusCode, &str)>) {
    for (what, body, status, code) in rows {
        let answer = app.post("/v1/auth/register", None, body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{what}: {:?}",
            answer.body
        );
    }
}

#[tokio::test]
async fn registration_input_is_validated() {
    let app = TestApp::spawn().await;
    refuse_registrations(
        &app,
        vec![
            (
                "a short password",
                json!({"username": "bob", "email": "bob@example.test", "password": "short"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "weak_password",
            ),
            (
                "a username with a space",
                json!({"username": "b b", "email": "bob@example.test", "password": PASSWORD}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_username",
            ),
            (
                "an e-mail without @",
                json!({"username": "bob", "email": "not-an-email", "password": PASSWORD}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_email",
            ),
            (
                "roles chosen by the registrant",
                json!({"username": "bob", "email": "bob@example.test", "password": PASSWORD, "roles": ["admin"]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "a status chosen by the registrant, even a null one",
                json!({"username": "bob", "email": "bob@example.test", "password": PASSWORD, "status": null}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
        ],
    )
    .await;
    let malformed = app
        .request(reqwest::Method::POST, "/v1/auth/register", None, None)
        .await;
    assert_eq!(malformed.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        malformed.headers["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn a_taken_username_or_email_cannot_register_again() {
    let app = TestApp::spawn().await;
    let ok = app
        .post(
            "/v1/auth/register",
            None,
            json!({"username": "bob", "email": "bob@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    refuse_registrations(
        &app,
        vec![
            (
                "the same username",
                json!({"username": "bob", "email": "other@example.test", "password": PASSWORD}),
                StatusCode::CONFLICT,
                "username_taken",
            ),
            (
                "the same e-mail in other case",
                json!({"username": "bob2", "email": "BOB@example.test", "password": PASSWORD}),
                StatusCode::CONFLICT,
                "email_taken",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn registration_can_be_closed() {
    let app = TestApp::spawn_with(|c| c.auth.open_registration = false).await;
    let answer = app
        .post(
            "/v1/auth/register",
            None,
            json!({"username": "carol", "email": "c@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::FORBIDDEN, "registration_closed")
    );
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    app.create_user("dave", PASSWORD, &["user"]).await;
    let first = app.login("dave", PASSWORD).await;
    let second = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK);

    // The spent token comes back (stolen?): the family dies.
    let reuse = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(
        (reuse.status, reuse.code()),
        (StatusCode::UNAUTHORIZED, "refresh_token_reused")
    );
    let successor = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": second.body["refresh_token"]}),
        )
        .await;
    assert_eq!(
        successor.status,
        StatusCode::UNAUTHORIZED,
        "the legitimate successor is revoked too"
    );
    let access = second.body["access_token"].as_str().expect("token");
    assert_eq!(
        app.get("/v1/auth/me", Some(access)).await.code(),
        "token_revoked"
    );

    // Another login is a new family and works.
    let other = app.login("dave", PASSWORD).await;
    assert_eq!(
        app.get("/v1/auth/me", other["access_token"].as_str())
            .await
            .status,
        StatusCode::OK
    );
    let garbage = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": "garbage"}),
        )
        .await;
    assert_eq!(garbage.code(), "invalid_refresh_token");
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("json"))
}

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let header = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(it.next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    let claims = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(it.next().expect("claims"))
            .expect("b64"),
    )
    .expect("json");
    (header, claims)
}

/// Sign `claims` with the service's real current key (read from the
/// database as a superuser), as an insider with the key could.
async fn sign_with_service_key(app: &TestApp, kid: &str, claims: &Value) -> String {
    let db = app.superuser().await;
    let private: Vec<u8> =
        sqlx::query_scalar("SELECT private_key FROM jwt_signing_keys WHERE kid = $1")
            .bind(kid)
            .fetch_one(&db)
            .await
            .expect("key");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&private)).expect("sign")
}

/// A signed-in user: their access token, its `kid` and its claims.
async fn signed_in(app: &TestApp) -> (String, String, Value) {
    let (_, token) = app.user(&["user"]).await;
    assert_eq!(
        app.get("/v1/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );
    let (header, claims) = parts(&token);
    let kid = header["kid"].as_str().expect("kid").to_owned();
    (token, kid, claims)
}

/// `/v1/auth/me` with `token` is refused with 401 and a challenge, and
/// answers the problem code.
async fn refused(app: &TestApp, token: &str, what: &str) -> String {
    let answer = app.get("/v1/auth/me", Some(token)).await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {:?}",
        answer.body
    );
    assert!(
        answer.headers.contains_key("www-authenticate"),
        "{what}: no challenge"
    );
    answer.code().to_owned()
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let (token, kid, claims) = signed_in(&app).await;
    let mut forged: Vec<(&str, String)> = Vec::new();

    // alg "none", no signature.
    forged.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
            b64(&claims)
        ),
    ));

    // HS256 with the public key as the HMAC secret (key confusion).
    let jwks = app.get("/.well-known/jwks.json", None).await;
    let x = jwks.body["keys"][0]["x"].as_str().expect("x").to_owned();
    let public = URL_SAFE_NO_PAD.decode(&x).expect("x decodes");
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    for secret in [public.as_slice(), x.as_bytes()] {
        forged.push((
            "HS256 with the public key",
            jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(secret)).expect("sign"),
        ));
    }

    // A well-formed EdDSA token from a key the service never issued.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&stranger).expect("der");
    let mut foreign = Header::new(Algorithm::EdDSA);
    foreign.kid = Some("unknown-kid".into());
    forged.push((
        "unknown kid",
        jsonwebtoken::encode(&foreign, &claims, &EncodingKey::from_ed_der(der.as_bytes()))
            .expect("sign"),
    ));
    foreign.kid = Some(kid.clone());
    forged.push((
        "right kid, wrong key",
        jsonwebtoken::encode(&foreign, &claims, &EncodingKey::from_ed_der(der.as_bytes()))
            .expect("sign"),
    ));

    // Tampered payload under the original signature.
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!(uuid::Uuid::new_v4());
    let mut pieces: Vec<&str> = token.split('.').collect();
    let tampered_payload = b64(&tampered_claims);
    pieces[1] = &tampered_payload;
    forged.push(("tampered payload", pieces.join(".")));

    for (what, forged) in &forged {
        refused(&app, forged, what).await;
    }
    // The genuine token still works.
    assert_eq!(
        app.get("/v1/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tokens_signed_with_the_service_key_but_not_for_now_or_here_are_refused() {
    let app = TestApp::spawn().await;
    let (token, kid, claims) = signed_in(&app).await;
    let now = chrono::Utc::now().timestamp();
    // (what, claims changed, the problem code when it is specific)
    let rows: Vec<(&str, Value, Option<&str>)> = vec![
        ("wrong audience", json!({"aud": "another-service"}), None),
        ("wrong issuer", json!({"iss": "someone-else"}), None),
        (
            "expired",
            json!({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
            Some("token_expired"),
        ),
        (
            "not yet valid",
            json!({"nbf": now + 3600, "exp": now + 7200}),
            None,
        ),
        ("no jti", json!({"jti": null}), None),
    ];
    for (what, changes, code) in rows {
        let mut stale = claims.clone();
        for (name, value) in changes.as_object().expect("object") {
            if value.is_null() {
                stale.as_object_mut().expect("object").remove(name);
            } else {
                stale[name] = value.clone();
            }
        }
        let signed = sign_with_service_key(&app, &kid, &stale).await;
        let answered = refused(&app, &signed, what).await;
        if let Some(code) = code {
            assert_eq!(answered, code, "{what}");
        }
    }
    // The genuine token still works.
    assert_eq!(
        app.get("/v1/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_request_without_a_token_gets_the_bearer_challenge() {
    let app = TestApp::spawn().await;
    let anonymous = app.get("/v1/auth/me", None).await;
    assert_eq!(anonymous.code(), "missing_token");
    assert_eq!(
        anonymous.headers["www-authenticate"],
        r#"Bearer realm="sigil""#
    );
}

#[tokio::test]
async fn suspended_users_cannot_log_in_and_their_tokens_stop_working() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let id = app.create_user("erin", PASSWORD, &["user"]).await;
    let pair = app.login("erin", PASSWORD).await;
    let token = pair["access_token"].as_str().expect("token");
    assert_eq!(
        app.get("/v1/auth/me", Some(token)).await.status,
        StatusCode::OK
    );

    let suspend = app
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/users/{id}"),
            Some(&admin),
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(suspend.status, StatusCode::OK, "{:?}", suspend.body);

    assert_eq!(
        app.get("/v1/auth/me", Some(token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let login = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "erin", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::FORBIDDEN, "account_disabled")
    );
    let refresh = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);

    let inactive = app.create_user("frank", PASSWORD, &["user"]).await;
    app.request(
        reqwest::Method::PATCH,
        &format!("/v1/users/{inactive}"),
        Some(&admin),
        Some(json!({"status": "inactive"})),
    )
    .await;
    let login = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "frank", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.code(), "account_disabled");
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let app = TestApp::spawn_with(|c| c.rate_limits.registrations_per_network = 2).await;
    let mut answers = Vec::new();
    for name in ["reg1", "reg2", "reg3"] {
        answers.push(
            app.post(
                "/v1/auth/register",
                None,
                json!({"username": name, "email": format!("{name}@example.test"), "password": PASSWORD}),
            )
            .await,
        );
    }
    assert_eq!(answers[0].status, StatusCode::CREATED);
    assert_eq!(answers[1].status, StatusCode::CREATED);
    assert_eq!(
        (answers[2].status, answers[2].code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(answers[2].headers.contains_key("retry-after"));
    // The refused registration created nothing.
    let admin = app.admin().await.1;
    let users = app.get("/v1/users?limit=100", Some(&admin)).await.body;
    assert!(
        !users["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|u| u["username"] == "reg3"),
        "{users}"
    );
}

#[tokio::test]
async fn wrong_passwords_are_refused_alike_and_attempts_are_limited() {
    let app = TestApp::spawn_with(|c| {
        // One free attempt per (username, network); the second locks.
        c.rate_limits.login_free_attempts = 1;
        c.rate_limits.login_lockout_base_secs = 60;
    })
    .await;
    app.create_user("gina", PASSWORD, &["user"]).await;
    let wrong = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "gina", "password": "not the password"}),
        )
        .await;
    let unknown = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "nobody", "password": "not the password"}),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);

    app.post(
        "/v1/auth/login",
        None,
        json!({"username": "gina", "password": "still wrong"}),
    )
    .await;
    let limited = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "gina", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (limited.status, limited.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(
        limited.headers["retry-after"]
            .to_str()
            .expect("text")
            .parse::<u64>()
            .expect("seconds")
            >= 1
    );
    // Another username from the same IP is not affected by gina's limit.
    app.create_user("hank", PASSWORD, &["user"]).await;
    assert_eq!(
        app.post(
            "/v1/auth/login",
            None,
            json!({"username": "hank", "password": PASSWORD})
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_attempts_are_limited_per_address() {
    let per_ip = TestApp::spawn_with(|c| c.rate_limits.login_attempts_per_network = 2).await;
    per_ip.create_user("ivan", PASSWORD, &["user"]).await;
    for name in ["x1", "x2"] {
        per_ip
            .post(
                "/v1/auth/login",
                None,
                json!({"username": name, "password": "whatever-password"}),
            )
            .await;
    }
    let blocked = per_ip
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "ivan", "password": PASSWORD}),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn jwks_publishes_the_key_that_verifies_tokens() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let jwks = app.get("/.well-known/jwks.json", None).await;
    let key = &jwks.body["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let (header, _) = parts(&token);
    assert_eq!(header["kid"], key["kid"]);
    // An independent check of the signature with the published key.
    let public: [u8; 32] = URL_SAFE_NO_PAD
        .decode(key["x"].as_str().expect("x"))
        .expect("b64")
        .try_into()
        .expect("32 bytes");
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&public).expect("key");
    let (signed, signature) = token.rsplit_once('.').expect("jws");
    let signature =
        ed25519_dalek::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).expect("b64"))
            .expect("sig");
    verifying
        .verify_strict(signed.as_bytes(), &signature)
        .expect("the JWKS key verifies the token");
}

#[tokio::test]
async fn signing_keys_are_sealed_at_rest_and_other_secrets_do_not_start() {
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    use sigil::auth::sealing::KeySealer;
    use sigil::config::Secret;

    const SECRET: &str = "the first host's sealing secret, 32+ characters";
    let a = TestApp::spawn_with(|c| c.auth.signing_key_secret = Secret::new(SECRET)).await;
    a.create_user("sealed", "correct horse battery staple", &["user"])
        .await;
    let token_a = a.login("sealed", "correct horse battery staple").await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        a.get("/v1/auth/me", Some(&token_a)).await.status,
        StatusCode::OK
    );
    let kid_a = parts(&token_a).0["kid"].as_str().expect("kid").to_owned();

    // What PostgreSQL holds is sealed, and opens to the key that verifies.
    let db = a.superuser().await;
    let (stored, public): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT private_key, public_key FROM jwt_signing_keys WHERE kid = $1")
            .bind(&kid_a)
            .fetch_one(&db)
            .await
            .expect("key row");
    assert!(stored.starts_with(b"SGK1"), "the private key is sealed");
    let der = KeySealer::new(SECRET)
        .expect("sealer")
        .open(&kid_a, &stored)
        .expect("opens with the secret");
    let key = ed25519_dalek::SigningKey::from_pkcs8_der(&der).expect("PKCS#8");
    assert_eq!(key.verifying_key().to_bytes().as_slice(), public.as_slice());

    // A host with another secret does not start: the deployment's Redis
    // sealing key is sealed with the secret too, and every host must open
    // it (a host sealing Redis entries with a key of its own would make
    // every other host's entries misses). The error names the sealed key.
    let mut config = crate::helpers::app::test_config(&a.database, &a.redis_prefix);
    config.auth.signing_key_secret = Secret::new("a different secret, also 32+ characters");
    match sigil::app::Application::build(config).await {
        Err(error) => assert!(error.to_string().contains("cache_mac"), "{error}"),
        Ok(_) => panic!("a host with another secret started"),
    }
    // The first host still serves its tokens.
    assert_eq!(
        a.get("/v1/auth/me", Some(&token_a)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn usernames_are_one_account_in_any_case_and_keep_their_registered_form() {
    let app = TestApp::spawn().await;
    let register = |username: &'static str, email: &'static str| {
        app.post(
            "/v1/auth/register",
            None,
            json!({"username": username, "email": email, "password": PASSWORD}),
        )
    };
    let alice = register("Alice", "alice@example.test").await;
    assert_eq!(alice.status, StatusCode::CREATED, "{:?}", alice.body);
    for clash in ["alice", "ALICE", "aLiCe"] {
        let again = app
            .post(
                "/v1/auth/register",
                None,
                json!({"username": clash, "email": format!("{clash}2@example.test"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            (again.status, again.code()),
            (StatusCode::CONFLICT, "username_taken"),
            "{clash}"
        );
    }
    for spelling in ["alice", "ALICE", "Alice"] {
        let pair = app.login(spelling, PASSWORD).await;
        let me = app.get("/v1/auth/me", pair["access_token"].as_str()).await;
        assert_eq!(me.body["username"], "Alice", "{spelling}: {:?}", me.body);
    }
}

#[tokio::test]
async fn password_length_is_counted_in_characters_at_registration_and_login() {
    let app = TestApp::spawn().await;
    // 256 characters of two bytes each: at the limit, 512 bytes.
    let longest = "é".repeat(256);
    let registered = app
        .post(
            "/v1/auth/register",
            None,
            json!({"username": "longpass", "email": "longpass@example.test", "password": longest}),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{:?}",
        registered.body
    );
    app.login("longpass", &longest).await;

    let too_long = "é".repeat(257);
    let refused = app
        .post(
            "/v1/auth/register",
            None,
            json!({"username": "longerpass", "email": "longer@example.test", "password": too_long}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "weak_password")
    );
    let login = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "longpass", "password": too_long}),
        )
        .await;
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
}
