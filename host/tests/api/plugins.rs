//! Hot-loading through HTTP: admission refuses what it must with its own
//! error, uploads and rollbacks swap plugins under load without a failed
//! request, every host follows, and the plugin author's path works.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::helpers::app::TestApp;
use crate::helpers::signers::{Kind, TestKey, b64};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn every_bad_upload_is_refused_with_its_own_error_and_changes_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.plugins.max_upload_bytes = 180_000;
        // More bad uploads than one administrator may make a minute.
        c.rate_limits.plugin_uploads_per_user = 100;
    })
    .await;
    let (_, admin) = app.admin().await;
    let (_, user) = app.user(&["user"]).await;
    let before = app.get("/v1/plugins", Some(&admin)).await.body;
    assert_eq!(before["next_cursor"], Value::Null, "one page: {before}");
    assert_eq!(
        before["items"].as_array().map(Vec::len),
        Some(5),
        "the default set is recorded"
    );

    let hostile = crate::helpers::component_bytes("test-hostile");
    let forbidden = app.upload_plugin(&user, hostile.clone()).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    let cases: Vec<(&str, Vec<u8>, StatusCode, &str, &str)> = vec![
        ("not wasm", b"#!/bin/sh\necho no\n".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "not_wasm", "not a WebAssembly binary"),
        ("core module", wat::parse_str("(module)").expect("wat"), StatusCode::UNPROCESSABLE_ENTITY, "core_module", "not a component"),
        (
            "another world",
            wat::parse_str(r#"(component (core module $m (func (export "f"))) (core instance $i (instantiate $m)) (func $f (canon lift (core func $i "f"))) (export "run" (func $f)))"#).expect("wat"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_world",
            "sigil:plugin/verifier@0.2.0",
        ),
        (
            "another contract version",
            wat::parse_str(r#"(component (core module $m (func (export "d"))) (core instance $i (instantiate $m)) (func $d (canon lift (core func $i "d"))) (instance $v (export "describe" (func $d))) (export "sigil:plugin/verifier@0.3.0" (instance $v)))"#).expect("wat"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "incompatible_contract",
            "0.2.0",
        ),
        ("accepts tampered signatures", crate::helpers::component_bytes("test-lenient"), StatusCode::UNPROCESSABLE_ENTITY, "self_test_failed", "expected Reject"),
        ("loops in describe", crate::helpers::component_bytes("test-hostile-describe-loop"), StatusCode::UNPROCESSABLE_ENTITY, "describe_failed", "deadline"),
        ("traps in describe", crate::helpers::component_bytes("test-hostile-describe-trap"), StatusCode::UNPROCESSABLE_ENTITY, "describe_failed", "trapped"),
        ("sleeps in describe", crate::helpers::component_bytes("test-hostile-describe-sleep"), StatusCode::UNPROCESSABLE_ENTITY, "describe_failed", "wasi:clocks/monotonic-clock#subscribe-duration"),
        ("imports the filesystem", crate::helpers::component_bytes("test-hostile-fs"), StatusCode::UNPROCESSABLE_ENTITY, "forbidden_import", "wasi:filesystem/types@0.2.6#[method]descriptor."),
        ("imports sockets", crate::helpers::component_bytes("test-hostile-net"), StatusCode::UNPROCESSABLE_ENTITY, "forbidden_import", "wasi:sockets/"),
        ("cannot be tested", hostile, StatusCode::UNPROCESSABLE_ENTITY, "untestable", "no known-answer vectors"),
        ("over the size cap", crate::helpers::component_bytes("ecdsa-p384"), StatusCode::PAYLOAD_TOO_LARGE, "plugin_too_large", "at most 180000 bytes"),
    ];
    for (what, bytes, status, code, detail) in cases {
        let answer = app.upload_plugin(&admin, bytes).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{what}: {:?}",
            answer.body
        );
        assert_eq!(
            answer.headers["content-type"], "application/problem+json",
            "{what}"
        );
        let text = answer.body["detail"].as_str().unwrap_or_default();
        assert!(
            text.contains(detail),
            "{what}: detail {text:?} lacks {detail:?}"
        );
    }
    let wrong_type = app
        .client
        .post(format!("{}/v1/plugins", app.base))
        .bearer_auth(&admin)
        .header("content-type", "application/octet-stream")
        .body(crate::helpers::component_bytes("ecdsa-p384"))
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Nothing changed: the same four plugins, and P-256 still served by ecdsa-p256.
    assert_eq!(app.get("/v1/plugins", Some(&admin)).await.body, before);
    let p256 = curve(&app, &admin, "P-256").await;
    assert_eq!(p256["plugin"]["name"], "ecdsa-p256");
    // Every refusal is audited.
    let db = app.superuser().await;
    let refused: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'plugin.upload' AND outcome = 'failure'",
    )
    .fetch_one(&db)
    .await
    .expect("count");
    assert_eq!(refused, 11);
}

/// Admissions are bounded: with one slot, uploads that arrive together
/// are admitted one at a time and the others are told to come back
/// (503 with `Retry-After`), and nothing is left holding the slot: each
/// refused upload goes through when retried.
#[tokio::test]
async fn concurrent_uploads_beyond_the_admission_slots_are_told_to_retry() {
    let app = TestApp::spawn_with(|c| c.plugins.admission_concurrency = 1).await;
    let (_, admin) = app.admin().await;
    let components = ["ecdsa-p384", "ecdsa-p256-0.1.1", "test-lenient"];
    let uploads =
        components.map(|name| app.upload_plugin(&admin, crate::helpers::component_bytes(name)));
    let answers = futures::future::join_all(uploads).await;
    let mut busy = Vec::new();
    for (name, answer) in components.iter().zip(&answers) {
        match (answer.status, answer.code()) {
            (StatusCode::SERVICE_UNAVAILABLE, "admission_busy") => {
                assert_eq!(answer.headers["retry-after"], "5", "{name}");
                busy.push(*name);
            }
            (StatusCode::CREATED, _) => assert_ne!(*name, "test-lenient"),
            (StatusCode::UNPROCESSABLE_ENTITY, "self_test_failed") => {
                assert_eq!(*name, "test-lenient")
            }
            other => panic!("{name}: {other:?} {:?}", answer.body),
        }
    }
    assert!(
        !busy.is_empty(),
        "three uploads at once all took the one slot: {answers:?}"
    );
    for name in busy {
        let answer = app
            .upload_plugin(&admin, crate::helpers::component_bytes(name))
            .await;
        let expected = if name == "test-lenient" {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::CREATED
        };
        assert_eq!(answer.status, expected, "{name} retried: {:?}", answer.body);
    }
}

/// A plugin that sleeps in `describe` is refused at once and leaves no
/// admission behind: with a single admission slot, upload after upload of
/// it is answered promptly, and a good plugin is then admitted.
#[tokio::test]
async fn sleeping_in_describe_is_refused_promptly_and_frees_its_slot() {
    let app = TestApp::spawn_with(|c| c.plugins.admission_concurrency = 1).await;
    let (_, admin) = app.admin().await;
    let sleeper = crate::helpers::component_bytes("test-hostile-describe-sleep");
    for attempt in 0..3 {
        let started = Instant::now();
        let answer = app.upload_plugin(&admin, sleeper.clone()).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "describe_failed"),
            "attempt {attempt}: {:?}",
            answer.body
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "attempt {attempt} took {:?}",
            started.elapsed()
        );
    }
    let good = app
        .upload_plugin(&admin, crate::helpers::component_bytes("ecdsa-p384"))
        .await;
    assert_eq!(good.status, StatusCode::CREATED, "{:?}", good.body);
}

/// Continuous verification load against hosts; counts failures.
struct Load {
    stop: Arc<AtomicBool>,
    failures: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(apps: Vec<Arc<TestApp>>, token: String, bodies: Vec<Value>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for (i, body) in bodies.into_iter().enumerate() {
            let app = apps[i % apps.len()].clone();
            let (stop, failures, done, token) =
                (stop.clone(), failures.clone(), done.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let answer = app.verify(&token, body.clone()).await;
                    if answer.status != StatusCode::OK || answer.body["valid"] != true {
                        eprintln!("failed under load: {} {:?}", answer.status, answer.body);
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Self {
            stop,
            failures,
            done,
            tasks,
        }
    }

    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        (
            self.done.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        )
    }
}

async fn load_bodies(app: &TestApp, token: &str) -> Vec<Value> {
    let mut bodies = Vec::new();
    for kind in [Kind::P256, Kind::Ed25519] {
        let signer = TestKey::generate(kind);
        let id = app.register_key(token, &signer).await;
        let doc = format!("load document {kind:?}");
        let body = json!({"public_key_id": id, "document": b64(doc.as_bytes()), "signature": b64(&signer.sign(doc.as_bytes()))});
        bodies.push(body.clone());
        bodies.push(body);
    }
    bodies
}

/// `host` verifies `body` as valid within a second.
async fn verifies_within_a_second(host: &TestApp, token: &str, body: &Value) {
    let started = Instant::now();
    loop {
        let answer = host.verify(token, body.clone()).await;
        if answer.body["valid"] == true {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B does not verify P-384 after {:?}: {:?}",
            started.elapsed(),
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "second host verified P-384 {:?} after the upload answered",
        started.elapsed()
    );
}

/// The catalogue entry of the curve `name`, as `host` lists it.
async fn curve(host: &TestApp, token: &str, name: &str) -> Value {
    let curves = host.get("/v1/curves", Some(token)).await.body;
    curves["items"]
        .as_array()
        .expect("curves")
        .iter()
        .find(|c| c["name"] == name)
        .expect("curve catalogued")
        .clone()
}

#[tokio::test]
async fn p384_is_hot_loaded_under_load_on_every_host() {
    let a = Arc::new(TestApp::spawn().await);
    let b = Arc::new(a.another_host(|_| {}).await);
    let (_, admin) = a.admin().await;
    let load = Load::start(
        vec![a.clone(), b.clone()],
        admin.clone(),
        load_bodies(&a, &admin).await,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let p384 = TestKey::generate(Kind::P384);
    let before = a
        .post("/v1/keys", Some(&admin), p384.pem_registration())
        .await;
    assert_eq!(
        before.code(),
        "key_rejected",
        "P-384 is not served before the upload"
    );
    assert!(
        before.body["detail"]
            .as_str()
            .expect("detail")
            .contains("1.3.132.0.34"),
        "{:?}",
        before.body
    );
    let uploaded = a
        .upload_plugin(&admin, crate::helpers::component_bytes("ecdsa-p384"))
        .await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{:?}", uploaded.body);
    assert_eq!(
        (
            uploaded.body["name"].as_str(),
            uploaded.body["status"].as_str()
        ),
        (Some("ecdsa-p384"), Some("active"))
    );
    assert_eq!(uploaded.body["serving"], true);

    // Usable on A as soon as the upload answers.
    let created = a
        .post("/v1/keys", Some(&admin), p384.pem_registration())
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["curve"], "P-384");
    let body = json!({"public_key_id": created.body["id"], "document": b64(b"p384 document"), "signature": b64(&p384.sign(b"p384 document"))});
    let verified = a.verify(&admin, body.clone()).await;
    assert_eq!(verified.body["valid"], true, "{:?}", verified.body);
    assert!(
        verified.body["plugin"]
            .as_str()
            .expect("plugin")
            .starts_with("ecdsa-p384@")
    );

    // And on B within a second.
    verifies_within_a_second(&b, &admin, &body).await;
    let p384_curve = curve(&b, &admin, "P-384").await;
    assert_eq!(
        (
            p384_curve["status"].as_str(),
            p384_curve["plugin"]["name"].as_str()
        ),
        (Some("enabled"), Some("ecdsa-p384"))
    );
    assert_eq!(p384_curve["plugin"]["sha256"], uploaded.body["sha256"]);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let (done, failures) = load.finish().await;
    assert!(done > 20, "the load ran ({done} requests)");
    assert_eq!(
        failures, 0,
        "{failures} of {done} requests failed during the hot load"
    );

    // A host that starts later loads the active set from PostgreSQL.
    let c = a.another_host(|_| {}).await;
    assert_eq!(c.verify(&admin, body).await.body["valid"], true);
}

#[tokio::test]
async fn a_new_version_and_its_rollback_swap_under_load() {
    let app = Arc::new(TestApp::spawn().await);
    let (_, admin) = app.admin().await;
    let signer = TestKey::generate(Kind::P256);
    let id = app.register_key(&admin, &signer).await;
    let body = json!({"public_key_id": id, "document": b64(b"versioned"), "signature": b64(&signer.sign(b"versioned"))});
    let mut bodies = load_bodies(&app, &admin).await;
    bodies.push(body.clone());
    let load = Load::start(vec![app.clone()], admin.clone(), bodies);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let plugins = app.get("/v1/plugins", Some(&admin)).await.body;
    let original = plugins["items"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["name"] == "ecdsa-p256")
        .expect("ecdsa-p256")
        .clone();
    assert_eq!(original["version"], "0.1.0");
    let newer = app
        .upload_plugin(&admin, crate::helpers::component_bytes("ecdsa-p256-0.1.1"))
        .await;
    assert_eq!(newer.status, StatusCode::CREATED, "{:?}", newer.body);
    assert_eq!(newer.body["version"], "0.1.1");
    let answer = app.verify(&admin, body.clone()).await;
    assert_eq!(answer.body["plugin"], "ecdsa-p256@0.1.1");
    let record = app
        .record(&admin, answer.body["verification_id"].as_str().expect("id"))
        .await;
    assert_eq!(record.body["metadata"]["plugin_version"], "0.1.1");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Roll back: activate the previous version.
    let rolled = app
        .post(
            &format!(
                "/v1/plugins/{}/activate",
                original["id"].as_str().expect("id")
            ),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(rolled.status, StatusCode::OK, "{:?}", rolled.body);
    let answer = app.verify(&admin, body.clone()).await;
    assert_eq!(answer.body["plugin"], "ecdsa-p256@0.1.0");
    let listed = app.get("/v1/plugins", Some(&admin)).await.body;
    let status_of = |version: &str| {
        listed["items"]
            .as_array()
            .expect("plugins")
            .iter()
            .find(|p| p["name"] == "ecdsa-p256" && p["version"] == version)
            .expect("version")["status"]
            .clone()
    };
    assert_eq!(
        (status_of("0.1.0"), status_of("0.1.1")),
        (json!("active"), json!("inactive"))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (done, failures) = load.finish().await;
    assert_eq!(
        failures, 0,
        "{failures} of {done} requests failed across the upgrade and rollback"
    );
    // Records name the version that answered them.
    let db = app.superuser().await;
    let versions: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT metadata->>'plugin_version' FROM verification_records WHERE metadata->>'plugin' = 'ecdsa-p256' ORDER BY 1",
    )
    .fetch_all(&db)
    .await
    .expect("versions");
    assert_eq!(versions, vec!["0.1.0".to_owned(), "0.1.1".to_owned()]);
}

#[tokio::test]
async fn disabling_the_only_plugin_for_a_curve_disables_the_curve() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let signer = TestKey::generate(Kind::Secp256k1);
    let id = app.register_key(&admin, &signer).await;
    let body =
        json!({"public_key_id": id, "document": b64(b"k1"), "signature": b64(&signer.sign(b"k1"))});
    assert_eq!(app.verify(&admin, body.clone()).await.body["valid"], true);

    let plugins = app.get("/v1/plugins", Some(&admin)).await.body;
    let k1 = plugins["items"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["name"] == "ecdsa-secp256k1")
        .expect("plugin")
        .clone();
    let disabled = app
        .post(
            &format!("/v1/plugins/{}/disable", k1["id"].as_str().expect("id")),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (
            disabled.body["status"].as_str(),
            disabled.body["serving"].as_bool()
        ),
        (Some("disabled"), Some(false))
    );

    let curve = curve(&app, &admin, "secp256k1").await;
    assert_eq!(
        (
            curve["status"].as_str(),
            curve["available"].as_bool(),
            curve["configured_status"].as_str()
        ),
        (Some("disabled"), Some(false), Some("enabled"))
    );
    let refused = app.verify(&admin, body.clone()).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "plugin_unavailable")
    );

    let back = app
        .post(
            &format!("/v1/plugins/{}/activate", k1["id"].as_str().expect("id")),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    assert_eq!(app.verify(&admin, body).await.body["valid"], true);
    let again = app
        .upload_plugin(&admin, crate::helpers::component_bytes("ecdsa-secp256k1"))
        .await;
    assert_eq!(again.code(), "plugin_exists");
}

#[tokio::test]
async fn a_scaffolded_plugin_builds_and_passes_the_check() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repo");
    let scratch = std::env::temp_dir().join(format!(
        "sigil-new-plugin-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let copy = |what: &str| {
        let status = std::process::Command::new("cp")
            .args([
                "-r",
                repo.join(what).to_str().expect("path"),
                scratch.to_str().expect("path"),
            ])
            .status()
            .expect("cp");
        assert!(status.success(), "copying {what}");
    };
    copy("wit");
    copy("scripts");
    std::fs::create_dir_all(scratch.join("plugins")).expect("plugins");
    for entry in std::fs::read_dir(repo.join("plugins")).expect("plugins") {
        let entry = entry.expect("entry");
        if entry.file_name() != "target" {
            let status = std::process::Command::new("cp")
                .args([
                    "-r",
                    entry.path().to_str().expect("path"),
                    scratch.join("plugins").to_str().expect("path"),
                ])
                .status()
                .expect("cp");
            assert!(status.success());
        }
    }
    let scaffold = std::process::Command::new("bash")
        .arg(scratch.join("scripts/new-plugin"))
        .arg("demo")
        .output()
        .expect("new-plugin");
    assert!(
        scaffold.status.success(),
        "new-plugin: {}",
        String::from_utf8_lossy(&scaffold.stderr)
    );
    // At the lowest CPU priority: the other tests of this binary run beside
    // the build, and some of them (the sandbox's deadlines, "within a
    // second") measure time.
    let build = std::process::Command::new("nice")
        .args(["-n", "19", "bash"])
        .arg(scratch.join("scripts/build-plugins"))
        .env("SIGIL_PLUGINS_ONLY", "demo")
        // Reuse the compiled dependencies of the real build.
        .env("CARGO_TARGET_DIR", repo.join("plugins/target"))
        .output()
        .expect("build");
    assert!(
        build.status.success(),
        "build: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let component = scratch.join("target/plugins/extra/demo.wasm");
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["plugin", "check"])
        .arg(&component)
        .output()
        .expect("check");
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        stdout.contains("\"name\": \"demo\"") && stdout.contains("conformance: PASS"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// `sigil plugin …` with `args`: (success, stdout, stderr).
fn sigil_cli(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sigil"))
        .arg("plugin")
        .args(args)
        .output()
        .expect("sigil runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Upload with an optional `Sigil-Plugin-Signature` header.
async fn upload_signed(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    signature: Option<&str>,
) -> crate::helpers::app::Answer {
    let mut request = app
        .client
        .post(format!("{}/v1/plugins", app.base))
        .bearer_auth(token)
        .header("content-type", "application/wasm")
        .body(bytes);
    if let Some(signature) = signature {
        request = request.header("sigil-plugin-signature", signature.trim());
    }
    let response = request.send().await.expect("sent");
    crate::helpers::app::Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.json::<Value>().await.unwrap_or(Value::Null),
    }
}

#[tokio::test]
async fn only_components_signed_by_a_trusted_publisher_are_admitted_when_signatures_are_required() {
    use sha2::Digest as _;
    let scratch =
        std::env::temp_dir().join(format!("sigil-signing-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let path = |name: &str| scratch.join(name).to_str().expect("utf-8").to_owned();

    // A publisher key pair and a stranger's, made by the CLI.
    let (ok, acme_out, err) = sigil_cli(&["keygen", "--out", &path("acme"), "--name", "acme"]);
    assert!(ok, "keygen: {err}");
    let entry = acme_out
        .lines()
        .find_map(|line| line.split("TRUSTED_PUBLISHERS='").nth(1))
        .and_then(|rest| rest.strip_suffix('\''))
        .expect("keygen prints the trusted-publisher entry")
        .to_owned();
    assert!(entry.starts_with("acme:"), "{entry}");
    let (ok, _, err) = sigil_cli(&["keygen", "--out", &path("stranger")]);
    assert!(ok, "keygen: {err}");

    // Sign the P-384 component as acme and as the stranger.
    let component = crate::helpers::component_bytes("ecdsa-p384");
    std::fs::write(scratch.join("p384.wasm"), &component).expect("write");
    let (ok, _, err) = sigil_cli(&["sign", "--key", &path("acme.key"), &path("p384.wasm")]);
    assert!(ok, "sign: {err}");
    let acme_sig = std::fs::read_to_string(scratch.join("p384.wasm.sig")).expect("p384.wasm.sig");
    let (ok, _, err) = sigil_cli(&[
        "sign",
        "--key",
        &path("stranger.key"),
        "--out",
        &path("stranger.sig"),
        &path("p384.wasm"),
    ]);
    assert!(ok, "sign: {err}");
    let stranger_sig = std::fs::read_to_string(scratch.join("stranger.sig")).expect("sig");

    // `plugin check` verifies a signature when given a publisher key.
    let (ok, out, err) = sigil_cli(&[
        "check",
        "--describe-only",
        "--publisher-key",
        &path("acme.pub"),
        &path("p384.wasm"),
    ]);
    assert!(ok && out.contains("signature: VALID"), "{out}\n{err}");
    let (ok, out, _) = sigil_cli(&[
        "check",
        "--describe-only",
        "--signature",
        &path("stranger.sig"),
        "--publisher-key",
        &path("acme.pub"),
        &path("p384.wasm"),
    ]);
    assert!(!ok && out.contains("signature: INVALID"), "{out}");

    let app = TestApp::spawn_with(|c| {
        c.plugins.trusted_publishers = entry.clone();
        c.plugins.require_signature = true;
    })
    .await;
    let (admin_id, admin) = app.admin().await;
    let before = app.get("/v1/plugins", Some(&admin)).await.body;

    let mut tampered = component.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let refused = [
        ("unsigned", component.clone(), None, "signature_required"),
        (
            "signed by an untrusted key",
            component.clone(),
            Some(stranger_sig.as_str()),
            "untrusted_signature",
        ),
        (
            "tampered after signing",
            tampered,
            Some(acme_sig.as_str()),
            "untrusted_signature",
        ),
        (
            "not a signature",
            component.clone(),
            Some("bm90IGEgc2lnbmF0dXJl"),
            "malformed_plugin_signature",
        ),
    ];
    for (what, bytes, signature, code) in refused {
        let answer = upload_signed(&app, &admin, bytes, signature).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{what}: {:?}",
            answer.body
        );
        assert_eq!(answer.headers["content-type"], "application/problem+json");
    }
    assert_eq!(
        app.get("/v1/plugins", Some(&admin)).await.body,
        before,
        "nothing stored"
    );

    let admitted = upload_signed(&app, &admin, component.clone(), Some(acme_sig.as_str())).await;
    assert_eq!(admitted.status, StatusCode::CREATED, "{:?}", admitted.body);
    let raw_sig =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, acme_sig.trim())
            .expect("base64");
    let digest = hex::encode(sha2::Sha256::digest(&raw_sig));
    assert_eq!(admitted.body["publisher"], "acme");
    assert_eq!(admitted.body["signature_sha256"], digest.as_str());
    assert_eq!(admitted.body["status"], "active");
    let id = admitted.body["id"].as_str().expect("id").to_owned();

    let listed = app.get("/v1/plugins", Some(&admin)).await.body;
    let row = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["id"] == id.as_str())
        .expect("listed");
    assert_eq!(
        (row["publisher"].as_str(), row["signature_sha256"].as_str()),
        (Some("acme"), Some(digest.as_str()))
    );
    let unsigned = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["name"] == "ecdsa-p256")
        .expect("default plugin");
    assert_eq!(
        unsigned["publisher"],
        Value::Null,
        "the plugin directory's are unsigned"
    );

    // Who activated what: the upload's activation is audited with its
    // publisher and signature.
    let db = app.superuser().await;
    let (actor, details): (Option<uuid::Uuid>, Value) = sqlx::query_as(
        "SELECT actor_id, details FROM audit_log WHERE action = 'plugin.activate' AND target_id = $1",
    )
    .bind(&id)
    .fetch_one(&db)
    .await
    .expect("activation audited");
    assert_eq!(actor, Some(admin_id));
    assert_eq!(
        (
            details["publisher"].as_str(),
            details["signature_sha256"].as_str(),
            details["name"].as_str()
        ),
        (Some("acme"), Some(digest.as_str()), Some("ecdsa-p384"))
    );
    let refusals: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'plugin.upload' AND outcome = 'failure'",
    )
    .fetch_one(&db)
    .await
    .expect("count");
    assert_eq!(refusals, 4, "every refused upload is audited");
    let _ = std::fs::remove_dir_all(&scratch);
}
