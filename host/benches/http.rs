//! Verify throughput through the whole service (HTTP, JSON, authentication,
//! key lookup under row-level security, plugin, group-committed record in
//! PostgreSQL) against the plugin-only rate on the same machine (the same
//! plugin called directly on the same worker pool, nothing recorded).
//!
//! Needs the local PostgreSQL and Redis of the test setup and the built
//! plugins: `just bench-http`. Prints a table for BENCHMARKS.md.
//! `BENCH_ONLY=Ed25519` (or `P256`) measures one algorithm and skips the
//! result-cache load; `BENCH_TOKEN_CACHE=0` turns off the verified-token
//! cache (`auth.verified_token_cache`).

#[path = "../tests/api/helpers/mod.rs"]
#[allow(dead_code)]
mod helpers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use helpers::app::TestApp;
use helpers::signers::{Kind, TestKey, b64};
use serde_json::json;
use sigil::plugins::{KeyFormat, SignatureEncoding, SignatureScheme, Verdict, VerifyInput};

const DURATION: Duration = Duration::from_secs(10);
const CLIENTS: usize = 16;
const BATCH: usize = 1000;

/// Run `work` from `clients` concurrent tasks for `DURATION`; each call
/// returns how many verifications it completed. Returns verifications/s.
async fn measure<F, Fut>(clients: usize, work: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = u64> + Send,
{
    let work = Arc::new(work);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let work = work.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < DURATION {
                done.fetch_add(work().await, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let app = Arc::new(
            TestApp::spawn_with(|c| {
                c.plugins.workers = 0;
                c.rate_limits.enabled = false;
                c.database.max_connections = 16;
                c.verify.result_cache_ttl_secs = 0;
                if let Some(n) = std::env::var("BENCH_TOKEN_CACHE").ok().and_then(|v| v.parse().ok()) {
                    c.auth.verified_token_cache = n;
                }
            })
            .await,
        );
        let (_, token) = app.user(&["user"]).await;
        let token = Arc::new(token);
        println!("| algorithm | plugin-only single | HTTP single | ratio | plugin-only batch | HTTP batch | ratio |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for kind in [Kind::P256, Kind::Ed25519].into_iter().filter(|k| std::env::var("BENCH_ONLY").map_or(true, |o| format!("{k:?}") == o)) {
            let signer = TestKey::generate(kind);
            let key = app
                .post("/v1/keys", Some(&token), json!({"key_data": signer.pem(), "format": "PEM", "algorithm": signer.algorithm()}))
                .await
                .body;
            let key_id = key["id"].as_str().expect("key id").to_owned();
            let document = b"benchmark document for the HTTP path".to_vec();
            let signature = signer.sign(&document);

            // Plugin only: same plugin, same executor, nothing else.
            let plugin = app.state.plugins.route(signer.algorithm(), signer.curve()).expect("plugin");
            let spki = plugin
                .parse_key(signer.pem().as_bytes(), KeyFormat::Pem, None)
                .expect("call")
                .expect("key");
            let descriptor = plugin.descriptor().clone();
            let hash = descriptor.default_hash;
            let input = VerifyInput {
                key: spki.public_key,
                message: match hash {
                    Some(h) => h.digest(&document),
                    None => document.clone(),
                },
                hash,
                signature: signature.clone(),
                encoding: descriptor.signature_encodings[0],
                scheme: SignatureScheme::Plain,
                context: Vec::new(),
            };
            let _ = SignatureEncoding::Der;
            let executor = app.state.executor.clone();
            let (p, i) = (plugin.clone(), input.clone());
            let plugin_single = measure(CLIENTS, move || {
                let (p, i, executor) = (p.clone(), i.clone(), executor.clone());
                async move {
                    let valid = executor.run(move || p.verify(i)).await.expect("run").expect("call").expect("answer");
                    assert!(valid.valid);
                    1
                }
            })
            .await;
            let executor = app.state.executor.clone();
            let (p, i) = (plugin.clone(), input.clone());
            let plugin_batch = measure(4, move || {
                let (p, i, executor) = (p.clone(), i.clone(), executor.clone());
                async move {
                    // The service cuts a batch into chunks of at most 64 for the workers.
                    let chunks: Vec<_> = (0..BATCH / 50)
                        .map(|_| {
                            let (p, inputs) = (p.clone(), vec![i.clone(); 50]);
                            executor.run(move || p.verify_batch(&inputs))
                        })
                        .collect();
                    for chunk in futures::future::join_all(chunks).await {
                        assert!(chunk.expect("run").expect("call").iter().all(|a| a == &Ok(Verdict::of(true))));
                    }
                    BATCH as u64
                }
            })
            .await;

            // Through HTTP, every answer recorded.
            let stats = app.state.verifier.recorder().stats();
            let (commits0, rows0) = (stats.commits.load(Ordering::Relaxed), stats.rows.load(Ordering::Relaxed));
            let body = json!({"public_key_id": key_id, "document": b64(&document), "signature": b64(&signature)});
            let (a, t, b) = (app.clone(), token.clone(), body.clone());
            let http_single = measure(CLIENTS, move || {
                let (a, t, b) = (a.clone(), t.clone(), b.clone());
                async move {
                    let answer = a.post("/v1/verify", Some(&t), b).await;
                    assert_eq!(answer.body["valid"], true, "{:?}", answer.body);
                    1
                }
            })
            .await;
            let commits = stats.commits.load(Ordering::Relaxed) - commits0;
            let rows = stats.rows.load(Ordering::Relaxed) - rows0;
            eprintln!("{}: single requests committed {:.1} rows per transaction", plugin.label(), rows as f64 / commits.max(1) as f64);
            let batch_body = json!({"items": vec![body.clone(); BATCH]});
            let (a, t, b) = (app.clone(), token.clone(), batch_body.clone());
            let http_batch = measure(4, move || {
                let (a, t, b) = (a.clone(), t.clone(), b.clone());
                async move {
                    let answer = a.post("/v1/verify/batch", Some(&t), b).await;
                    assert_eq!(answer.body["success_count"], BATCH, "{:?}", answer.status);
                    BATCH as u64
                }
            })
            .await;
            println!(
                "| {} | {:.0}/s | {:.0}/s | {:.0} % | {:.0}/s | {:.0}/s | {:.0} % |",
                plugin.label(),
                plugin_single,
                http_single,
                100.0 * http_single / plugin_single,
                plugin_batch,
                http_batch,
                100.0 * http_batch / plugin_batch
            );
        }
        let db = app.superuser().await;
        let records: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_records").fetch_one(&db).await.expect("count");
        println!("\nrecords written: {records}");
        drop(db);
        if std::env::var("BENCH_ONLY").is_err() { cached_load().await; }
    });
}

/// Hot documents in the repeated-document load.
const HOT: usize = 64;
/// One request in `FRESH_EVERY` carries a document never seen before.
const FRESH_EVERY: u64 = 4;

/// The result cache under a repeated-document load: three requests in four
/// repeat one of 64 hot (key, document, signature) triples, one in four is
/// new. Every answer is still recorded. Compared with the same load with
/// the result cache off, on the same machine.
async fn cached_load() {
    println!("\n| algorithm | load | cache off | cache on | speed-up | hit ratio |");
    println!("|---|---|---:|---:|---:|---:|");
    for kind in [Kind::P256, Kind::Ed25519] {
        let signer = Arc::new(TestKey::generate(kind));
        // Enough fresh documents that none repeats within a run.
        let fresh: Arc<Vec<serde_json::Value>> = Arc::new(
            (0..20_000)
                .map(|i| {
                    let document = format!("fresh document {i}").into_bytes();
                    json!({"document": b64(&document), "signature": b64(&signer.sign(&document))})
                })
                .collect(),
        );
        let hot: Arc<Vec<serde_json::Value>> = Arc::new(
            (0..HOT)
                .map(|i| {
                    let document = format!("hot document {i}").into_bytes();
                    json!({"document": b64(&document), "signature": b64(&signer.sign(&document))})
                })
                .collect(),
        );
        let mut rates = Vec::new();
        let mut ratio = 0.0;
        for ttl in [0, 3600] {
            let app = Arc::new(
                TestApp::spawn_with(move |c| {
                    c.plugins.workers = 0;
                    c.rate_limits.enabled = false;
                    c.database.max_connections = 16;
                    c.verify.result_cache_ttl_secs = ttl;
                })
                .await,
            );
            let (_, token) = app.user(&["user"]).await;
            let token = Arc::new(token);
            let key = app
                .post("/v1/keys", Some(&token), json!({"key_data": signer.pem(), "format": "PEM", "algorithm": signer.algorithm()}))
                .await
                .body;
            let key_id = Arc::new(key["id"].as_str().expect("key id").to_owned());
            let counter = Arc::new(AtomicU64::new(0));
            let result = &app.state.caches.stats().result;
            let (hits0, misses0) = (
                result.hits.load(Ordering::Relaxed),
                result.misses.load(Ordering::Relaxed),
            );
            let (a, t, k, f, h, n) = (
                app.clone(),
                token.clone(),
                key_id.clone(),
                fresh.clone(),
                hot.clone(),
                counter.clone(),
            );
            let rate = measure(CLIENTS, move || {
                let (a, t, k, f, h, n) = (
                    a.clone(),
                    t.clone(),
                    k.clone(),
                    f.clone(),
                    h.clone(),
                    n.clone(),
                );
                async move {
                    let i = n.fetch_add(1, Ordering::Relaxed);
                    let pick = if i % FRESH_EVERY == 0 {
                        &f[(i / FRESH_EVERY) as usize % f.len()]
                    } else {
                        &h[i as usize % HOT]
                    };
                    let mut body = pick.clone();
                    body["public_key_id"] = json!(k.as_str());
                    let answer = a.post("/v1/verify", Some(&t), body).await;
                    assert_eq!(answer.body["valid"], true, "{:?}", answer.body);
                    1
                }
            })
            .await;
            let hits = result.hits.load(Ordering::Relaxed) - hits0;
            let misses = result.misses.load(Ordering::Relaxed) - misses0;
            if ttl > 0 {
                ratio = hits as f64 / (hits + misses).max(1) as f64;
            }
            rates.push(rate);
        }
        println!(
            "| {} | 3/4 of requests repeat one of {HOT} documents | {:.0}/s | {:.0}/s | {:.2}x | {:.1} % |",
            signer.curve().unwrap_or(signer.algorithm()),
            rates[0],
            rates[1],
            rates[1] / rates[0],
            100.0 * ratio
        );
    }
}
