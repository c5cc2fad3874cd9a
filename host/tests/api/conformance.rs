//! Every shipped plugin agrees with every Wycheproof vector in its scope
//! (the same check as `sigil plugin check`).

use sigil::plugins::conformance;

fn check(name: &str, minimum_vectors: usize) {
    let bytes = crate::helpers::component_bytes(name);
    let plugin = sigil::plugins::LoadedPlugin::load(crate::helpers::conformance_engine(), &bytes)
        .expect("loads");
    let report = conformance::run(&plugin);
    let (vectors, passed, failed) = report.totals();
    assert_eq!(
        failed,
        0,
        "{name} disagrees with Wycheproof:\n{}",
        report.render()
    );
    assert_eq!(vectors, passed);
    assert!(
        vectors >= minimum_vectors,
        "{name}: only {vectors} vectors ran:\n{}",
        report.render()
    );
}

/// Each of `sets` ran at least one vector against plugin `name`.
fn sets_ran(name: &str, sets: &[&str]) {
    let report = conformance::run(&conformance_plugin(name));
    for set in sets {
        assert!(
            report.sets.iter().any(|s| s.name == *set && s.vectors > 0),
            "{name}: {set} did not run:\n{}",
            report.render()
        );
    }
}

#[test]
fn ecdsa_p256_conforms() {
    check("ecdsa-p256", 1500);
    sets_ran(
        "ecdsa-p256",
        &["EcdsaSecp256r1Sha3_256", "EcdsaSecp256r1Sha3_512"],
    );
}

/// P-384 over SHA-384, SHA-256, SHA-512 and, since contract 0.2.0,
/// SHA3-384 and SHA3-512.
#[test]
fn ecdsa_p384_conforms() {
    check("ecdsa-p384", 2000);
    sets_ran(
        "ecdsa-p384",
        &["EcdsaSecp384r1Sha3_384", "EcdsaSecp384r1Sha3_512"],
    );
}

#[test]
fn ecdsa_secp256k1_conforms_to_the_low_s_sets() {
    check("ecdsa-secp256k1", 450);
}

#[test]
fn ed25519_conforms() {
    check("ed25519", 150);
}

#[test]
fn rsa_conforms() {
    check("rsa", 4000);
}

#[test]
fn ecdsa_p521_conforms() {
    check("ecdsa-p521", 800);
    sets_ran(
        "ecdsa-p521",
        &["EcdsaSecp521r1Sha512", "EcdsaSecp521r1Sha3_512"],
    );
}

/// brainpoolP512r1, whose curve the plugin defines on RustCrypto's generic
/// arithmetic: every Wycheproof set for it, so a wrong constant shows.
#[test]
fn ecdsa_brainpoolp512r1_conforms() {
    check("ecdsa-brainpoolp512r1", 1000);
    sets_ran(
        "ecdsa-brainpoolp512r1",
        &[
            "EcdsaBrainpool512r1Sha512",
            "EcdsaBrainpool512r1Sha512P1363",
            "EcdsaBrainpool512r1Sha3_512",
        ],
    );
}

/// Ethereum: eth-account's vectors for both schemes, the recovered
/// address of each checked where it is known.
#[test]
fn ethereum_conforms_to_the_eth_account_vectors() {
    check("ethereum", 72);
    sets_ran(
        "ethereum",
        &[
            "Ethereum eip191 (eth-account)",
            "Ethereum plain (eth-account)",
        ],
    );
}

/// A component built against contract 0.1.0 is checked as any other.
#[test]
fn a_contract_0_1_component_conforms() {
    check("test-contract-0-1", 150);
}

/// brainpoolP256r1 over SHA-256 (DER and P1363) and SHA3-256: 1229
/// Wycheproof vectors.
#[test]
fn ecdsa_brainpoolp256r1_conforms() {
    check("ecdsa-brainpoolp256r1", 1200);
    let report = conformance::run(&conformance_plugin("ecdsa-brainpoolp256r1"));
    for set in [
        "EcdsaBrainpool256r1Sha256",
        "EcdsaBrainpool256r1Sha256P1363",
        "EcdsaBrainpool256r1Sha3_256",
    ] {
        assert!(
            report.sets.iter().any(|s| s.name == set && s.vectors > 0),
            "{set} did not run:\n{}",
            report.render()
        );
    }
}

/// brainpoolP384r1 over SHA-384 (DER and P1363) and SHA3-384.
#[test]
fn ecdsa_brainpoolp384r1_conforms() {
    check("ecdsa-brainpoolp384r1", 800);
    let report = conformance::run(&conformance_plugin("ecdsa-brainpoolp384r1"));
    for set in [
        "EcdsaBrainpool384r1Sha384",
        "EcdsaBrainpool384r1Sha384P1363",
        "EcdsaBrainpool384r1Sha3_384",
    ] {
        assert!(
            report.sets.iter().any(|s| s.name == set && s.vectors > 0),
            "{set} did not run:\n{}",
            report.render()
        );
    }
}

#[test]
fn ed448_conforms() {
    check("ed448", 90);
    sets_ran("ed448", &["Ed448", "Ed448 with context (pycryptodome)"]);
}

#[test]
fn ml_dsa_conforms_to_every_parameter_set() {
    check("ml-dsa", 150);
    let plugin = conformance_plugin("ml-dsa");
    let report = conformance::run(&plugin);
    for set in ["MlDsa44Verify", "MlDsa65Verify", "MlDsa87Verify"] {
        assert!(
            report.sets.iter().any(|s| s.name == set && s.vectors > 0),
            "{set} did not run:\n{}",
            report.render()
        );
    }
}

/// BIP-340's own test vectors (its CSV): 19, of which the two whose
/// public key is not a valid x coordinate are refused at `parse-key`.
#[test]
fn schnorr_secp256k1_conforms_to_the_bip340_vectors() {
    check("schnorr-secp256k1", 19);
    let report = conformance::run(&conformance_plugin("schnorr-secp256k1"));
    for set in [
        "BIP-340 test vectors",
        "BIP-340 test vectors, invalid public keys",
    ] {
        assert!(
            report.sets.iter().any(|s| s.name == set && s.vectors > 0),
            "{set} did not run:\n{}",
            report.render()
        );
    }
}

/// The SLH-DSA vectors (`host/src/plugins/vectors/slh-dsa-pure.json`, made
/// by the PyPI package `slh-dsa`): 37, one set per parameter set, the key
/// of the wrong length refused at `parse-key`. The plugin reads each key's
/// SPKI as that package encodes it, so its object identifiers agree with
/// the package's (a key it did not take would be skipped, and fall short
/// of the count).
#[test]
fn slh_dsa_conforms_to_the_pure_vectors_of_every_parameter_set() {
    check("slh-dsa", 37);
    let report = conformance::run(&conformance_plugin("slh-dsa"));
    for set in [
        "SLH-DSA-SHA2-128s pure",
        "SLH-DSA-SHA2-128f pure",
        "SLH-DSA-SHAKE-128s pure",
        "SLH-DSA-SHAKE-128f pure",
    ] {
        assert!(
            report
                .sets
                .iter()
                .any(|s| s.name == set && s.vectors >= 7 && s.skipped == 0),
            "{set} did not run whole:\n{}",
            report.render()
        );
    }
}

#[test]
fn template_conforms() {
    check("template", 400);
}

/// A plugin on the conformance engine (the generous per-call deadline of
/// offline checks), so that a loaded machine does not fail a vector by
/// time.
fn conformance_plugin(name: &str) -> sigil::plugins::LoadedPlugin {
    let bytes = crate::helpers::component_bytes(name);
    sigil::plugins::LoadedPlugin::load(crate::helpers::conformance_engine(), &bytes).expect("loads")
}

/// The catalogue a fresh deployment has for `plugin`: the policy of each
/// of its curves (as the migrations seed them for the shipped curves),
/// and, with `served`, its routes already served by an active plugin.
fn catalogue_for(plugin: &sigil::plugins::LoadedPlugin, served: bool) -> conformance::Catalogue {
    use sigil::plugins::policy::CurvePolicy;
    let descriptor = plugin.descriptor();
    conformance::Catalogue {
        curves: descriptor
            .curves
            .iter()
            .map(|c| (c.name.clone(), CurvePolicy::proposed_by(descriptor, c)))
            .collect(),
        algorithms: Vec::new(),
        served: if served {
            descriptor.routes()
        } else {
            Vec::new()
        },
    }
}

/// Admission of a new version of each shipped plugin runs every vector
/// (Wycheproof and Sigil's negatives) and admits it; the times are what
/// an upload costs (printed; run with --nocapture). A sample for a new
/// curve is printed beside it. (Not asserted against a wall-clock bound:
/// this test shares the machine with the other tests; the upload itself
/// is bounded by `plugins.admission_timeout_ms`.)
#[test]
fn complete_admission_of_every_shipped_plugin_is_timed() {
    let mut figures = Vec::new();
    for name in [
        "ecdsa-p256",
        "ecdsa-secp256k1",
        "ed25519",
        "rsa",
        "ecdsa-p384",
        "ecdsa-p521",
        "ecdsa-brainpoolp256r1",
        "ecdsa-brainpoolp384r1",
        "ed448",
        "ml-dsa",
        "schnorr-secp256k1",
        "slh-dsa",
    ] {
        let plugin = conformance_plugin(name);
        let complete = conformance::admission(&plugin, &catalogue_for(&plugin, true))
            .unwrap_or_else(|refusal| panic!("{name} refused: {refusal}"));
        assert!(complete.complete, "{name}");
        let sample = conformance::admission(&plugin, &catalogue_for(&plugin, false))
            .unwrap_or_else(|refusal| panic!("{name} refused: {refusal}"));
        assert!(!sample.complete, "{name}");
        if name == "slh-dsa" {
            // Each parameter set's vectors (7, and 1 for the wrong key)
            // are fewer than a sample takes of a group (12): a new curve's
            // sample is every vector.
            assert_eq!(complete.checks, sample.checks, "{name}");
        } else {
            assert!(
                complete.checks > sample.checks,
                "{name}: complete {} <= sample {}",
                complete.checks,
                sample.checks
            );
        }
        figures.push(format!(
            "{name:<22} complete: {:>5} vectors in {:>8.2?}   sample: {:>4} vectors in {:>8.2?}",
            complete.checks, complete.took, sample.checks, sample.took
        ));
    }
    eprintln!("admission self-tests:\n{}", figures.join("\n"));
}

/// Sigil's negative vectors catch what Wycheproof alone does not: the
/// non-strict Ed25519 (ed25519-dalek's `verify`) and the secp256k1 that
/// claims low-S but normalises S are refused even where their
/// descriptors agree with the catalogue; the shipped plugins pass them.
#[test]
fn lax_plugins_fail_the_negative_vectors_that_strict_ones_pass() {
    for (name, vector) in [
        (
            "test-nonstrict-ed25519",
            "Sigil: small-order R (the identity)",
        ),
        ("test-lenient-secp256k1-claims-low-s", "expected Reject"),
    ] {
        let plugin = conformance_plugin(name);
        let refusal = conformance::admission(&plugin, &catalogue_for(&plugin, true))
            .expect_err("a lax plugin is refused");
        assert_eq!(refusal.code(), "self_test_failed", "{name}: {refusal}");
        assert!(refusal.to_string().contains(vector), "{name}: {refusal}");
    }
    // Without the catalogue's word on strictness, the proposal of the
    // non-strict plugin is strict all the same (it claims to be): only the
    // vectors tell it apart. Its high-S cousin is refused by the
    // Wycheproof Bitcoin set already (its malleability vector).
    let lenient = conformance_plugin("test-lenient-secp256k1-claims-low-s");
    let refusal = conformance::admission(&lenient, &catalogue_for(&lenient, false))
        .expect_err("refused in a sample too");
    assert_eq!(refusal.code(), "self_test_failed");
}

/// The curve `name` as `GET /v1/curves` lists it.
async fn listed_curve(
    app: &crate::helpers::app::TestApp,
    token: &str,
    name: &str,
) -> serde_json::Value {
    let curves = app.get("/v1/curves", Some(token)).await.body;
    curves["items"]
        .as_array()
        .expect("curves")
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not catalogued: {curves}"))
}

/// A lenient secp256k1 (declares `low_s_only: false`, normalises S), the
/// same claiming low-S, and a non-strict Ed25519 are each refused when
/// uploaded as a new version of the active plugin, with their reason; the
/// active versions and the advertised policy stay.
#[tokio::test]
async fn lax_new_versions_of_active_plugins_are_refused_with_their_reason() {
    use reqwest::StatusCode;
    let app = crate::helpers::app::TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let cases = [
        (
            "test-lenient-secp256k1",
            "policy_mismatch",
            "declares low_s_only false on secp256k1; the catalogue says true",
        ),
        (
            "test-lenient-secp256k1-claims-low-s",
            "self_test_failed",
            "expected Reject",
        ),
        (
            "test-nonstrict-ed25519",
            "self_test_failed",
            "Sigil: small-order R",
        ),
    ];
    for (fixture, code, reason) in cases {
        let answer = app
            .upload_plugin(&admin, crate::helpers::component_bytes(fixture))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{fixture}: {:?}",
            answer.body
        );
        assert_eq!(answer.headers["content-type"], "application/problem+json");
        let detail = answer.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(reason), "{fixture}: {detail}");
    }
    let secp256k1 = listed_curve(&app, &admin, "secp256k1").await;
    assert_eq!(secp256k1["plugin"]["name"], "ecdsa-secp256k1");
    assert_eq!(secp256k1["plugin"]["version"], "0.1.0");
    assert_eq!(secp256k1["parameters"]["low_s_only"], true);
    assert_eq!(secp256k1["policy"]["low_s_only"], true);
    assert_eq!(
        secp256k1["policy"]["order"],
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
    );
    let ed25519 = listed_curve(&app, &admin, "Curve25519").await;
    assert_eq!(ed25519["plugin"]["version"], "0.1.0");
    assert_eq!(ed25519["policy"]["strict"], true);
    let plugins = app.get("/v1/plugins", Some(&admin)).await.body;
    assert_eq!(
        plugins["items"].as_array().map(Vec::len),
        Some(5),
        "nothing was stored: {plugins}"
    );
}

/// Whatever plugin is active on secp256k1, a high-S signature never
/// verifies: the lying lenient plugin (claims low-S, normalises S) is
/// stored behind admission's back and activated (activation checks only
/// the descriptor, which agrees), it answers `valid` to a high-S
/// signature when called directly, and through HTTP the host refuses it
/// before the call; its low-S twin verifies. Storing the honest lenient
/// one the same way, activation refuses it (`policy_mismatch`).
#[tokio::test]
async fn a_high_s_signature_never_verifies_on_a_low_s_curve_whatever_plugin_is_active() {
    use crate::helpers::signers::{Kind, TestKey, b64};
    use reqwest::StatusCode;
    use serde_json::json;
    let app = crate::helpers::app::TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let db = app.superuser().await;
    let store = |fixture: &'static str, version: &'static str| {
        let db = db.clone();
        async move {
            let bytes = crate::helpers::component_bytes(fixture);
            let plugin = crate::helpers::plugin(fixture);
            let id: uuid::Uuid = sqlx::query_scalar(
                "INSERT INTO plugins (name, version, sha256, size_bytes, artifact, descriptor)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&plugin.descriptor().name)
            .bind(version)
            .bind(plugin.sha256())
            .bind(i32::try_from(bytes.len()).expect("size"))
            .bind(&bytes)
            .bind(serde_json::to_value(plugin.descriptor()).expect("json"))
            .fetch_one(&db)
            .await
            .expect("stored");
            id
        }
    };

    let honest = store("test-lenient-secp256k1", "0.2.0-declares-high-s").await;
    let refused = app
        .post(
            &format!("/v1/plugins/{honest}/activate"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "policy_mismatch"),
        "{:?}",
        refused.body
    );

    let liar = store("test-lenient-secp256k1-claims-low-s", "0.2.0-claims-low-s").await;
    let activated = app
        .post(
            &format!("/v1/plugins/{liar}/activate"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{:?}", activated.body);
    let curve = listed_curve(&app, &admin, "secp256k1").await;
    assert_eq!(
        curve["plugin"]["sha256"],
        crate::helpers::plugin("test-lenient-secp256k1-claims-low-s").sha256()
    );

    let signer = TestKey::generate(Kind::Secp256k1);
    let key = app.register_key(&admin, &signer).await;
    let document = b"pay 1 BTC to Alice";
    let low = signer.sign(document);
    let high = signer.flip_s(&low);
    let body = |signature: &[u8]| json!({"public_key_id": key, "document": b64(document), "signature": b64(signature)});

    // The plugin itself would take the high-S signature.
    let digest = sigil::plugins::HashAlgorithm::Sha256.digest(document);
    let lenient = crate::helpers::plugin("test-lenient-secp256k1-claims-low-s");
    let spki = lenient
        .parse_key(
            signer.pem().as_bytes(),
            sigil::plugins::KeyFormat::Pem,
            None,
        )
        .expect("call")
        .expect("key")
        .public_key;
    let direct = lenient.verify(sigil::plugins::VerifyInput {
        key: spki,
        message: digest,
        hash: Some(sigil::plugins::HashAlgorithm::Sha256),
        signature: high.clone(),
        encoding: sigil::plugins::SignatureEncoding::Der,
        scheme: sigil::plugins::SignatureScheme::Plain,
        context: Vec::new(),
    });
    assert!(
        matches!(direct, Ok(Ok(sigil::plugins::Verdict { valid: true, .. }))),
        "the fixture is lenient: {direct:?}"
    );

    let valid = app.verify(&admin, body(&low)).await;
    assert_eq!(valid.body["valid"], true, "{:?}", valid.body);
    assert!(
        valid.body["plugin"]
            .as_str()
            .is_some_and(|p| p.starts_with("ecdsa-secp256k1@0.2.0")),
        "the lenient plugin answers: {:?}",
        valid.body
    );
    let refused = app.verify(&admin, body(&high)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "non_canonical_signature"),
        "{:?}",
        refused.body
    );
    assert_ne!(refused.body["valid"], true);
    // In a batch, and as P1363, the same.
    let p1363 = crate::helpers::signers::der_to_p1363(&high, 32);
    let batch = app
        .post(
            "/v1/verify/batch",
            Some(&admin),
            json!({"items": [body(&low), body(&high), {"public_key_id": key, "document": b64(document), "signature": b64(&p1363), "signature_encoding": "p1363"}]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{:?}", batch.body);
    let results = batch.body["results"].as_array().expect("results");
    assert_eq!(results[0]["valid"], true, "{:?}", batch.body);
    for item in &results[1..] {
        assert_ne!(item["valid"], true, "{item}");
        assert_eq!(item["error"]["code"], "non_canonical_signature", "{item}");
    }
}

/// What the HTTP conformance run of one plugin found.
#[derive(Debug, Default)]
struct HttpReport {
    vectors: usize,
    passed: usize,
    skipped: usize,
    failures: Vec<String>,
}

/// The API's names for the contract's vocabulary.
fn api_format(format: sigil::plugins::KeyFormat) -> &'static str {
    match format {
        sigil::plugins::KeyFormat::Pem => "PEM",
        sigil::plugins::KeyFormat::Der => "DER",
        sigil::plugins::KeyFormat::Raw => "raw",
    }
}

/// Run every vector `sigil plugin check` runs for plugin `name` through
/// the HTTP API of `app`, where that plugin serves: register each group's
/// key (`POST /v1/keys`), send its vectors through `/v1/verify/batch` and
/// compare each item's `valid` with the expectation (Wycheproof `valid`
/// must verify; `invalid` and `acceptable` must not, as `valid: false` or
/// an item error). A group whose key the service refuses is skipped, as
/// the offline check skips it, unless every vector in it must be refused.
async fn http_conformance(
    app: &crate::helpers::app::TestApp,
    token: &str,
    name: &str,
) -> HttpReport {
    use crate::helpers::signers::b64;
    use serde_json::json;
    let plugin = crate::helpers::plugin(name);
    let descriptor = plugin.descriptor();
    let only_curve = match descriptor.curves.as_slice() {
        [curve] => Some(curve.name.clone()),
        _ => None,
    };
    let mut report = HttpReport::default();
    for group in conformance::vector_groups(&plugin) {
        let key_data = match group.format {
            sigil::plugins::KeyFormat::Pem => json!(String::from_utf8_lossy(&group.key)),
            _ => json!(b64(&group.key)),
        };
        let mut registration = json!({"key_data": key_data, "format": api_format(group.format), "algorithm": descriptor.algorithm});
        if group.format == sigil::plugins::KeyFormat::Raw
            && let Some(curve) = &only_curve
        {
            registration["curve"] = json!(curve);
        }
        let created = app.post("/v1/keys", Some(token), registration).await;
        let Some(key) = created.body["id"].as_str().map(str::to_owned) else {
            if group.negative {
                report.vectors += group.vectors.len();
                report.passed += group.vectors.len();
            } else {
                report.skipped += group.vectors.len();
            }
            continue;
        };
        for chunk in group.vectors.chunks(500) {
            let items: Vec<serde_json::Value> = chunk
                .iter()
                .map(|vector| {
                    let mut item = json!({"public_key_id": key, "document": b64(&vector.message), "signature": b64(&vector.signature)});
                    if let Some(hash) = group.hash {
                        item["hash_algorithm"] = json!(hash.to_string());
                    }
                    if group.encoding != sigil::plugins::SignatureEncoding::Raw {
                        item["signature_encoding"] = json!(group.encoding.to_string());
                    }
                    if Some(&group.scheme) != descriptor.schemes.first() {
                        item["signature_algorithm"] = json!(group.scheme.to_string());
                    }
                    if !vector.context.is_empty() {
                        item["context"] = json!(b64(&vector.context));
                    }
                    item
                })
                .collect();
            let batch = app
                .post("/v1/verify/batch", Some(token), json!({"items": items}))
                .await;
            assert_eq!(
                batch.status,
                reqwest::StatusCode::OK,
                "{name} {}: {:?}",
                group.set,
                batch.body
            );
            let results = batch.body["results"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(results.len(), chunk.len(), "{name}: one result per item");
            for (vector, result) in chunk.iter().zip(results) {
                report.vectors += 1;
                let accepted = result["valid"] == true;
                let recovered_as_expected = match &vector.recovered {
                    Some(expected) if result["valid"].is_boolean() => {
                        result["recovered_address"] == json!(expected)
                    }
                    _ => true,
                };
                if accepted == vector.valid && recovered_as_expected {
                    report.passed += 1;
                } else {
                    report.failures.push(format!(
                        "{} tcId {} ({}): expected valid={}, answered {result}",
                        group.set, vector.tc_id, vector.comment, vector.valid
                    ));
                }
            }
        }
    }
    report
}

/// A server for HTTP conformance runs: one user registers a key per
/// Wycheproof group and sends thousands of vectors, so the per-user
/// quotas and rate limits are raised.
async fn conformance_app(with_plugin_dir: bool) -> (crate::helpers::app::TestApp, String) {
    let app = crate::helpers::app::TestApp::spawn_with(|c| {
        c.quotas.keys_per_user = 100_000;
        c.rate_limits.key_writes_per_user = 100_000;
        c.rate_limits.per_user = 1_000_000;
        c.rate_limits.verify_items_per_minute = 1_000_000;
        if !with_plugin_dir {
            c.plugins.dir = None;
        }
    })
    .await;
    let (_, admin) = app.admin().await;
    (app, admin)
}

fn assert_http_conformance(name: &str, report: &HttpReport, minimum_vectors: usize) {
    assert!(
        report.failures.is_empty(),
        "{name}: {} of {} vectors answered otherwise through HTTP:\n{}",
        report.failures.len(),
        report.vectors,
        report.failures.join("\n")
    );
    assert_eq!(report.vectors, report.passed, "{name}");
    assert!(
        report.vectors >= minimum_vectors,
        "{name}: only {} vectors ran through HTTP ({} skipped)",
        report.vectors,
        report.skipped
    );
}

/// Every shipped plugin of the default set answers its Wycheproof (and
/// Sigil) vectors through the HTTP API as `sigil plugin check` expects:
/// the host's hashing, policy checks and batch path included.
#[tokio::test]
async fn the_default_set_conforms_through_http() {
    let (app, admin) = conformance_app(true).await;
    for (name, minimum) in [
        ("ecdsa-p256", 1500),
        ("ecdsa-secp256k1", 450),
        ("ed25519", 150),
        ("ml-dsa", 150),
        ("rsa", 4000),
    ] {
        let report = http_conformance(&app, &admin, name).await;
        assert_http_conformance(name, &report, minimum);
    }
}

/// The plugins hot-loaded by upload answer theirs through HTTP too, each
/// uploaded into a host that starts without them.
#[tokio::test]
async fn the_hot_loaded_plugins_conform_through_http() {
    let (app, admin) = conformance_app(false).await;
    for (name, minimum) in [
        ("ecdsa-p384", 2000),
        ("ecdsa-p521", 800),
        ("ecdsa-brainpoolp256r1", 1200),
        ("ecdsa-brainpoolp384r1", 800),
        ("ecdsa-brainpoolp512r1", 1000),
        ("ed448", 90),
        ("schnorr-secp256k1", 19),
        ("slh-dsa", 37),
        ("ethereum", 72),
        // Built against contract 0.1.0: it loads and answers unchanged.
        ("test-contract-0-1", 150),
    ] {
        let uploaded = app
            .upload_plugin(&admin, crate::helpers::component_bytes(name))
            .await;
        assert_eq!(
            uploaded.status,
            reqwest::StatusCode::CREATED,
            "{name}: {:?}",
            uploaded.body
        );
        let report = http_conformance(&app, &admin, name).await;
        assert_http_conformance(name, &report, minimum);
    }
}
