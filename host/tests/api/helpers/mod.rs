//! Shared test plumbing: one plugin engine per test process, components
//! compiled once and loaded from `target/plugins` (built by `just plugins`).

pub mod app;
pub mod redis_nodes;
pub mod signers;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sigil::config::PluginsConfig;
use sigil::plugins::{LoadedPlugin, PluginEngine, conformance};

/// Where `just plugins` puts the components (override with
/// `SIGIL_TEST_PLUGINS`).
pub fn plugins_dir() -> PathBuf {
    std::env::var_os("SIGIL_TEST_PLUGINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plugins"))
}

/// The bytes of a built component, by plugin name (`ecdsa-p256`).
pub fn component_bytes(name: &str) -> Vec<u8> {
    let dir = plugins_dir();
    for set in ["default", "extra"] {
        let path = dir.join(set).join(format!("{name}.wasm"));
        if let Ok(bytes) = std::fs::read(&path) {
            return bytes;
        }
    }
    panic!(
        "component {name} not found under {}; run `just plugins` first",
        dir.display()
    );
}

/// The process-wide engine with the default sandbox limits.
pub fn engine() -> &'static PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        PluginEngine::new(PluginsConfig::default().sandbox_limits()).expect("plugin engine")
    })
}

/// An engine with the conformance run's generous deadline.
pub fn conformance_engine() -> &'static PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let limits = conformance::sandbox_limits(PluginsConfig::default().sandbox_limits());
        PluginEngine::new(limits).expect("plugin engine")
    })
}

/// A loaded plugin (compiled once per process).
pub fn plugin(name: &str) -> Arc<LoadedPlugin> {
    Arc::new(LoadedPlugin::load(engine(), &component_bytes(name)).expect("plugin loads"))
}

/// Poll `check` every 20 ms until it holds; fail the test if it does not
/// within `limit`. Returns how long it took.
pub async fn eventually(
    what: &str,
    limit: Duration,
    mut check: impl AsyncFnMut() -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
