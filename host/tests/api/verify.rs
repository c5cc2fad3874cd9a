//! Keys and verification through HTTP, with keys and signatures made by
//! OpenSSL: genuine signatures verify, tampered ones do not, every answer
//! is recorded with the right fields, and each refusal has its own code.

use crate::helpers::app::{Answer, TestApp};
use crate::helpers::signers::{Kind, TestKey, b64, der_to_p1363};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;
use uuid::Uuid;

const DOCUMENT: &[u8] = b"Pay Alice 100 euros on 2026-12-01.";

/// The `POST /v1/keys` body for `key` in `format` (`PEM`, `DER`, `raw`,
/// `raw-compressed` or `JWK`), named after both.
fn registration(key: &TestKey, format: &str) -> Value {
    let key_data = match format {
        "PEM" => json!(key.pem()),
        "DER" => json!(key.der_b64()),
        "raw" => json!(key.raw_b64(false)),
        "raw-compressed" => json!(key.raw_b64(true)),
        "JWK" => key.jwk(),
        other => panic!("unknown format {other}"),
    };
    let format = if format == "raw-compressed" {
        "raw"
    } else {
        format
    };
    let mut body = json!({"key_data": key_data, "format": format, "algorithm": key.algorithm(), "name": format!("{:?} {format}", key.kind)});
    if format == "raw" && key.curve().is_some() && key.kind != Kind::Ed25519 {
        body["curve"] = json!(key.curve());
    }
    body
}

/// A verification of `DOCUMENT` under `key` with `signature`.
fn request(key: impl serde::Serialize, signature: &[u8]) -> Value {
    json!({"public_key_id": key, "document": b64(DOCUMENT), "signature": b64(signature)})
}

fn flip_byte(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] ^= 0x01;
    out
}

/// Refusals leave no record: `user` has exactly `expected` verifications.
async fn assert_recorded(app: &TestApp, token: &str, expected: usize) {
    let history = app.get("/v1/verifications", Some(token)).await;
    assert_eq!(
        history.body["items"].as_array().map(Vec::len),
        Some(expected),
        "refusals must not be recorded"
    );
}

#[tokio::test]
async fn every_algorithm_and_key_format_verifies_genuine_and_refuses_tampered() {
    let app = TestApp::spawn().await;
    let (user, token) = app.user(&["user"]).await;
    let matrix: &[(Kind, &[&str])] = &[
        (Kind::P256, &["PEM", "DER", "raw", "raw-compressed", "JWK"]),
        (Kind::Secp256k1, &["PEM", "DER", "raw", "JWK"]),
        (Kind::Ed25519, &["PEM", "DER", "raw", "JWK"]),
        (Kind::Rsa2048, &["PEM", "DER", "raw", "JWK"]),
    ];
    for (kind, formats) in matrix {
        let signer = TestKey::generate(*kind);
        let other = TestKey::generate(*kind);
        let other_key = app.add_key(&token, registration(&other, "PEM")).await;
        let signature = signer.sign(DOCUMENT);
        let mut fingerprints = Vec::new();
        for format in *formats {
            let key = app.add_key(&token, registration(&signer, format)).await;
            assert_eq!(key["algorithm"], signer.algorithm());
            assert_eq!(key["curve"], json!(signer.curve()));
            assert_eq!(key["status"], "active");
            assert_eq!(key["format"], "PEM", "stored canonically");
            fingerprints.push(key["fingerprint"].as_str().expect("fingerprint").to_owned());
            let id = key["id"].as_str().expect("id");

            let genuine = app.verify(&token, request(id, &signature)).await;
            assert_eq!(
                genuine.status,
                StatusCode::OK,
                "{kind:?} {format}: {:?}",
                genuine.body
            );
            assert_eq!(genuine.body["valid"], true, "{kind:?} {format}");

            // The record is there, with the right fields.
            let record = app
                .record(
                    &token,
                    genuine.body["verification_id"].as_str().expect("id"),
                )
                .await;
            assert_eq!(record.status, StatusCode::OK);
            let expected_hash = match kind {
                Kind::P384 => hex::encode(sha2::Sha384::digest(DOCUMENT)),
                _ => hex::encode(sha2::Sha256::digest(DOCUMENT)),
            };
            assert_eq!(record.body["document_hash"], expected_hash);
            assert_eq!(genuine.body["document_hash"], expected_hash);
            assert_eq!(record.body["public_key_id"], id);
            assert_eq!(record.body["user_id"], json!(user));
            assert_eq!(record.body["algorithm"], signer.algorithm());
            assert_eq!(record.body["curve"], json!(signer.curve()));
            assert_eq!(record.body["valid"], true);
            let plugin = record.body["metadata"]["plugin"]
                .as_str()
                .expect("plugin")
                .to_owned();
            assert!(
                genuine.body["plugin"]
                    .as_str()
                    .expect("plugin")
                    .starts_with(&plugin)
            );
            assert_eq!(record.body["metadata"]["plugin_version"], "0.1.0");

            let tampered_message = app.verify(&token, json!({"public_key_id": id, "document": b64(b"Pay Mallory 100 euros."), "signature": b64(&signature)})).await;
            assert_eq!(
                tampered_message.body["valid"], false,
                "{kind:?} {format}: tampered message"
            );
            let flip_at = if *kind == Kind::Ed25519 {
                0
            } else {
                signature.len() - 1
            };
            let tampered = app
                .verify(&token, request(id, &flip_byte(&signature, flip_at)))
                .await;
            assert_eq!(
                tampered.body["valid"], false,
                "{kind:?} {format}: tampered signature {:?}",
                tampered.body
            );
            let wrong_key = app
                .verify(&token, request(&other_key["id"], &signature))
                .await;
            assert_eq!(wrong_key.body["valid"], false, "{kind:?}: other key");
        }
        fingerprints.dedup();
        assert_eq!(
            fingerprints.len(),
            1,
            "{kind:?}: every format canonicalises to one key"
        );
    }
    let history = app.get("/v1/verifications?limit=100", Some(&token)).await;
    assert_eq!(history.body["items"].as_array().map(Vec::len), Some(17 * 4));
}

#[tokio::test]
async fn p256_takes_p1363_signatures_other_hashes_and_digests() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let id = app.register_key(&token, &p256).await;
    let der = p256.sign_with(openssl::hash::MessageDigest::sha512(), DOCUMENT);
    let answer = app.verify(&token, json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&der_to_p1363(&der, 32)),
        "hash_algorithm": "sha512", "signature_encoding": "p1363"})).await;
    assert_eq!(answer.body["valid"], true, "{:?}", answer.body);
    assert_eq!(
        answer.body["document_hash"],
        hex::encode(sha2::Sha512::digest(DOCUMENT))
    );
    let by_hash = app.verify(&token, json!({"public_key_id": id, "document_hash": hex::encode(sha2::Sha512::digest(DOCUMENT)),
        "signature": b64(&der), "hash_algorithm": "sha512"})).await;
    assert_eq!(by_hash.body["valid"], true, "{:?}", by_hash.body);
    let wrong_hash = app.verify(&token, request(id, &der)).await;
    assert_eq!(
        wrong_hash.body["valid"], false,
        "signed over SHA-512, checked over SHA-256"
    );
    let unsupported = app.verify(&token, json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&der), "hash_algorithm": "keccak256"})).await;
    assert_eq!(
        (unsupported.status, unsupported.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unsupported_hash")
    );
}

#[tokio::test]
async fn secp256k1_takes_keccak256_and_refuses_high_s() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let k1 = TestKey::generate(Kind::Secp256k1);
    let key = app.add_key(&token, registration(&k1, "DER")).await;
    let digest = sha3::Keccak256::digest(DOCUMENT);
    let low = k1.sign_digest(&digest);
    let answer = app.verify(&token, json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&low), "hash_algorithm": "keccak256"})).await;
    assert_eq!(answer.body["valid"], true, "{:?}", answer.body);
    let high = app.verify(&token, json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&k1.flip_s(&low)), "hash_algorithm": "keccak256"})).await;
    assert_eq!(
        (high.status, high.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "non_canonical_signature"),
        "{:?}",
        high.body
    );
}

#[tokio::test]
async fn rsa_takes_pss_over_sha256_and_sha384() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let rsa = TestKey::generate(Kind::Rsa2048);
    let id = app.register_key(&token, &rsa).await;
    for (digest, name) in [
        (openssl::hash::MessageDigest::sha256(), "sha256"),
        (openssl::hash::MessageDigest::sha384(), "sha384"),
    ] {
        let pss = rsa.sign_pss(digest, DOCUMENT);
        let answer = app
            .verify(
                &token,
                json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&pss),
                "hash_algorithm": name, "signature_algorithm": "pss"}),
            )
            .await;
        assert_eq!(answer.body["valid"], true, "PSS {name}: {:?}", answer.body);
        let as_pkcs1 = app.verify(&token, json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&pss), "hash_algorithm": name})).await;
        assert_eq!(
            as_pkcs1.body["valid"], false,
            "a PSS signature is not a PKCS #1 v1.5 one"
        );
    }
}

#[tokio::test]
async fn ed25519_signs_the_message_so_digests_and_hash_choices_are_refused() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let ed = TestKey::generate(Kind::Ed25519);
    let key = app.add_key(&token, registration(&ed, "raw")).await;
    let sig = ed.sign(DOCUMENT);
    let hashed = app.verify(&token, json!({"public_key_id": key["id"], "document_hash": hex::encode(sha2::Sha256::digest(DOCUMENT)), "signature": b64(&sig)})).await;
    assert_eq!(hashed.code(), "document_required");
    let with_hash = app.verify(&token, json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&sig), "hash_algorithm": "sha256"})).await;
    assert_eq!(with_hash.code(), "unsupported_hash");
}

#[tokio::test]
async fn every_refusal_has_its_own_code() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let signature = p256.sign(DOCUMENT);
    let id = app.register_key(&token, &p256).await;
    let rows: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "a signature that is not DER",
            request(id, b"not DER at all"),
            StatusCode::BAD_REQUEST,
            "malformed_signature",
        ),
        (
            "a document that is not base64",
            json!({"public_key_id": id, "document": "%%%", "signature": b64(&signature)}),
            StatusCode::BAD_REQUEST,
            "invalid_document",
        ),
        (
            "both document and document_hash",
            json!({"public_key_id": id, "document": b64(DOCUMENT), "document_hash": "00", "signature": b64(&signature)}),
            StatusCode::BAD_REQUEST,
            "document_required",
        ),
        (
            "a key that does not exist",
            request(Uuid::new_v4(), &signature),
            StatusCode::NOT_FOUND,
            "key_not_found",
        ),
        (
            "a document over 1 MiB",
            json!({"public_key_id": id, "document": b64(&vec![0u8; (1 << 20) + 1]), "signature": b64(&signature)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "document_too_large",
        ),
    ];
    for (what, body, status, code) in rows {
        let answer = app.verify(&token, body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{what}: {:?}",
            answer.body
        );
    }
    assert_recorded(&app, &token, 0).await;
}

/// Set the catalogue status of the curve `id`.
async fn set_curve(app: &TestApp, admin: &str, id: &str, status: &str) {
    app.request(
        Method::PATCH,
        &format!("/v1/curves/{id}"),
        Some(admin),
        Some(json!({"status": status})),
    )
    .await;
}

#[tokio::test]
async fn a_disabled_curve_refuses_verifications_and_keys_until_enabled_again() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let (_, token) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let good = request(app.register_key(&token, &p256).await, &p256.sign(DOCUMENT));
    let curves = app.get("/v1/curves", Some(&token)).await;
    let p256_curve = curves.body["items"]
        .as_array()
        .expect("curves")
        .iter()
        .find(|c| c["name"] == "P-256")
        .expect("P-256")
        .clone();
    assert_eq!(p256_curve["available"], true);
    assert_eq!(p256_curve["plugin"]["name"], "ecdsa-p256");
    let curve_id = p256_curve["id"].as_str().expect("id");

    set_curve(&app, &admin, curve_id, "disabled").await;
    let disabled = app.verify(&token, good.clone()).await;
    assert_eq!(
        (disabled.status, disabled.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "curve_disabled")
    );
    let refused_upload = app
        .post(
            "/v1/keys",
            Some(&token),
            TestKey::generate(Kind::P256).pem_registration(),
        )
        .await;
    assert_eq!(refused_upload.code(), "curve_disabled");

    set_curve(&app, &admin, curve_id, "enabled").await;
    assert_eq!(app.verify(&token, good).await.body["valid"], true);
    assert_recorded(&app, &token, 1).await;
}

/// Change key `id` with a PATCH body.
async fn patch_key(app: &TestApp, token: &str, id: Uuid, body: Value) -> Answer {
    app.request(
        Method::PATCH,
        &format!("/v1/keys/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn an_expiry_in_the_past_expires_the_key_now() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let id = app.register_key(&token, &p256).await;
    let expire = patch_key(
        &app,
        &token,
        id,
        json!({"expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(expire.body["status"], "expired", "{:?}", expire.body);
    let expired = app.verify(&token, request(id, &p256.sign(DOCUMENT))).await;
    assert_eq!(
        (expired.status, expired.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "key_expired")
    );
    assert_eq!(
        app.get(&format!("/v1/keys/{id}"), Some(&token)).await.body["status"],
        "expired"
    );
    assert_recorded(&app, &token, 0).await;
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let id = app.register_key(&token, &p256).await;
    let revoked = app
        .post(&format!("/v1/keys/{id}/revoke"), Some(&token), json!({}))
        .await;
    assert_eq!(revoked.body["status"], "revoked");
    let answer = app.verify(&token, request(id, &p256.sign(DOCUMENT))).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "key_revoked")
    );
    assert_recorded(&app, &token, 0).await;
}

#[tokio::test]
async fn a_curve_no_plugin_serves_answers_plugin_unavailable() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let (user, token) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let created = app.post("/v1/curves", Some(&admin), json!({"name": "brainpoolP256r1", "algorithm": "ECDSA", "parameters": {"oid": "1.3.36.3.3.2.8.1.1.7"}})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["available"], false);
    // A key on it can only be written behind the service's back.
    let orphan: Uuid = sqlx::query_scalar(
        "INSERT INTO public_keys (user_id, algorithm_id, curve_id, key_data)
         SELECT $1, c.algorithm_id, c.id, $2 FROM curves c WHERE c.name = 'brainpoolP256r1' RETURNING id",
    )
    .bind(user)
    .bind(p256.pem())
    .fetch_one(&app.superuser().await)
    .await
    .expect("orphan key");
    let missing = app
        .verify(&token, request(orphan, &p256.sign(DOCUMENT)))
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "plugin_unavailable")
    );
    assert_recorded(&app, &token, 0).await;
}

#[tokio::test]
async fn every_bad_key_is_refused_with_its_own_code() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let small_pem = String::from_utf8(
        openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(1024).expect("rsa"))
            .expect("pkey")
            .public_key_to_pem()
            .expect("pem"),
    )
    .expect("utf-8");
    let rows: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "a P-256 key declared secp256k1",
            json!({"key_data": p256.pem(), "format": "PEM", "algorithm": "ECDSA", "curve": "secp256k1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "key_rejected",
        ),
        (
            "a raw ECDSA point without a curve",
            json!({"key_data": p256.raw_b64(false), "format": "raw", "algorithm": "ECDSA"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "curve_required",
        ),
        (
            "a PEM block of garbage",
            json!({"key_data": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "format": "PEM", "algorithm": "ECDSA"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_key",
        ),
        (
            "RSA-1024",
            json!({"key_data": small_pem, "format": "PEM", "algorithm": "RSA"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "key_rejected",
        ),
        (
            "an unknown algorithm",
            json!({"key_data": p256.pem(), "format": "PEM", "algorithm": "DSA"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_algorithm",
        ),
        (
            "an expiry in the past",
            json!({"key_data": p256.pem(), "format": "PEM", "algorithm": "ECDSA", "expires_at": "2001-01-01T00:00:00Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_expiry",
        ),
        (
            "a private JWK",
            json!({"key_data": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}, "format": "JWK", "algorithm": "ECDSA"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "private_key_refused",
        ),
    ];
    for (what, body, status, code) in rows {
        let answer = app.post("/v1/keys", Some(&alice), body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{what}: {:?}",
            answer.body
        );
    }
    assert_eq!(
        app.get("/v1/keys", Some(&alice)).await.body["items"],
        json!([]),
        "no refused key was stored"
    );
}

#[tokio::test]
async fn a_key_keeps_its_name_and_metadata_and_facts_survive_changes() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let key = app.post("/v1/keys", Some(&alice), json!({"key_data": p256.pem(), "format": "PEM", "algorithm": "ECDSA", "name": "signing key", "metadata": {"team": "payments"}})).await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    assert_eq!(key.body["metadata"], json!({"team": "payments"}));
    assert_eq!(key.body["bits"], 256);
    let id: Uuid = key.body["id"].as_str().expect("id").parse().expect("uuid");
    let renamed = patch_key(
        &app,
        &alice,
        id,
        json!({"name": "renamed", "metadata": {"team": "risk"}}),
    )
    .await;
    assert_eq!(
        (
            renamed.body["name"].as_str(),
            renamed.body["metadata"]["team"].as_str()
        ),
        (Some("renamed"), Some("risk"))
    );
    assert_eq!(renamed.body["bits"], 256, "facts survive a metadata change");
}

#[tokio::test]
async fn another_users_key_is_invisible_and_untouchable_but_admins_see_it() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user(&["user"]).await;
    let (_, bob) = app.user(&["user"]).await;
    let (_, admin) = app.admin().await;
    let p256 = TestKey::generate(Kind::P256);
    let id = app.register_key(&alice, &p256).await;

    assert_eq!(
        app.get(&format!("/v1/keys/{id}"), Some(&bob)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/keys", Some(&bob)).await.body["items"],
        json!([])
    );
    let stolen = app.verify(&bob, request(id, &p256.sign(DOCUMENT))).await;
    assert_eq!(
        (stolen.status, stolen.code()),
        (StatusCode::NOT_FOUND, "key_not_found")
    );
    assert_eq!(
        app.post(&format!("/v1/keys/{id}/revoke"), Some(&bob), json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.request(Method::DELETE, &format!("/v1/keys/{id}"), Some(&bob), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        patch_key(&app, &bob, id, json!({"name": "mine"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/v1/keys/{id}"), Some(&admin))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_used_key_cannot_be_deleted_but_an_unused_one_can() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let id = app.register_key(&alice, &p256).await;
    // A verification's history pins the key: deletion is refused.
    assert_eq!(
        app.verify(&alice, request(id, &p256.sign(DOCUMENT)))
            .await
            .body["valid"],
        true
    );
    let delete = app
        .request(
            Method::DELETE,
            &format!("/v1/keys/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        (delete.status, delete.code()),
        (StatusCode::CONFLICT, "key_in_use")
    );
    let unused_id = app
        .register_key(&alice, &TestKey::generate(Kind::Ed25519))
        .await;
    assert_eq!(
        app.request(
            Method::DELETE,
            &format!("/v1/keys/{unused_id}"),
            Some(&alice),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/v1/keys/{unused_id}"), Some(&alice))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let listed = app.get("/v1/keys?status=active", Some(&alice)).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
}

/// A transaction abandoned while its BEGIN is on the wire (a client that
/// hangs up mid-request) leaves no transaction open on the pooled
/// connection: the statements that connection runs next, such as the
/// recorder's, are committed. (sqlx 0.9.0's own `begin` left it open, and
/// answered verifications went unrecorded.)
#[tokio::test]
async fn a_transaction_abandoned_mid_begin_leaves_the_connection_clean() {
    let app = TestApp::spawn().await;
    let superuser = app.superuser().await;
    sqlx::query("CREATE TABLE abandoned_begin (n integer)")
        .execute(&superuser)
        .await
        .expect("table");
    // One connection: every statement below shares it.
    let single = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*superuser.connect_options()).clone())
        .await
        .expect("pool");
    let store = sigil::store::Store::from_pool(single.clone());
    const ROUNDS: i32 = 120;
    for n in 0..ROUNDS {
        // Give `begin` a few more turns each round, so that some round
        // drops it after BEGIN was sent and before its answer came back.
        let mut begin = Box::pin(store.begin());
        for _ in 0..=n {
            if futures::poll!(&mut begin).is_ready() {
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(begin);
        sqlx::query("INSERT INTO abandoned_begin VALUES ($1)")
            .bind(n)
            .execute(&single)
            .await
            .expect("insert");
    }
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM abandoned_begin")
        .fetch_one(&superuser)
        .await
        .expect("count");
    assert_eq!(
        seen,
        i64::from(ROUNDS),
        "inserts left in an open transaction"
    );
}
