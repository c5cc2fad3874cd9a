//! Keys and verification through HTTP, with keys and signatures made by
//! OpenSSL: genuine signatures verify, tampered ones do not, every answer
//! is recorded with the right fields, and each refusal has its own code.

use crate::helpers::app::TestApp;
use crate::helpers::signers::{Kind, TestKey, b64, der_to_p1363};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

const DOCUMENT: &[u8] = b"Pay Alice 100 euros on 2026-12-01.";

async fn upload(app: &TestApp, token: &str, key: &TestKey, format: &str) -> Value {
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
    let answer = app.post("/v1/keys", Some(token), body).await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "{:?} {format}: {:?}",
        key.kind,
        answer.body
    );
    answer.body
}

async fn verify(app: &TestApp, token: &str, body: Value) -> crate::helpers::app::Answer {
    app.post("/v1/verify", Some(token), body).await
}

fn flip_byte(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] ^= 0x01;
    out
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
        let other_key = upload(&app, &token, &other, "PEM").await;
        let signature = signer.sign(DOCUMENT);
        let mut fingerprints = Vec::new();
        for format in *formats {
            let key = upload(&app, &token, &signer, format).await;
            assert_eq!(key["algorithm"], signer.algorithm());
            assert_eq!(key["curve"], json!(signer.curve()));
            assert_eq!(key["status"], "active");
            assert_eq!(key["format"], "PEM", "stored canonically");
            fingerprints.push(key["fingerprint"].as_str().expect("fingerprint").to_owned());
            let id = key["id"].as_str().expect("id");

            let genuine = verify(&app, &token, json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&signature)})).await;
            assert_eq!(
                genuine.status,
                StatusCode::OK,
                "{kind:?} {format}: {:?}",
                genuine.body
            );
            assert_eq!(genuine.body["valid"], true, "{kind:?} {format}");

            // The record is there, with the right fields.
            let record = app
                .get(
                    &format!(
                        "/v1/verifications/{}",
                        genuine.body["verification_id"].as_str().expect("id")
                    ),
                    Some(&token),
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

            let tampered_message = verify(&app, &token, json!({"public_key_id": id, "document": b64(b"Pay Mallory 100 euros."), "signature": b64(&signature)})).await;
            assert_eq!(
                tampered_message.body["valid"], false,
                "{kind:?} {format}: tampered message"
            );
            let flip_at = if *kind == Kind::Ed25519 {
                0
            } else {
                signature.len() - 1
            };
            let tampered = verify(&app, &token, json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&flip_byte(&signature, flip_at))})).await;
            assert_eq!(
                tampered.body["valid"], false,
                "{kind:?} {format}: tampered signature {:?}",
                tampered.body
            );
            let wrong_key = verify(&app, &token, json!({"public_key_id": other_key["id"], "document": b64(DOCUMENT), "signature": b64(&signature)})).await;
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
async fn encodings_hashes_and_schemes_beyond_the_defaults() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user(&["user"]).await;

    // P-256: P1363 encoding, SHA-512, and a digest instead of the document.
    let p256 = TestKey::generate(Kind::P256);
    let key = upload(&app, &token, &p256, "PEM").await;
    let der = p256.sign_with(openssl::hash::MessageDigest::sha512(), DOCUMENT);
    let answer = verify(&app, &token, json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&der_to_p1363(&der, 32)),
        "hash_algorithm": "sha512", "signature_encoding": "p1363"})).await;
    assert_eq!(answer.body["valid"], true, "{:?}", answer.body);
    assert_eq!(
        answer.body["document_hash"],
        hex::encode(sha2::Sha512::digest(DOCUMENT))
    );
    let by_hash = verify(&app, &token, json!({"public_key_id": key["id"], "document_hash": hex::encode(sha2::Sha512::digest(DOCUMENT)),
        "signature": b64(&der), "hash_algorithm": "sha512"})).await;
    assert_eq!(by_hash.body["valid"], true, "{:?}", by_hash.body);
    let wrong_hash = verify(
        &app,
        &token,
        json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&der)}),
    )
    .await;
    assert_eq!(
        wrong_hash.body["valid"], false,
        "signed over SHA-512, checked over SHA-256"
    );
    let unsupported = verify(&app, &token, json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&der), "hash_algorithm": "keccak256"})).await;
    assert_eq!(
        (unsupported.status, unsupported.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unsupported_hash")
    );

    // secp256k1: Keccak-256 (Ethereum-style) and the low-S rule.
    let k1 = TestKey::generate(Kind::Secp256k1);
    let key = upload(&app, &token, &k1, "DER").await;
    let digest = sha3::Keccak256::digest(DOCUMENT);
    let low = k1.sign_digest(&digest);
    let answer = verify(&app, &token, json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&low), "hash_algorithm": "keccak256"})).await;
    assert_eq!(answer.body["valid"], true, "{:?}", answer.body);
    let high = verify(&app, &token, json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&k1.flip_s(&low)), "hash_algorithm": "keccak256"})).await;
    assert_eq!(
        (high.status, high.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "non_canonical_signature"),
        "{:?}",
        high.body
    );

    // RSA: PSS with SHA-256 and SHA-384.
    let rsa = TestKey::generate(Kind::Rsa2048);
    let key = upload(&app, &token, &rsa, "PEM").await;
    for (digest, name) in [
        (openssl::hash::MessageDigest::sha256(), "sha256"),
        (openssl::hash::MessageDigest::sha384(), "sha384"),
    ] {
        let pss = rsa.sign_pss(digest, DOCUMENT);
        let answer = verify(
            &app,
            &token,
            json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&pss),
            "hash_algorithm": name, "signature_algorithm": "pss"}),
        )
        .await;
        assert_eq!(answer.body["valid"], true, "PSS {name}: {:?}", answer.body);
        let as_pkcs1 = verify(&app, &token, json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&pss), "hash_algorithm": name})).await;
        assert_eq!(
            as_pkcs1.body["valid"], false,
            "a PSS signature is not a PKCS #1 v1.5 one"
        );
    }

    // Ed25519 signs the raw message: a digest or a hash choice is refused.
    let ed = TestKey::generate(Kind::Ed25519);
    let key = upload(&app, &token, &ed, "raw").await;
    let sig = ed.sign(DOCUMENT);
    let hashed = verify(&app, &token, json!({"public_key_id": key["id"], "document_hash": hex::encode(sha2::Sha256::digest(DOCUMENT)), "signature": b64(&sig)})).await;
    assert_eq!(hashed.code(), "document_required");
    let with_hash = verify(&app, &token, json!({"public_key_id": key["id"], "document": b64(DOCUMENT), "signature": b64(&sig), "hash_algorithm": "sha256"})).await;
    assert_eq!(with_hash.code(), "unsupported_hash");
}

#[tokio::test]
async fn every_refusal_has_its_own_code() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let (user, token) = app.user(&["user"]).await;
    let p256 = TestKey::generate(Kind::P256);
    let signature = p256.sign(DOCUMENT);
    let key = upload(&app, &token, &p256, "PEM").await;
    let id = key["id"].as_str().expect("id").to_owned();
    let good =
        json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&signature)});

    let malformed = verify(&app, &token, json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(b"not DER at all")})).await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (StatusCode::BAD_REQUEST, "malformed_signature")
    );
    let not_base64 = verify(
        &app,
        &token,
        json!({"public_key_id": id, "document": "%%%", "signature": b64(&signature)}),
    )
    .await;
    assert_eq!(
        (not_base64.status, not_base64.code()),
        (StatusCode::BAD_REQUEST, "invalid_document")
    );
    let both = verify(&app, &token, json!({"public_key_id": id, "document": b64(DOCUMENT), "document_hash": "00", "signature": b64(&signature)})).await;
    assert_eq!(both.code(), "document_required");
    let unknown = verify(&app, &token, json!({"public_key_id": uuid::Uuid::new_v4(), "document": b64(DOCUMENT), "signature": b64(&signature)})).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "key_not_found")
    );
    let too_big = verify(&app, &token, json!({"public_key_id": id, "document": b64(&vec![0u8; (1 << 20) + 1]), "signature": b64(&signature)})).await;
    assert_eq!(too_big.code(), "document_too_large");

    // Disabled curve.
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
    app.request(
        Method::PATCH,
        &format!("/v1/curves/{curve_id}"),
        Some(&admin),
        Some(json!({"status": "disabled"})),
    )
    .await;
    let disabled = verify(&app, &token, good.clone()).await;
    assert_eq!(
        (disabled.status, disabled.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "curve_disabled")
    );
    let refused_upload = app.post("/v1/keys", Some(&token), json!({"key_data": TestKey::generate(Kind::P256).pem(), "format": "PEM", "algorithm": "ECDSA"})).await;
    assert_eq!(refused_upload.code(), "curve_disabled");
    app.request(
        Method::PATCH,
        &format!("/v1/curves/{curve_id}"),
        Some(&admin),
        Some(json!({"status": "enabled"})),
    )
    .await;
    assert_eq!(verify(&app, &token, good.clone()).await.body["valid"], true);

    // Expired key (an expiry in the past expires it now).
    let expire = app
        .request(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            Some(&token),
            Some(json!({"expires_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(expire.body["status"], "expired", "{:?}", expire.body);
    let expired = verify(&app, &token, good.clone()).await;
    assert_eq!(
        (expired.status, expired.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "key_expired")
    );
    assert_eq!(
        app.get(&format!("/v1/keys/{id}"), Some(&token)).await.body["status"],
        "expired"
    );
    app.request(
        Method::PATCH,
        &format!("/v1/keys/{id}"),
        Some(&token),
        Some(json!({"expires_at": "2100-01-01T00:00:00Z"})),
    )
    .await;
    let db = app.superuser().await;

    // Revoked key.
    let revoked = app
        .post(&format!("/v1/keys/{id}/revoke"), Some(&token), json!({}))
        .await;
    assert_eq!(revoked.body["status"], "revoked");
    let answer = verify(&app, &token, good.clone()).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "key_revoked")
    );

    // A curve in the catalogue that no plugin serves.
    let created = app.post("/v1/curves", Some(&admin), json!({"name": "brainpoolP256r1", "algorithm": "ECDSA", "parameters": {"oid": "1.3.36.3.3.2.8.1.1.7"}})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["available"], false);
    let orphan: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO public_keys (user_id, algorithm_id, curve_id, key_data)
         SELECT $1, c.algorithm_id, c.id, $2 FROM curves c WHERE c.name = 'brainpoolP256r1' RETURNING id",
    )
    .bind(user)
    .bind(p256.pem())
    .fetch_one(&db)
    .await
    .expect("orphan key");
    let missing = verify(
        &app,
        &token,
        json!({"public_key_id": orphan, "document": b64(DOCUMENT), "signature": b64(&signature)}),
    )
    .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "plugin_unavailable")
    );

    // No record was written for any refusal: only the one answer given
    // after the curve was enabled again.
    let history = app.get("/v1/verifications", Some(&token)).await;
    assert_eq!(
        history.body["items"].as_array().map(Vec::len),
        Some(1),
        "refusals must not be recorded"
    );
}

#[tokio::test]
async fn keys_are_validated_owned_and_managed() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user(&["user"]).await;
    let (_, bob) = app.user(&["user"]).await;
    let (_, admin) = app.admin().await;
    let p256 = TestKey::generate(Kind::P256);

    let mismatch = app.post("/v1/keys", Some(&alice), json!({"key_data": p256.pem(), "format": "PEM", "algorithm": "ECDSA", "curve": "secp256k1"})).await;
    assert_eq!(
        (mismatch.status, mismatch.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "key_rejected"),
        "{:?}",
        mismatch.body
    );
    let raw_without_curve = app
        .post(
            "/v1/keys",
            Some(&alice),
            json!({"key_data": p256.raw_b64(false), "format": "raw", "algorithm": "ECDSA"}),
        )
        .await;
    assert_eq!(raw_without_curve.code(), "curve_required");
    let garbage = app.post("/v1/keys", Some(&alice), json!({"key_data": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "format": "PEM", "algorithm": "ECDSA"})).await;
    assert_eq!(
        (garbage.status, garbage.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "malformed_key"),
        "{:?}",
        garbage.body
    );
    let rsa_small = openssl::rsa::Rsa::generate(1024).expect("rsa");
    let small_pem = String::from_utf8(
        openssl::pkey::PKey::from_rsa(rsa_small)
            .expect("pkey")
            .public_key_to_pem()
            .expect("pem"),
    )
    .expect("utf-8");
    let weak = app
        .post(
            "/v1/keys",
            Some(&alice),
            json!({"key_data": small_pem, "format": "PEM", "algorithm": "RSA"}),
        )
        .await;
    assert_eq!(weak.code(), "key_rejected");
    let unknown_algorithm = app
        .post(
            "/v1/keys",
            Some(&alice),
            json!({"key_data": p256.pem(), "format": "PEM", "algorithm": "DSA"}),
        )
        .await;
    assert_eq!(unknown_algorithm.code(), "unsupported_algorithm");
    let past = app.post("/v1/keys", Some(&alice), json!({"key_data": p256.pem(), "format": "PEM", "algorithm": "ECDSA", "expires_at": "2001-01-01T00:00:00Z"})).await;
    assert_eq!(past.code(), "invalid_expiry");
    let private = app.post("/v1/keys", Some(&alice), json!({"key_data": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}, "format": "JWK", "algorithm": "ECDSA"})).await;
    assert_eq!(private.code(), "private_key_refused");

    let key = app.post("/v1/keys", Some(&alice), json!({"key_data": p256.pem(), "format": "PEM", "algorithm": "ECDSA", "name": "signing key", "metadata": {"team": "payments"}})).await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    assert_eq!(key.body["metadata"], json!({"team": "payments"}));
    assert_eq!(key.body["bits"], 256);
    let id = key.body["id"].as_str().expect("id").to_owned();

    // Owned: Bob sees nothing of Alice's key and cannot use or change it.
    assert_eq!(
        app.get(&format!("/v1/keys/{id}"), Some(&bob)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/keys", Some(&bob)).await.body["items"],
        json!([])
    );
    let signature = p256.sign(DOCUMENT);
    let stolen = verify(
        &app,
        &bob,
        json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&signature)}),
    )
    .await;
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
        app.request(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            Some(&bob),
            Some(json!({"name": "mine"}))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // An admin sees it.
    assert_eq!(
        app.get(&format!("/v1/keys/{id}"), Some(&admin))
            .await
            .status,
        StatusCode::OK
    );

    // Rename and metadata.
    let renamed = app
        .request(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            Some(&alice),
            Some(json!({"name": "renamed", "metadata": {"team": "risk"}})),
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

    // A verification's history pins the key: deletion is refused, revocation works.
    assert_eq!(
        verify(
            &app,
            &alice,
            json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&signature)})
        )
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
    let unused = app.post("/v1/keys", Some(&alice), json!({"key_data": TestKey::generate(Kind::Ed25519).pem(), "format": "PEM", "algorithm": "EdDSA"})).await;
    let unused_id = unused.body["id"].as_str().expect("id");
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
