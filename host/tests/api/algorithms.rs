//! The algorithms of the second round (issue 16): each new plugin is
//! hot-loaded by upload and answers genuine signatures made by an
//! independent implementation: OpenSSL (the `openssl` crate over the
//! system's libcrypto) for P-521, Ed448, brainpoolP256r1 and
//! brainpoolP384r1, and P-256 over SHA3-256; Python
//! `cryptography` for ML-DSA, which the system's OpenSSL 3.0 lacks
//! (`fixtures/ml-dsa.json`, made by `fixtures/ml-dsa.py`); libsecp256k1
//! through Python `coincurve` for BIP-340 Schnorr
//! (`fixtures/schnorr-secp256k1.json`, made by
//! `fixtures/schnorr-secp256k1.py`); the pure-Python PyPI package
//! `slh-dsa` for SLH-DSA, whose known-answer vectors
//! (`host/src/plugins/vectors/slh-dsa-pure.json`, made by the script
//! beside it) serve as its genuine signatures here too.

use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::TestApp;
use crate::helpers::signers::b64;

const DOCUMENT: &[u8] = b"Pay Bob 10 euros";

fn pem(key: &PKey<Private>) -> String {
    String::from_utf8(key.public_key_to_pem().expect("pem")).expect("utf-8")
}

/// Register a key; its id and the curve the service recorded.
async fn register(app: &TestApp, token: &str, body: Value) -> (Value, Value) {
    let view = app.add_key(token, body).await;
    (view["id"].clone(), view["curve"].clone())
}

/// `valid` for `signature` over `document`, with `extra` request fields.
async fn verdict(
    app: &TestApp,
    token: &str,
    key: &Value,
    document: &[u8],
    signature: &[u8],
    extra: Value,
) -> Value {
    let mut body =
        json!({"public_key_id": key, "document": b64(document), "signature": b64(signature)});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let answer = app.verify(token, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body
}

/// Upload a component from target/plugins; it is admitted and serves.
async fn upload(app: &TestApp, token: &str, name: &str) {
    let uploaded = app.upload_active(token, name).await;
    assert_eq!(uploaded["name"], name);
}

#[tokio::test]
async fn p521_is_hot_loaded_and_verifies_openssl_signatures_over_sha512_and_sha3_512() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let group = EcGroup::from_curve_name(Nid::SECP521R1).expect("group");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey");
    let registration = json!({"key_data": pem(&key), "format": "PEM", "algorithm": "ECDSA"});
    let before = app
        .post("/v1/keys", Some(&admin), registration.clone())
        .await;
    assert_ne!(
        before.status,
        StatusCode::CREATED,
        "P-521 is not served yet"
    );

    upload(&app, &admin, "ecdsa-p521").await;
    let (id, curve) = register(&app, &admin, registration).await;
    assert_eq!(curve, "P-521");
    let mut signer = Signer::new(MessageDigest::sha512(), &key).expect("signer");
    let signature = signer.sign_oneshot_to_vec(DOCUMENT).expect("sign");
    let answer = verdict(&app, &admin, &id, DOCUMENT, &signature, json!({})).await;
    assert_eq!(answer["valid"], true, "{answer}");
    assert!(
        answer["plugin"]
            .as_str()
            .is_some_and(|p| p.starts_with("ecdsa-p521@"))
    );
    let forged = verdict(
        &app,
        &admin,
        &id,
        b"Pay Bob 1000 euros",
        &signature,
        json!({}),
    )
    .await;
    assert_eq!(forged["valid"], false, "{forged}");
    // SHA3-512 (contract 0.2.0), named; the same signature under the
    // default SHA-512 is wrong.
    let mut signer = Signer::new(MessageDigest::sha3_512(), &key).expect("signer");
    let signature = signer.sign_oneshot_to_vec(DOCUMENT).expect("sign");
    let sha3 = json!({"hash_algorithm": "sha3-512"});
    let answer = verdict(&app, &admin, &id, DOCUMENT, &signature, sha3).await;
    assert_eq!(answer["valid"], true, "{answer}");
    let answer = verdict(&app, &admin, &id, DOCUMENT, &signature, json!({})).await;
    assert_eq!(answer["valid"], false, "{answer}");
}

#[tokio::test]
async fn ed448_is_hot_loaded_beside_ed25519_and_verifies_openssl_signatures() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    upload(&app, &admin, "ed448").await;
    let key = PKey::generate_ed448().expect("ed448");
    let mut signer = Signer::new_without_digest(&key).expect("signer");
    let signature = signer.sign_oneshot_to_vec(DOCUMENT).expect("sign");
    assert_eq!(signature.len(), 114);

    // As PEM (the SPKI names Ed448), and raw with the curve named.
    let (pem_id, curve) = register(
        &app,
        &admin,
        json!({"key_data": pem(&key), "format": "PEM", "algorithm": "EdDSA"}),
    )
    .await;
    assert_eq!(curve, "Ed448");
    let raw = key.raw_public_key().expect("raw");
    let (raw_id, _) = register(
        &app,
        &admin,
        json!({"key_data": b64(&raw), "format": "raw", "algorithm": "EdDSA", "curve": "Ed448", "name": "raw ed448"}),
    )
    .await;
    for id in [&pem_id, &raw_id] {
        let answer = verdict(&app, &admin, id, DOCUMENT, &signature, json!({})).await;
        assert_eq!(answer["valid"], true, "{answer}");
        assert!(
            answer["plugin"]
                .as_str()
                .is_some_and(|p| p.starts_with("ed448@"))
        );
        let forged = verdict(
            &app,
            &admin,
            id,
            b"Pay Bob 1000 euros",
            &signature,
            json!({}),
        )
        .await;
        assert_eq!(forged["valid"], false, "{forged}");
    }
    // Ed25519 keeps working beside it.
    let ed25519 = PKey::generate_ed25519().expect("ed25519");
    let (id, curve) = register(
        &app,
        &admin,
        json!({"key_data": pem(&ed25519), "format": "PEM", "algorithm": "EdDSA", "name": "ed25519"}),
    )
    .await;
    assert_eq!(curve, "Curve25519");
    let mut signer = Signer::new_without_digest(&ed25519).expect("signer");
    let signature = signer.sign_oneshot_to_vec(DOCUMENT).expect("sign");
    let answer = verdict(&app, &admin, &id, DOCUMENT, &signature, json!({})).await;
    assert_eq!(answer["valid"], true, "{answer}");
}

#[tokio::test]
async fn p256_verifies_openssl_signatures_over_sha3_256() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("group");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey");
    let (id, _) = register(
        &app,
        &admin,
        json!({"key_data": pem(&key), "format": "PEM", "algorithm": "ECDSA"}),
    )
    .await;
    let mut signer = Signer::new(MessageDigest::sha3_256(), &key).expect("signer");
    let signature = signer.sign_oneshot_to_vec(DOCUMENT).expect("sign");
    let sha3 = json!({"hash_algorithm": "sha3-256"});
    let answer = verdict(&app, &admin, &id, DOCUMENT, &signature, sha3.clone()).await;
    assert_eq!(answer["valid"], true, "{answer}");
    // The same signature read as one over SHA-256 (the default) is wrong.
    let answer = verdict(&app, &admin, &id, DOCUMENT, &signature, json!({})).await;
    assert_eq!(answer["valid"], false, "{answer}");
    let forged = verdict(&app, &admin, &id, b"Pay Bob 1000 euros", &signature, sha3).await;
    assert_eq!(forged["valid"], false, "{forged}");
}

/// A fresh Brainpool key from OpenSSL, its public key PEM, and the raw
/// uncompressed SEC1 point.
fn brainpool_key(nid: Nid) -> (PKey<Private>, String, Vec<u8>) {
    let group = EcGroup::from_curve_name(nid).expect("group");
    let ec = EcKey::generate(&group).expect("key");
    let mut ctx = openssl::bn::BigNumContext::new().expect("ctx");
    let point = ec
        .public_key()
        .to_bytes(
            &group,
            openssl::ec::PointConversionForm::UNCOMPRESSED,
            &mut ctx,
        )
        .expect("point");
    let key = PKey::from_ec_key(ec).expect("pkey");
    let pem = pem(&key);
    (key, pem, point)
}

/// An OpenSSL ECDSA signature (DER) over `document` with `md`.
fn openssl_sign(key: &PKey<Private>, md: MessageDigest, document: &[u8]) -> Vec<u8> {
    let mut signer = Signer::new(md, key).expect("signer");
    signer.sign_oneshot_to_vec(document).expect("sign")
}

/// Each Brainpool plugin is uploaded into a host that starts without
/// plugins beside the default ECDSA ones, catalogues its curve with the
/// policy it proposes (no low-S rule, the RFC 5639 order, its hashes),
/// takes OpenSSL keys as PEM and as a raw point with the curve named, and
/// answers OpenSSL signatures: valid over the right document and hash
/// (SHA3-256, -384 and -512 too, since contract 0.2.0), in DER and P1363;
/// invalid with the document or the signature tampered, or read under
/// another hash; an undeclared hash is refused. brainpoolP512r1's curve is
/// the plugin's own definition on RustCrypto's generic arithmetic, so
/// OpenSSL's keys and signatures check its constants from outside.
#[tokio::test]
async fn brainpool_plugins_are_hot_loaded_and_verify_openssl_signatures() {
    use crate::helpers::signers::der_to_p1363;
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    // (plugin, curve, OpenSSL's curve, field bytes, default hash, other hashes
    // served, a hash the plugin does not declare)
    let cases = [
        (
            "ecdsa-brainpoolp256r1",
            "brainpoolP256r1",
            Nid::BRAINPOOL_P256R1,
            32,
            ("sha256", MessageDigest::sha256()),
            vec![("sha3-256", MessageDigest::sha3_256())],
            "sha384",
            "a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7",
        ),
        (
            "ecdsa-brainpoolp384r1",
            "brainpoolP384r1",
            Nid::BRAINPOOL_P384R1,
            48,
            ("sha384", MessageDigest::sha384()),
            vec![("sha3-384", MessageDigest::sha3_384())],
            "sha256",
            "8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565",
        ),
        (
            "ecdsa-brainpoolp512r1",
            "brainpoolP512r1",
            Nid::BRAINPOOL_P512R1,
            64,
            ("sha512", MessageDigest::sha512()),
            vec![("sha3-512", MessageDigest::sha3_512())],
            "sha384",
            "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069",
        ),
    ];
    for (plugin, curve, nid, size, (default_hash, default_md), others, undeclared, order) in cases {
        let (key, key_pem, point) = brainpool_key(nid);
        let registration = json!({"key_data": key_pem, "format": "PEM", "algorithm": "ECDSA", "name": format!("{curve} pem")});
        let before = app
            .post("/v1/keys", Some(&admin), registration.clone())
            .await;
        assert_ne!(
            before.status,
            StatusCode::CREATED,
            "{curve} is not served yet: {:?}",
            before.body
        );

        upload(&app, &admin, plugin).await;
        let curves = app.get("/v1/curves", Some(&admin)).await.body;
        let row = curves["items"]
            .as_array()
            .and_then(|items| items.iter().find(|c| c["name"] == curve))
            .unwrap_or_else(|| panic!("{curve} is catalogued: {curves}"));
        assert_eq!(row["plugin"]["name"], plugin, "{row}");
        assert_eq!(row["policy"]["low_s_only"], false, "{row}");
        assert_eq!(row["policy"]["order"], order, "{row}");
        assert_eq!(row["policy"]["hashes"][0], default_hash, "{row}");

        let (pem_id, registered) = register(&app, &admin, registration).await;
        assert_eq!(registered, curve);
        let (raw_id, registered) = register(
            &app,
            &admin,
            json!({"key_data": b64(&point), "format": "raw", "algorithm": "ECDSA", "curve": curve, "name": format!("{curve} raw")}),
        )
        .await;
        assert_eq!(registered, curve);

        let signature = openssl_sign(&key, default_md, DOCUMENT);
        for id in [&pem_id, &raw_id] {
            let answer = verdict(&app, &admin, id, DOCUMENT, &signature, json!({})).await;
            assert_eq!(answer["valid"], true, "{curve}: {answer}");
            assert!(
                answer["plugin"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(&format!("{plugin}@"))),
                "{answer}"
            );
            let forged = verdict(
                &app,
                &admin,
                id,
                b"Pay Bob 1000 euros",
                &signature,
                json!({}),
            )
            .await;
            assert_eq!(forged["valid"], false, "{curve}: {forged}");
        }
        // The same signature as P1363.
        let p1363 = der_to_p1363(&signature, size);
        let answer = verdict(
            &app,
            &admin,
            &pem_id,
            DOCUMENT,
            &p1363,
            json!({"signature_encoding": "p1363"}),
        )
        .await;
        assert_eq!(answer["valid"], true, "{curve} P1363: {answer}");
        // A tampered signature: one bit of s flipped (still strict DER).
        let mut tampered = signature.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let answer = verdict(&app, &admin, &pem_id, DOCUMENT, &tampered, json!({})).await;
        assert_eq!(answer["valid"], false, "{curve} tampered: {answer}");
        // The other hashes the plugin serves, named in the request; the
        // same signature read under the default hash is wrong.
        for (name, md) in others {
            let signature = openssl_sign(&key, md, DOCUMENT);
            let named = json!({"hash_algorithm": name});
            let answer = verdict(&app, &admin, &pem_id, DOCUMENT, &signature, named).await;
            assert_eq!(answer["valid"], true, "{curve} {name}: {answer}");
            let answer = verdict(&app, &admin, &pem_id, DOCUMENT, &signature, json!({})).await;
            assert_eq!(
                answer["valid"], false,
                "{curve} {name} as {default_hash}: {answer}"
            );
        }
        let refused = app
            .verify(
                &admin,
                json!({"public_key_id": pem_id, "document": b64(DOCUMENT), "signature": b64(&signature), "hash_algorithm": undeclared}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "unsupported_hash"),
            "{curve} {undeclared}: {:?}",
            refused.body
        );
    }
}

/// ML-DSA ships in the default set; this host starts without a plugin
/// directory, so the upload is what brings it.
#[tokio::test]
async fn ml_dsa_is_hot_loaded_and_verifies_python_cryptography_signatures() {
    use base64::Engine as _;
    let app = TestApp::spawn_with(|c| c.plugins.dir = None).await;
    let (_, admin) = app.admin().await;
    upload(&app, &admin, "ml-dsa").await;
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/ml-dsa.json")).expect("fixture");
    let decode = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64"))
            .expect("base64")
    };
    let document = decode(&fixture["document"]);
    let keys = fixture["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 3);
    for entry in keys {
        let set = entry["parameter_set"].as_str().expect("set");
        let signature = decode(&entry["signature"]);
        let (pem_id, curve) = register(
            &app,
            &admin,
            json!({"key_data": entry["pem"], "format": "PEM", "algorithm": "ML-DSA", "name": format!("{set} pem")}),
        )
        .await;
        assert_eq!(curve, set);
        let (raw_id, curve) = register(
            &app,
            &admin,
            json!({"key_data": entry["raw"], "format": "raw", "algorithm": "ML-DSA", "curve": set, "name": format!("{set} raw")}),
        )
        .await;
        assert_eq!(curve, set);
        for id in [&pem_id, &raw_id] {
            let answer = verdict(&app, &admin, id, &document, &signature, json!({})).await;
            assert_eq!(answer["valid"], true, "{set}: {answer}");
            assert!(
                answer["plugin"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("ml-dsa@"))
            );
            let forged = verdict(
                &app,
                &admin,
                id,
                b"Pay Bob 1000 euros",
                &signature,
                json!({}),
            )
            .await;
            assert_eq!(forged["valid"], false, "{set}: {forged}");
        }
        // In a batch too, beside a tampered signature.
        let mut tampered = signature.clone();
        tampered[10] ^= 1;
        let batch = app
            .post(
                "/v1/verify/batch",
                Some(&admin),
                json!({"items": [
                    {"public_key_id": pem_id, "document": b64(&document), "signature": b64(&signature)},
                    {"public_key_id": pem_id, "document": b64(&document), "signature": b64(&tampered)},
                ]}),
            )
            .await;
        assert_eq!(batch.status, StatusCode::OK, "{:?}", batch.body);
        assert_eq!(batch.body["results"][0]["valid"], true, "{:?}", batch.body);
        assert_ne!(batch.body["results"][1]["valid"], true, "{:?}", batch.body);
    }
    let algorithms = app.get("/v1/algorithms", Some(&admin)).await.body;
    assert!(
        algorithms.to_string().contains("ML-DSA"),
        "ML-DSA is catalogued: {algorithms}"
    );
}

/// BIP-340 Schnorr is uploaded into a host that starts without it, and
/// catalogued as algorithm `Schnorr` on its own curve row
/// `secp256k1-bip340` (ECDSA's `secp256k1` row and its low-S policy stay
/// as they were); it takes libsecp256k1's x-only key (raw, with or without
/// the curve named, and the PEM Sigil shows for it), answers
/// libsecp256k1's signatures over documents of 39, 32, 0 and 1000 bytes,
/// and refuses them over a tampered document or with a bit of the
/// signature flipped, singly and in a batch; an x that is not on the
/// curve is refused at registration.
#[tokio::test]
async fn schnorr_secp256k1_is_hot_loaded_and_verifies_libsecp256k1_signatures() {
    use base64::Engine as _;
    let app = TestApp::spawn_with(|c| c.plugins.dir = None).await;
    let (_, admin) = app.admin().await;
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/schnorr-secp256k1.json")).expect("fixture");
    let decode = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64"))
            .expect("base64")
    };
    let x_only = decode(&fixture["x_only_key"]);
    assert_eq!(x_only.len(), 32);
    let registration = json!({"key_data": b64(&x_only), "format": "raw", "algorithm": "Schnorr", "name": "bip340 raw"});
    let before = app
        .post("/v1/keys", Some(&admin), registration.clone())
        .await;
    assert_ne!(
        before.status,
        StatusCode::CREATED,
        "Schnorr is not served yet: {:?}",
        before.body
    );

    upload(&app, &admin, "schnorr-secp256k1").await;
    let curves = app.get("/v1/curves", Some(&admin)).await.body;
    let items = curves["items"].as_array().expect("items");
    let row = items
        .iter()
        .find(|c| c["name"] == "secp256k1-bip340")
        .unwrap_or_else(|| panic!("secp256k1-bip340 is catalogued: {curves}"));
    assert_eq!(row["plugin"]["name"], "schnorr-secp256k1", "{row}");
    assert_eq!(row["parameters"]["oid"], "1.3.132.0.10", "{row}");
    assert_eq!(row["policy"]["encodings"], json!(["raw"]), "{row}");
    if let Some(ecdsa) = items.iter().find(|c| c["name"] == "secp256k1") {
        assert_eq!(ecdsa["policy"]["low_s_only"], true, "{ecdsa}");
    }

    let view = app.add_key(&admin, registration).await;
    assert_eq!(view["curve"], "secp256k1-bip340", "{view}");
    assert_eq!(view["algorithm"], "Schnorr", "{view}");
    let raw_id = view["id"].clone();
    let (named_id, curve) = register(
        &app,
        &admin,
        json!({"key_data": b64(&x_only), "format": "raw", "algorithm": "Schnorr", "curve": "secp256k1-bip340", "name": "bip340 named"}),
    )
    .await;
    assert_eq!(curve, "secp256k1-bip340");
    // The PEM Sigil shows (the lifted point, even y) registers the same key.
    let pem = view["key_data"].as_str().expect("pem").to_owned();
    let again = app
        .add_key(
            &admin,
            json!({"key_data": pem, "format": "PEM", "algorithm": "Schnorr", "name": "bip340 pem"}),
        )
        .await;
    assert_eq!(again["fingerprint"], view["fingerprint"], "{again}");
    let pem_id = again["id"].clone();

    let signatures = fixture["signatures"].as_array().expect("signatures");
    assert_eq!(signatures.len(), 4);
    for entry in signatures {
        let document = decode(&entry["document"]);
        let signature = decode(&entry["signature"]);
        let size = document.len();
        for id in [&raw_id, &named_id, &pem_id] {
            let answer = verdict(&app, &admin, id, &document, &signature, json!({})).await;
            assert_eq!(answer["valid"], true, "{size} bytes: {answer}");
            assert!(
                answer["plugin"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("schnorr-secp256k1@")),
                "{answer}"
            );
        }
        let mut altered = document.clone();
        altered.push(b'!');
        let forged = verdict(&app, &admin, &raw_id, &altered, &signature, json!({})).await;
        assert_eq!(forged["valid"], false, "{size} bytes, altered: {forged}");
        for byte in [10, 63] {
            let mut tampered = signature.clone();
            tampered[byte] ^= 1;
            let answer = app
                .verify(
                    &admin,
                    json!({"public_key_id": raw_id, "document": b64(&document), "signature": b64(&tampered)}),
                )
                .await;
            assert_ne!(
                answer.body["valid"], true,
                "{size} bytes, byte {byte} flipped: {:?}",
                answer.body
            );
        }
    }
    // In a batch, beside a tampered signature.
    let document = decode(&signatures[0]["document"]);
    let signature = decode(&signatures[0]["signature"]);
    let mut tampered = signature.clone();
    tampered[40] ^= 0x80;
    let batch = app
        .post(
            "/v1/verify/batch",
            Some(&admin),
            json!({"items": [
                {"public_key_id": raw_id, "document": b64(&document), "signature": b64(&signature)},
                {"public_key_id": raw_id, "document": b64(&document), "signature": b64(&tampered)},
            ]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{:?}", batch.body);
    assert_eq!(batch.body["results"][0]["valid"], true, "{:?}", batch.body);
    assert_ne!(batch.body["results"][1]["valid"], true, "{:?}", batch.body);

    // BIP-340 vector 14's key: x is not below the field size.
    let mut beyond = [0xffu8; 32];
    beyond[27] = 0xfe;
    beyond[30] = 0xfc;
    beyond[31] = 0x30;
    let refused = app
        .post(
            "/v1/keys",
            Some(&admin),
            json!({"key_data": b64(&beyond), "format": "raw", "algorithm": "Schnorr"}),
        )
        .await;
    assert!(
        refused.status.is_client_error(),
        "{:?}: {:?}",
        refused.status,
        refused.body
    );
    let algorithms = app.get("/v1/algorithms", Some(&admin)).await.body;
    assert!(
        algorithms.to_string().contains("Schnorr"),
        "Schnorr is catalogued: {algorithms}"
    );
}

/// The SLH-DSA vectors (`host/src/plugins/vectors/slh-dsa-pure.json`):
/// made by the PyPI package `slh-dsa`, independent of the plugin's crate.
const SLH_DSA_VECTORS: &str = include_str!("../../src/plugins/vectors/slh-dsa-pure.json");

/// A genuine key of the SLH-DSA vectors and its valid vectors.
struct SlhDsaKey {
    /// FIPS 205's name of the parameter set.
    set: String,
    /// The key's SubjectPublicKeyInfo, as the Python package encodes it.
    spki: Vec<u8>,
    /// The raw key, `PK.seed || PK.root`.
    raw: Vec<u8>,
    /// (message, signature) of each valid vector.
    valid: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The SLH-DSA vector groups with a genuine key (one per parameter set).
fn slh_dsa_genuine() -> Vec<SlhDsaKey> {
    let vectors: Value = serde_json::from_str(SLH_DSA_VECTORS).expect("vectors");
    let hex = |v: &Value| hex::decode(v.as_str().expect("hex")).expect("hex");
    vectors["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|group| {
            let valid: Vec<(Vec<u8>, Vec<u8>)> = group["tests"]
                .as_array()
                .expect("tests")
                .iter()
                .filter(|t| t["result"] == "valid" && t.get("context").is_none())
                .map(|t| (hex(&t["message"]), hex(&t["signature"])))
                .collect();
            (!valid.is_empty()).then(|| SlhDsaKey {
                set: group["parameter_set"].as_str().expect("set").to_owned(),
                spki: hex(&group["spki"]),
                raw: hex(&group["public_key"]),
                valid,
            })
        })
        .collect()
}

/// SLH-DSA (FIPS 205) ships in the extra set: uploaded into a host that
/// starts without it, it catalogues its four parameter sets as curves of
/// algorithm `SLH-DSA` with RFC 9814's OIDs. It takes each set's key as
/// the independent Python implementation encodes its SPKI (DER, and the
/// PEM Sigil then shows) and raw with the set named (the same key, one
/// fingerprint); a raw key without the set, or naming a set not served,
/// is refused. It answers that implementation's signatures (7856 and
/// 17088 bytes: the latter is the default `verify.max_signature_bytes`,
/// one byte more is refused before any plugin runs) over the empty and a
/// short document, and refuses them over an altered document, with a bit
/// flipped or with a hash named, singly and in a batch.
#[tokio::test]
async fn slh_dsa_is_hot_loaded_and_verifies_python_slh_dsa_signatures() {
    let app = TestApp::spawn_with(|c| c.plugins.dir = None).await;
    let (_, admin) = app.admin().await;
    let genuine = slh_dsa_genuine();
    assert_eq!(genuine.len(), 4);
    let first_spki = &genuine[0].spki;
    let before = app
        .post(
            "/v1/keys",
            Some(&admin),
            json!({"key_data": b64(first_spki), "format": "DER", "algorithm": "SLH-DSA"}),
        )
        .await;
    assert_ne!(
        before.status,
        StatusCode::CREATED,
        "SLH-DSA is not served yet: {:?}",
        before.body
    );

    upload(&app, &admin, "slh-dsa").await;
    let curves = app.get("/v1/curves", Some(&admin)).await.body;
    for (set, oid) in [
        ("SLH-DSA-SHA2-128s", "2.16.840.1.101.3.4.3.20"),
        ("SLH-DSA-SHA2-128f", "2.16.840.1.101.3.4.3.21"),
        ("SLH-DSA-SHAKE-128s", "2.16.840.1.101.3.4.3.26"),
        ("SLH-DSA-SHAKE-128f", "2.16.840.1.101.3.4.3.27"),
    ] {
        let row = curves["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|c| c["name"] == set)
            .unwrap_or_else(|| panic!("{set} is catalogued: {curves}"));
        assert_eq!(row["plugin"]["name"], "slh-dsa", "{row}");
        assert_eq!(row["parameters"]["oid"], oid, "{row}");
        assert_eq!(row["policy"]["encodings"], json!(["raw"]), "{row}");
    }

    for SlhDsaKey {
        set,
        spki,
        raw,
        valid,
    } in &genuine
    {
        let view = app
            .add_key(
                &admin,
                json!({"key_data": b64(spki), "format": "DER", "algorithm": "SLH-DSA", "name": format!("{set} der")}),
            )
            .await;
        assert_eq!(view["curve"], set.as_str(), "{view}");
        assert_eq!(view["algorithm"], "SLH-DSA", "{view}");
        let der_id = view["id"].clone();
        let (raw_id, curve) = register(
            &app,
            &admin,
            json!({"key_data": b64(raw), "format": "raw", "algorithm": "SLH-DSA", "curve": set, "name": format!("{set} raw")}),
        )
        .await;
        assert_eq!(curve, set.as_str());
        let pem = view["key_data"].as_str().expect("pem").to_owned();
        let again = app
            .add_key(
                &admin,
                json!({"key_data": pem, "format": "PEM", "algorithm": "SLH-DSA", "name": format!("{set} pem")}),
            )
            .await;
        assert_eq!(again["fingerprint"], view["fingerprint"], "{again}");
        let raw_view = app
            .get(
                &format!("/v1/keys/{}", raw_id.as_str().expect("id")),
                Some(&admin),
            )
            .await;
        assert_eq!(
            raw_view.body["fingerprint"], view["fingerprint"],
            "{:?}",
            raw_view.body
        );

        for (document, signature) in valid {
            let size = document.len();
            for id in [&der_id, &raw_id] {
                let answer = verdict(&app, &admin, id, document, signature, json!({})).await;
                assert_eq!(answer["valid"], true, "{set}, {size} bytes: {answer}");
                assert!(
                    answer["plugin"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("slh-dsa@")),
                    "{answer}"
                );
            }
            let mut altered = document.clone();
            altered.push(b'!');
            let forged = verdict(&app, &admin, &der_id, &altered, signature, json!({})).await;
            assert_eq!(forged["valid"], false, "{set}, altered: {forged}");
            let mut flipped = signature.clone();
            flipped[signature.len() / 2] ^= 0x10;
            let tampered = verdict(&app, &admin, &der_id, document, &flipped, json!({})).await;
            assert_eq!(tampered["valid"], false, "{set}, bit flipped: {tampered}");
            let hashed = app
                .verify(
                    &admin,
                    json!({"public_key_id": der_id, "document": b64(document), "signature": b64(signature), "hash_algorithm": "sha256"}),
                )
                .await;
            assert_eq!(
                (hashed.status, hashed.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, "unsupported_hash"),
                "{set}: {:?}",
                hashed.body
            );
        }
        // In a batch, beside a truncated signature (a malformed item, not
        // a failed request).
        let (document, signature) = &valid[valid.len() - 1];
        let batch = app
            .post(
                "/v1/verify/batch",
                Some(&admin),
                json!({"items": [
                    {"public_key_id": der_id, "document": b64(document), "signature": b64(signature)},
                    {"public_key_id": der_id, "document": b64(document), "signature": b64(&signature[1..])},
                ]}),
            )
            .await;
        assert_eq!(batch.status, StatusCode::OK, "{:?}", batch.body);
        assert_eq!(batch.body["results"][0]["valid"], true, "{:?}", batch.body);
        assert_ne!(batch.body["results"][1]["valid"], true, "{:?}", batch.body);
        if signature.len() == 17088 {
            let mut over = signature.clone();
            over.push(0);
            let refused = app
                .verify(
                    &admin,
                    json!({"public_key_id": der_id, "document": b64(document), "signature": b64(&over)}),
                )
                .await;
            assert_eq!(
                refused.code(),
                "signature_too_large",
                "{set}: {:?}",
                refused.body
            );
        }
    }

    let raw = &genuine[0].raw;
    // SHA2-128s's SPKI with NULL parameters (RFC 9814 requires them
    // absent), and with id-slh-dsa-sha2-192s (.22), a set not served.
    let oid_sha2_128s = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x14,
    ];
    let mut with_null = vec![0x30, 0x32, 0x30, 0x0d];
    with_null.extend(oid_sha2_128s);
    with_null.extend([0x05, 0x00, 0x03, 0x21, 0x00]);
    with_null.extend(raw);
    let mut sha2_192s = genuine[0].spki.clone();
    assert_eq!(sha2_192s[14], 0x14, "the OID's last arc");
    sha2_192s[14] = 0x16;
    for (registration, why) in [
        (
            json!({"key_data": b64(&with_null), "format": "DER", "algorithm": "SLH-DSA"}),
            "an SPKI with parameters",
        ),
        (
            json!({"key_data": b64(&sha2_192s), "format": "DER", "algorithm": "SLH-DSA"}),
            "an SPKI of SLH-DSA-SHA2-192s",
        ),
        (
            json!({"key_data": b64(raw), "format": "raw", "algorithm": "SLH-DSA"}),
            "a raw key without its set",
        ),
        (
            json!({"key_data": b64(raw), "format": "raw", "algorithm": "SLH-DSA", "curve": "SLH-DSA-SHA2-192s"}),
            "a set not served",
        ),
        (
            json!({"key_data": b64(&raw[..31]), "format": "raw", "algorithm": "SLH-DSA", "curve": "SLH-DSA-SHA2-128s"}),
            "31 bytes",
        ),
    ] {
        let refused = app.post("/v1/keys", Some(&admin), registration).await;
        assert!(
            refused.status.is_client_error(),
            "{why}: {:?}: {:?}",
            refused.status,
            refused.body
        );
        assert!(
            ["malformed_key", "key_rejected", "unsupported_curve"].contains(&refused.code()),
            "{why}: {:?}",
            refused.body
        );
    }
    let algorithms = app.get("/v1/algorithms", Some(&admin)).await.body;
    assert!(
        algorithms.to_string().contains("SLH-DSA"),
        "SLH-DSA is catalogued: {algorithms}"
    );
}

/// What one verification costs in each new plugin, printed for
/// BENCHMARKS.md (`cargo test --test api algorithms::verification_cost --
/// --nocapture`), beside the ECDSA P-256, Ed25519 and RSA-2048 plugins
/// whose cost under the release-built benchmark is known, and the bare per-call
/// overhead: the test host is a debug build, so its per-call overhead is
/// larger than a release host's while the compiled WebAssembly is the
/// same. Only correctness is asserted.
#[test]
fn verification_cost_of_the_new_plugins_is_printed() {
    use base64::Engine as _;
    use sigil::plugins::{
        HashAlgorithm, KeyFormat, SignatureEncoding, SignatureScheme, VerifyInput,
    };
    use std::time::Instant;
    const MESSAGE: &[u8] = b"Sigil benchmark document: the quick brown fox jumps over the lazy dog";
    let ec = |nid: Nid| {
        PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(nid).expect("group")).expect("key"),
        )
        .expect("pkey")
    };
    let signed = |key: &PKey<Private>, md: Option<MessageDigest>| {
        let mut signer = match md {
            Some(md) => Signer::new(md, key),
            None => Signer::new_without_digest(key),
        }
        .expect("signer");
        signer.sign_oneshot_to_vec(MESSAGE).expect("sign")
    };
    // (label, component, SPKI DER, document, signature, hash, encoding)
    type CostCase = (
        String,
        &'static str,
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
        Option<HashAlgorithm>,
        SignatureEncoding,
    );
    let mut cases: Vec<CostCase> = Vec::new();
    let p256 = ec(Nid::X9_62_PRIME256V1);
    cases.push((
        "ecdsa-p256 (sha256)".into(),
        "ecdsa-p256",
        p256.public_key_to_der().expect("der"),
        MESSAGE.to_vec(),
        signed(&p256, Some(MessageDigest::sha256())),
        Some(HashAlgorithm::Sha256),
        SignatureEncoding::Der,
    ));
    let ed25519 = PKey::generate_ed25519().expect("key");
    cases.push((
        "ed25519".into(),
        "ed25519",
        ed25519.public_key_to_der().expect("der"),
        MESSAGE.to_vec(),
        signed(&ed25519, None),
        None,
        SignatureEncoding::Raw,
    ));
    let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("rsa")).expect("pkey");
    cases.push((
        "rsa-2048 (sha256)".into(),
        "rsa",
        rsa.public_key_to_der().expect("der"),
        MESSAGE.to_vec(),
        signed(&rsa, Some(MessageDigest::sha256())),
        Some(HashAlgorithm::Sha256),
        SignatureEncoding::Raw,
    ));
    let p521 = ec(Nid::SECP521R1);
    cases.push((
        "ecdsa-p521 (sha512)".into(),
        "ecdsa-p521",
        p521.public_key_to_der().expect("der"),
        MESSAGE.to_vec(),
        signed(&p521, Some(MessageDigest::sha512())),
        Some(HashAlgorithm::Sha512),
        SignatureEncoding::Der,
    ));
    for (label, component, nid, md, hash) in [
        (
            "ecdsa-bp256r1 (sha256)",
            "ecdsa-brainpoolp256r1",
            Nid::BRAINPOOL_P256R1,
            MessageDigest::sha256(),
            HashAlgorithm::Sha256,
        ),
        (
            "ecdsa-bp384r1 (sha384)",
            "ecdsa-brainpoolp384r1",
            Nid::BRAINPOOL_P384R1,
            MessageDigest::sha384(),
            HashAlgorithm::Sha384,
        ),
        (
            "ecdsa-bp512r1 (sha512)",
            "ecdsa-brainpoolp512r1",
            Nid::BRAINPOOL_P512R1,
            MessageDigest::sha512(),
            HashAlgorithm::Sha512,
        ),
    ] {
        let key = ec(nid);
        cases.push((
            label.into(),
            component,
            key.public_key_to_der().expect("der"),
            MESSAGE.to_vec(),
            signed(&key, Some(md)),
            Some(hash),
            SignatureEncoding::Der,
        ));
    }
    let ed448 = PKey::generate_ed448().expect("key");
    cases.push((
        "ed448".into(),
        "ed448",
        ed448.public_key_to_der().expect("der"),
        MESSAGE.to_vec(),
        signed(&ed448, None),
        None,
        SignatureEncoding::Raw,
    ));
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/ml-dsa.json")).expect("fixture");
    let b64d = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("b64"))
            .expect("b64")
    };
    for key in fixture["keys"].as_array().expect("keys") {
        let body: String = key["pem"]
            .as_str()
            .expect("pem")
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        cases.push((
            key["parameter_set"].as_str().expect("set").to_owned(),
            "ml-dsa",
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("pem"),
            b64d(&fixture["document"]),
            b64d(&key["signature"]),
            None,
            SignatureEncoding::Raw,
        ));
    }
    let schnorr: Value =
        serde_json::from_str(include_str!("fixtures/schnorr-secp256k1.json")).expect("fixture");
    let x_only = b64d(&schnorr["x_only_key"]);
    let lifted = crate::helpers::plugin("schnorr-secp256k1")
        .parse_key(&x_only, KeyFormat::Raw, None)
        .expect("call")
        .expect("key");
    cases.push((
        "schnorr-secp256k1".into(),
        "schnorr-secp256k1",
        lifted.public_key,
        b64d(&schnorr["signatures"][0]["document"]),
        b64d(&schnorr["signatures"][0]["signature"]),
        None,
        SignatureEncoding::Raw,
    ));
    for SlhDsaKey {
        set, spki, valid, ..
    } in slh_dsa_genuine()
    {
        let (message, signature) = valid.last().cloned().expect("a valid vector");
        cases.push((
            set,
            "slh-dsa",
            spki,
            message,
            signature,
            None,
            SignatureEncoding::Raw,
        ));
    }
    // Ethereum: eth-account's personal_sign vector of the secret key
    // 0x0101..01, whose SPKI OpenSSL makes from the key.
    let ethereum: Value = serde_json::from_str(include_str!(
        "../../src/plugins/vectors/ethereum-personal-sign.json"
    ))
    .expect("vectors");
    let vector = &ethereum["groups"][0]["tests"][1];
    let hexd = |v: &Value| hex::decode(v.as_str().expect("hex")).expect("hex");
    let secp256k1 = EcGroup::from_curve_name(Nid::SECP256K1).expect("group");
    let mut point = openssl::ec::EcPoint::new(&secp256k1).expect("point");
    let mut context = openssl::bn::BigNumContext::new().expect("bn");
    point
        .mul_generator2(
            &secp256k1,
            &openssl::bn::BigNum::from_slice(&[1; 32]).expect("scalar"),
            &mut context,
        )
        .expect("point");
    cases.push((
        "ethereum (eip191)".into(),
        "ethereum",
        PKey::from_ec_key(EcKey::from_public_key(&secp256k1, &point).expect("key"))
            .expect("pkey")
            .public_key_to_der()
            .expect("der"),
        hexd(&vector["message"]),
        hexd(&vector["signature"]),
        None,
        SignatureEncoding::Raw,
    ));
    // For a profile (PLUGINS.md, "Where a plugin spends its time"):
    // SIGIL_COST_ONLY keeps the cases whose label contains it, and
    // SIGIL_COST_CALLS sets the calls per timed round (40).
    let only = std::env::var("SIGIL_COST_ONLY").unwrap_or_default();
    let calls: u32 = std::env::var("SIGIL_COST_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let mut lines = Vec::new();
    for (label, component, spki, message, signature, hash, encoding) in cases {
        if !label.contains(only.as_str()) {
            continue;
        }
        let plugin = crate::helpers::plugin(component);
        let key = plugin
            .parse_key(&spki, KeyFormat::Der, None)
            .expect("call")
            .expect("key");
        let input = VerifyInput {
            key: key.public_key,
            message: hash.map_or_else(|| message.clone(), |h| h.digest(&message)),
            hash,
            signature,
            encoding,
            // The plugin's default: `plain`, or Ethereum's `eip191`.
            scheme: plugin.descriptor().schemes[0],
            context: Vec::new(),
        };
        assert_eq!(
            plugin
                .verify(input.clone())
                .expect("call")
                .map(|verdict| verdict.valid),
            Ok(true),
            "{label}"
        );
        let empty = VerifyInput {
            key: Vec::new(),
            message: Vec::new(),
            hash: None,
            signature: Vec::new(),
            encoding: SignatureEncoding::Raw,
            scheme: SignatureScheme::Plain,
            context: Vec::new(),
        };
        let per_call = |input: &VerifyInput, n: u32| {
            let mut rounds: Vec<f64> = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    for _ in 0..n {
                        let _ = plugin.verify(input.clone());
                    }
                    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
                })
                .collect();
            rounds.sort_by(f64::total_cmp);
            rounds[2]
        };
        let verify = per_call(&input, calls);
        let overhead = per_call(&empty, calls);
        lines.push(format!(
            "{label:<22} wasm verify {verify:>9.1} us   empty call {overhead:>7.1} us"
        ));
    }
    eprintln!("verification cost (debug host):\n{}", lines.join("\n"));
}
