//! The sandbox holds: hostile components yield typed errors within their
//! deadline, malformed components are refused with a clear reason, and the
//! host and the other plugins carry on.

use std::time::{Duration, Instant};

use ed25519_dalek::Signer as _;
use sigil::plugins::{
    KeyFormat, LoadedPlugin, PluginError, PluginExecutor, PluginRegistry, SignatureEncoding,
    SignatureScheme, Verdict, VerifyInput,
};

/// How long a contained call may take at most: the 100 ms deadline plus
/// generous slack for a loaded machine (the misbehaviours tested here
/// would otherwise last an hour, or forever).
const CONTAINED: Duration = Duration::from_secs(2);

/// A request for the hostile plugin whose signature's first byte picks a
/// misbehaviour (see plugins/test-hostile).
fn hostile_input(behaviour: u8) -> VerifyInput {
    VerifyInput {
        key: vec![1, 2, 3],
        message: b"document".to_vec(),
        hash: None,
        signature: vec![behaviour],
        encoding: SignatureEncoding::Raw,
        scheme: SignatureScheme::Plain,
        context: Vec::new(),
    }
}

/// A genuine Ed25519 verification request (key canonicalised by the plugin).
fn ed25519_input(plugin: &LoadedPlugin, message: &[u8]) -> VerifyInput {
    let signing = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let key = plugin
        .parse_key(signing.verifying_key().as_bytes(), KeyFormat::Raw, None)
        .expect("call")
        .expect("key");
    VerifyInput {
        key: key.public_key,
        message: message.to_vec(),
        hash: None,
        signature: signing.sign(message).to_bytes().to_vec(),
        encoding: SignatureEncoding::Raw,
        scheme: SignatureScheme::Plain,
        context: Vec::new(),
    }
}

#[test]
fn hostile_plugin_answers_normally_when_asked_nicely() {
    let hostile = crate::helpers::plugin("test-hostile");
    assert_eq!(
        hostile.verify(hostile_input(1)).expect("call"),
        Ok(Verdict::of(true))
    );
    assert_eq!(
        hostile.verify(hostile_input(0)).expect("call"),
        Ok(Verdict::of(false))
    );
}

#[test]
fn infinite_loop_is_interrupted_at_the_deadline() {
    let hostile = crate::helpers::plugin("test-hostile");
    let started = Instant::now();
    let error = hostile
        .verify(hostile_input(2))
        .expect_err("must not answer");
    let elapsed = started.elapsed();
    assert!(matches!(error, PluginError::Timeout(100)), "got {error:?}");
    // The deadline is 100 ms in 5 ms epochs; allow scheduling slack only.
    assert!(
        elapsed < Duration::from_secs(2),
        "interrupted after {elapsed:?}"
    );
}

#[test]
fn memory_bomb_hits_the_memory_cap() {
    let hostile = crate::helpers::plugin("test-hostile");
    let error = hostile
        .verify(hostile_input(3))
        .expect_err("must not answer");
    assert!(
        matches!(error, PluginError::MemoryExhausted(64)),
        "got {error:?}"
    );
}

#[test]
fn panic_is_a_trap_with_the_plugins_message() {
    let hostile = crate::helpers::plugin("test-hostile");
    let error = hostile
        .verify(hostile_input(4))
        .expect_err("must not answer");
    match error {
        PluginError::Trap(message) => assert!(
            message.contains("hostile plugin panics on request"),
            "{message}"
        ),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn stack_overflow_is_a_trap() {
    let hostile = crate::helpers::plugin("test-hostile");
    let error = hostile
        .verify(hostile_input(5))
        .expect_err("must not answer");
    // Rust keeps its stack in linear memory: running off its end is an
    // out-of-bounds access; exhausting wasmtime's own call stack is
    // "call stack exhausted". Either way the call traps and nothing else
    // is harmed.
    match error {
        PluginError::Trap(message) => assert!(
            message.contains("out of bounds") || message.contains("stack"),
            "{message}"
        ),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn sandbox_grants_no_clock_or_environment() {
    let hostile = crate::helpers::plugin("test-hostile");
    assert_eq!(
        hostile.verify(hostile_input(6)).expect("call"),
        Ok(Verdict::of(false))
    );
}

/// `std::thread::sleep` (monotonic-clock `subscribe-duration`, then
/// `wasi:io/poll`) would block the worker thread inside the host, where
/// the epoch deadline cannot reach: the host links those functions as
/// traps, so the call ends at once with a typed error naming the call.
#[test]
fn sleeping_in_verify_ends_at_once_with_a_forbidden_call() {
    let hostile = crate::helpers::plugin("test-hostile");
    let started = Instant::now();
    let error = hostile
        .verify(hostile_input(7))
        .expect_err("must not answer");
    let elapsed = started.elapsed();
    match error {
        PluginError::ForbiddenCall(message) => assert!(
            message.contains("wasi:clocks/monotonic-clock#subscribe-duration")
                && message.contains("may not sleep"),
            "{message}"
        ),
        other => panic!("expected a forbidden call, got {other:?}"),
    }
    assert!(elapsed < CONTAINED, "contained after {elapsed:?}");
}

/// `workers` + 1 sleeping verifications at once on a pool of `workers`
/// threads: each ends within the deadline, and then an honest
/// verification on another plugin is answered promptly, because no worker
/// is left asleep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeping_plugins_leave_every_worker_free() {
    let workers = 2;
    let executor = PluginExecutor::new(workers).expect("executor");
    let hostile = crate::helpers::plugin("test-hostile");
    let ed25519 = crate::helpers::plugin("ed25519");

    let started = Instant::now();
    let mut sleeping = Vec::new();
    for _ in 0..=workers {
        let hostile = hostile.clone();
        sleeping.push(executor.run(move || {
            let started = Instant::now();
            (hostile.verify(hostile_input(7)), started.elapsed())
        }));
    }
    for outcome in futures_join(sleeping).await {
        let (answer, took) = outcome.expect("executor");
        assert!(
            matches!(answer, Err(PluginError::ForbiddenCall(_))),
            "got {answer:?}"
        );
        assert!(took < CONTAINED, "a sleeping call lasted {took:?}");
    }
    assert!(
        started.elapsed() < CONTAINED,
        "{} sleeping calls on {workers} workers took {:?}",
        workers + 1,
        started.elapsed()
    );

    let honest = Instant::now();
    let answer = executor
        .run(move || ed25519.verify(ed25519_input(&ed25519, b"after the sleepers")))
        .await
        .expect("executor")
        .expect("call");
    assert_eq!(answer, Ok(Verdict::of(true)));
    assert!(
        honest.elapsed() < CONTAINED,
        "an honest verification after the sleepers took {:?}",
        honest.elapsed()
    );
}

/// The same in `describe`: loading (hence admission) fails at once
/// instead of parking a thread for an hour.
#[test]
fn sleeping_in_describe_fails_the_load_at_once() {
    let started = Instant::now();
    let error = LoadedPlugin::load(
        crate::helpers::engine(),
        &crate::helpers::component_bytes("test-hostile-describe-sleep"),
    )
    .expect_err("refused");
    assert!(
        matches!(&error, PluginError::ForbiddenCall(m) if m.contains("subscribe-duration")),
        "got {error:?}"
    );
    assert!(
        started.elapsed() < CONTAINED,
        "took {:?}",
        started.elapsed()
    );
}

/// Components that import the filesystem (beyond the inert part std's
/// stdio imports) or sockets are refused before anything runs, with the
/// import named.
#[test]
fn filesystem_and_socket_imports_are_refused() {
    for (component, import, reason) in [
        (
            "test-hostile-fs",
            "wasi:filesystem/types@0.2.6#[method]descriptor.",
            "no filesystem",
        ),
        ("test-hostile-net", "wasi:sockets/", "no network"),
    ] {
        let error = LoadedPlugin::load(
            crate::helpers::engine(),
            &crate::helpers::component_bytes(component),
        )
        .expect_err("refused");
        match error {
            PluginError::ForbiddenImport {
                import: found,
                reason: why,
            } => {
                assert!(found.starts_with(import), "{component}: {found}");
                assert!(why.contains(reason), "{component}: {why}");
            }
            other => panic!("{component}: expected a forbidden import, got {other:?}"),
        }
    }
}

/// Admission's deadline stops the work for good: a call running at the
/// deadline is interrupted there even when the per-call deadline is far
/// longer (the conformance engine's 5 s), and every later call fails at
/// once, until the plugin is admitted.
#[test]
fn admission_deadline_stops_every_call() {
    let engine = crate::helpers::conformance_engine();
    let bytes = crate::helpers::component_bytes("test-hostile");
    // Compiled beforehand (the engine caches it): the window below is for
    // describe and the loop only.
    LoadedPlugin::load(engine, &bytes).expect("loads");
    let until = Instant::now() + Duration::from_secs(1);
    let hostile = LoadedPlugin::load_until(engine, &bytes, until).expect("describes in time");

    let looping = Instant::now();
    let error = hostile.verify(hostile_input(2)).expect_err("interrupted");
    assert!(matches!(error, PluginError::Timeout(_)), "got {error:?}");
    assert!(
        looping.elapsed() < Duration::from_secs(4),
        "a loop under a 5 s per-call deadline ran {:?} past admission's",
        looping.elapsed()
    );
    assert!(Instant::now() >= until);

    let after = Instant::now();
    for _ in 0..100 {
        let error = hostile
            .verify(hostile_input(1))
            .expect_err("past the deadline");
        assert!(matches!(error, PluginError::Timeout(_)), "got {error:?}");
    }
    assert!(
        after.elapsed() < Duration::from_millis(500),
        "calls past the deadline still ran: {:?}",
        after.elapsed()
    );

    let admitted = hostile.admitted();
    assert_eq!(
        admitted.verify(hostile_input(1)).expect("call"),
        Ok(Verdict::of(true))
    );
}

#[test]
fn garbage_is_not_wasm() {
    let error =
        LoadedPlugin::load(crate::helpers::engine(), b"#!/bin/sh\necho hi\n").expect_err("refused");
    assert!(matches!(error, PluginError::NotWasm), "got {error:?}");
}

#[test]
fn core_module_is_refused() {
    let module = wat::parse_str("(module (func (export \"verify\") (result i32) i32.const 1))")
        .expect("wat");
    let error = LoadedPlugin::load(crate::helpers::engine(), &module).expect_err("refused");
    assert!(matches!(error, PluginError::CoreModule), "got {error:?}");
}

#[test]
fn component_of_another_world_is_refused() {
    let component = wat::parse_str(
        r#"(component
            (core module $m (func (export "run") (result i32) i32.const 1))
            (core instance $i (instantiate $m))
            (func $run (result u32) (canon lift (core func $i "run")))
            (export "run" (func $run)))"#,
    )
    .expect("wat");
    let error = LoadedPlugin::load(crate::helpers::engine(), &component).expect_err("refused");
    match error {
        PluginError::WrongWorld { exports, .. } => assert_eq!(exports, "run"),
        other => panic!("expected wrong world, got {other:?}"),
    }
}

#[test]
fn other_contract_version_is_refused() {
    let component = wat::parse_str(
        r#"(component
            (core module $m (func (export "describe")))
            (core instance $i (instantiate $m))
            (func $describe (canon lift (core func $i "describe")))
            (instance $verifier (export "describe" (func $describe)))
            (export "sigil:plugin/verifier@0.3.0" (instance $verifier)))"#,
    )
    .expect("wat");
    let error = LoadedPlugin::load(crate::helpers::engine(), &component).expect_err("refused");
    match error {
        PluginError::IncompatibleContract { found, expected } => {
            assert_eq!(found, "sigil:plugin/verifier@0.3.0");
            assert_eq!(expected, "sigil:plugin/verifier@0.2.0 (or @0.1.0)");
        }
        other => panic!("expected incompatible contract, got {other:?}"),
    }
}

#[test]
fn right_name_wrong_types_is_a_link_error() {
    let component = wat::parse_str(
        r#"(component
            (core module $m (func (export "describe")))
            (core instance $i (instantiate $m))
            (func $describe (canon lift (core func $i "describe")))
            (instance $verifier (export "describe" (func $describe)))
            (export "sigil:plugin/verifier@0.1.0" (instance $verifier)))"#,
    )
    .expect("wat");
    let error = LoadedPlugin::load(crate::helpers::engine(), &component).expect_err("refused");
    assert!(matches!(error, PluginError::Link(_)), "got {error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_plugins_keep_answering_while_one_misbehaves() {
    let executor = PluginExecutor::new(4).expect("executor");
    let hostile = crate::helpers::plugin("test-hostile");
    let ed25519 = crate::helpers::plugin("ed25519");

    let mut misbehaving = Vec::new();
    for behaviour in [2u8, 3, 4, 5, 2, 3] {
        let hostile = hostile.clone();
        misbehaving.push(executor.run(move || hostile.verify(hostile_input(behaviour))));
    }
    let mut honest = Vec::new();
    for i in 0..40u32 {
        let ed25519 = ed25519.clone();
        honest.push(executor.run(move || {
            let message = format!("document {i}");
            ed25519.verify(ed25519_input(&ed25519, message.as_bytes()))
        }));
    }
    for outcome in futures_join(misbehaving).await {
        assert!(
            outcome.expect("executor").is_err(),
            "a hostile call answered"
        );
    }
    for outcome in futures_join(honest).await {
        assert_eq!(
            outcome.expect("executor").expect("call"),
            Ok(Verdict::of(true))
        );
    }
}

async fn futures_join<T>(futures: Vec<impl std::future::Future<Output = T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(futures.len());
    for future in futures {
        out.push(future.await);
    }
    out
}

#[test]
fn registry_swap_leaves_in_flight_requests_on_their_version() {
    let registry = PluginRegistry::new();
    let first = crate::helpers::plugin("ed25519");
    assert!(registry.install(first.clone()).is_empty());
    let in_flight = registry.route("EdDSA", Some("Curve25519")).expect("routed");

    let second = crate::helpers::plugin("ed25519");
    let displaced = registry.install(second.clone());
    assert_eq!(displaced.len(), 1);
    assert!(std::sync::Arc::ptr_eq(&displaced[0], &first));
    let now = registry.route("eddsa", Some("curve25519")).expect("routed");
    assert!(std::sync::Arc::ptr_eq(&now, &second));

    // The request that started on the first version finishes on it.
    assert_eq!(
        in_flight
            .verify(ed25519_input(&in_flight, b"still here"))
            .expect("call"),
        Ok(Verdict::of(true))
    );

    registry.remove(&second.descriptor().routes(), second.sha256());
    assert!(registry.route("EdDSA", Some("Curve25519")).is_none());
}
