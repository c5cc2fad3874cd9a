//! Plugin cost: each algorithm verified by its wasm component (fresh
//! instance per call, as the service runs it), by the same component over a
//! 64-item `verify-batch` (per item), and natively in the host with the
//! same RustCrypto crate; plus the bare per-call overhead (instantiate and a
//! trivial call). Signatures are made with OpenSSL (ML-DSA's by Python
//! `cryptography`, from the test fixture). `just bench`; results in
//! BENCHMARKS.md.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use sigil::config::PluginsConfig;
use sigil::plugins::{
    HashAlgorithm, KeyFormat, LoadedPlugin, PluginEngine, SandboxLimits, SignatureEncoding,
    SignatureScheme, Verdict, VerifyInput,
};

const MESSAGE: &[u8] = b"Sigil benchmark document: the quick brown fox jumps over the lazy dog";

struct Case {
    label: &'static str,
    component: &'static str,
    key: PKey<Private>,
    digest: Option<(MessageDigest, HashAlgorithm)>,
    encoding: SignatureEncoding,
    scheme: SignatureScheme,
    native: fn(&[u8], &[u8], &[u8]) -> bool,
}

fn component(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("SIGIL_TEST_PLUGINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plugins"));
    ["default", "extra"]
        .iter()
        .find_map(|set| std::fs::read(dir.join(set).join(format!("{name}.wasm"))).ok())
        .unwrap_or_else(|| panic!("{name}.wasm not built; run `just plugins`"))
}

fn ec_key(nid: Nid) -> PKey<Private> {
    let group = EcGroup::from_curve_name(nid).expect("curve");
    PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey")
}

fn sign(case: &Case) -> Vec<u8> {
    match case.digest {
        Some((md, _)) => {
            let mut signer = Signer::new(md, &case.key).expect("signer");
            signer.sign_oneshot_to_vec(MESSAGE).expect("sign")
        }
        None => {
            let mut signer = Signer::new_without_digest(&case.key).expect("signer");
            signer.sign_oneshot_to_vec(MESSAGE).expect("sign")
        }
    }
}

fn native_p256(spki: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::pkcs8::DecodePublicKey;
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki).expect("key");
    let sig = p256::ecdsa::DerSignature::from_bytes(sig).expect("sig");
    key.verify_prehash(digest, &sig).is_ok()
}

fn native_p384(spki: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    use p384::ecdsa::signature::hazmat::PrehashVerifier;
    use p384::pkcs8::DecodePublicKey;
    let key = p384::ecdsa::VerifyingKey::from_public_key_der(spki).expect("key");
    let sig = p384::ecdsa::DerSignature::from_bytes(sig).expect("sig");
    key.verify_prehash(digest, &sig).is_ok()
}

fn native_k256(spki: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    use k256::pkcs8::DecodePublicKey;
    let key = k256::ecdsa::VerifyingKey::from_public_key_der(spki).expect("key");
    let sig = k256::ecdsa::Signature::from_der(sig)
        .expect("sig")
        .normalize_s();
    key.verify_prehash(digest, &sig).is_ok()
}

fn native_ed25519(spki: &[u8], message: &[u8], sig: &[u8]) -> bool {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let key = ed25519_dalek::VerifyingKey::from_public_key_der(spki).expect("key");
    let sig = ed25519_dalek::Signature::from_slice(sig).expect("sig");
    key.verify_strict(message, &sig).is_ok()
}

fn native_rsa(spki: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    use rsa::pkcs8::DecodePublicKey;
    let key = rsa::PublicKey::from_public_key_der(spki).expect("key");
    key.pkcs1v15_verify_prehash::<sha2::Sha256>(digest, sig)
        .is_ok()
}

fn cases() -> Vec<Case> {
    let sha256 = Some((MessageDigest::sha256(), HashAlgorithm::Sha256));
    vec![
        Case {
            label: "ecdsa-p256",
            component: "ecdsa-p256",
            key: ec_key(Nid::X9_62_PRIME256V1),
            digest: sha256,
            encoding: SignatureEncoding::Der,
            scheme: SignatureScheme::Plain,
            native: native_p256,
        },
        Case {
            label: "ecdsa-secp256k1",
            component: "ecdsa-secp256k1",
            key: ec_key(Nid::SECP256K1),
            digest: sha256,
            encoding: SignatureEncoding::Der,
            scheme: SignatureScheme::Plain,
            native: native_k256,
        },
        Case {
            label: "ecdsa-p384",
            component: "ecdsa-p384",
            key: ec_key(Nid::SECP384R1),
            digest: Some((MessageDigest::sha384(), HashAlgorithm::Sha384)),
            encoding: SignatureEncoding::Der,
            scheme: SignatureScheme::Plain,
            native: native_p384,
        },
        Case {
            label: "ed25519",
            component: "ed25519",
            key: PKey::generate_ed25519().expect("key"),
            digest: None,
            encoding: SignatureEncoding::Raw,
            scheme: SignatureScheme::Plain,
            native: native_ed25519,
        },
        Case {
            label: "rsa-2048-pkcs1v15",
            component: "rsa",
            key: PKey::from_rsa(Rsa::generate(2048).expect("key")).expect("pkey"),
            digest: sha256,
            encoding: SignatureEncoding::Raw,
            scheme: SignatureScheme::Pkcs1v15,
            native: native_rsa,
        },
    ]
}

/// (label, component, SPKI DER, document, signature, hash for
/// digest-taking plugins).
type SecondRound = (
    String,
    &'static str,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Option<HashAlgorithm>,
);

/// The plugins of the second round (issue 16), wasm only: their native
/// crates are not host dependencies, so BENCHMARKS.md takes the native
/// figures from a separate build of the same crates. (label, component,
/// SPKI DER, document, signature, hash): P-521, brainpoolP256r1,
/// brainpoolP384r1 and Ed448 signed by OpenSSL, ML-DSA by Python
/// `cryptography` (the test fixture), SLH-DSA by the PyPI package
/// `slh-dsa` (the last valid known-answer vector of each set).
fn second_round() -> Vec<SecondRound> {
    use base64::Engine as _;
    let mut cases = Vec::new();
    let p521 = ec_key(Nid::SECP521R1);
    let mut signer = Signer::new(MessageDigest::sha512(), &p521).expect("signer");
    cases.push((
        "ecdsa-p521".to_owned(),
        "ecdsa-p521",
        p521.public_key_to_der().expect("spki"),
        MESSAGE.to_vec(),
        signer.sign_oneshot_to_vec(MESSAGE).expect("sign"),
        Some(HashAlgorithm::Sha512),
    ));
    for (label, component, nid, md, hash) in [
        (
            "ecdsa-brainpoolp256r1",
            "ecdsa-brainpoolp256r1",
            Nid::BRAINPOOL_P256R1,
            MessageDigest::sha256(),
            HashAlgorithm::Sha256,
        ),
        (
            "ecdsa-brainpoolp384r1",
            "ecdsa-brainpoolp384r1",
            Nid::BRAINPOOL_P384R1,
            MessageDigest::sha384(),
            HashAlgorithm::Sha384,
        ),
    ] {
        let key = ec_key(nid);
        let mut signer = Signer::new(md, &key).expect("signer");
        cases.push((
            label.to_owned(),
            component,
            key.public_key_to_der().expect("spki"),
            MESSAGE.to_vec(),
            signer.sign_oneshot_to_vec(MESSAGE).expect("sign"),
            Some(hash),
        ));
    }
    let ed448 = PKey::generate_ed448().expect("key");
    let mut signer = Signer::new_without_digest(&ed448).expect("signer");
    cases.push((
        "ed448".to_owned(),
        "ed448",
        ed448.public_key_to_der().expect("spki"),
        MESSAGE.to_vec(),
        signer.sign_oneshot_to_vec(MESSAGE).expect("sign"),
        None,
    ));
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../tests/api/fixtures/ml-dsa.json")).expect("fixture");
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64"))
            .expect("base64")
    };
    let document = b64(&fixture["document"]);
    for key in fixture["keys"].as_array().expect("keys") {
        let spki = pem_body(key["pem"].as_str().expect("pem"));
        cases.push((
            key["parameter_set"].as_str().expect("set").to_lowercase(),
            "ml-dsa",
            spki,
            document.clone(),
            b64(&key["signature"]),
            None,
        ));
    }
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../src/plugins/vectors/slh-dsa-pure.json"))
            .expect("vectors");
    let hex = |v: &serde_json::Value| hex::decode(v.as_str().expect("hex")).expect("hex");
    for group in vectors["groups"].as_array().expect("groups") {
        let tests = group["tests"].as_array().expect("tests");
        let Some(valid) = tests.iter().rfind(|t| t["result"] == "valid") else {
            continue;
        };
        cases.push((
            group["parameter_set"].as_str().expect("set").to_lowercase(),
            "slh-dsa",
            hex(&group["spki"]),
            hex(&valid["message"]),
            hex(&valid["signature"]),
            None,
        ));
    }
    cases
}

/// The DER inside a PEM (OpenSSL 3.0 does not parse ML-DSA keys).
fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM body")
}

fn bench_plugins(c: &mut Criterion) {
    let engine = PluginEngine::new(SandboxLimits {
        // Components built with SIGIL_WIDE_ARITHMETIC=0 run either way.
        wide_arithmetic: std::env::var("SIGIL_WIDE_ARITHMETIC").map_or(true, |v| v != "0"),
        ..PluginsConfig::default().sandbox_limits()
    })
    .expect("engine");
    for case in cases() {
        let plugin = LoadedPlugin::load(&engine, &component(case.component)).expect("plugin loads");
        let spki = case.key.public_key_to_der().expect("spki");
        let key = plugin
            .parse_key(&spki, KeyFormat::Der, None)
            .expect("call")
            .expect("key accepted");
        let mut signature = sign(&case);
        if case.component == "ecdsa-secp256k1" {
            // The plugin enforces low-S (OpenSSL does not produce it).
            use k256::ecdsa::Signature;
            let normal = Signature::from_der(&signature).expect("der").normalize_s();
            signature = normal.to_der().as_bytes().to_vec();
        }
        let message = match case.digest {
            Some((_, hash)) => hash.digest(MESSAGE),
            None => MESSAGE.to_vec(),
        };
        let input = VerifyInput {
            key: key.public_key.clone(),
            message: message.clone(),
            hash: case.digest.map(|(_, h)| h),
            signature: signature.clone(),
            encoding: case.encoding,
            scheme: case.scheme,
            context: Vec::new(),
        };
        assert_eq!(
            plugin.verify(input.clone()).expect("call"),
            Ok(Verdict::of(true)),
            "{}",
            case.label
        );
        assert!(
            (case.native)(&spki, &message, &signature),
            "{} natively",
            case.label
        );

        let mut group = c.benchmark_group(case.label);
        group.throughput(Throughput::Elements(1));
        group.bench_function("native", |b| {
            b.iter(|| (case.native)(black_box(&spki), black_box(&message), black_box(&signature)))
        });
        group.bench_function("wasm-verify", |b| {
            b.iter(|| plugin.verify(black_box(input.clone())).expect("call"))
        });
        let batch: Vec<VerifyInput> = std::iter::repeat_n(input.clone(), 64).collect();
        group.throughput(Throughput::Elements(64));
        group.bench_with_input(BenchmarkId::new("wasm-batch", 64), &batch, |b, batch| {
            b.iter(|| plugin.verify_batch(black_box(batch)).expect("call"))
        });
        group.finish();
    }

    for (label, name, spki, message, signature, hash) in second_round() {
        let plugin = LoadedPlugin::load(&engine, &component(name)).expect("plugin loads");
        let key = plugin
            .parse_key(&spki, KeyFormat::Der, None)
            .expect("call")
            .expect("key accepted");
        let input = VerifyInput {
            key: key.public_key,
            message: hash.map_or_else(|| message.clone(), |h| h.digest(&message)),
            hash,
            signature,
            encoding: if hash.is_some() {
                SignatureEncoding::Der
            } else {
                SignatureEncoding::Raw
            },
            scheme: SignatureScheme::Plain,
            context: Vec::new(),
        };
        assert_eq!(
            plugin.verify(input.clone()).expect("call"),
            Ok(Verdict::of(true)),
            "{label}"
        );
        let mut group = c.benchmark_group(label);
        group.throughput(Throughput::Elements(1));
        group.bench_function("wasm-verify", |b| {
            b.iter(|| plugin.verify(black_box(input.clone())).expect("call"))
        });
        group.finish();
    }

    let plugin = LoadedPlugin::load(&engine, &component("ed25519")).expect("plugin loads");
    c.bench_function("overhead/instantiate+malformed-verify", |b| {
        let input = VerifyInput {
            key: Vec::new(),
            message: Vec::new(),
            hash: None,
            signature: Vec::new(),
            encoding: SignatureEncoding::Raw,
            scheme: SignatureScheme::Plain,
            context: Vec::new(),
        };
        b.iter(|| plugin.verify(black_box(input.clone())).expect("call"))
    });
}

criterion_group!(benches, bench_plugins);
criterion_main!(benches);
