//! The one wasmtime [`Engine`] of the process, configured for untrusted
//! plugins: component model, pooling allocator, epoch interruption, a
//! memory cap per store, a linker that provides only the allow-listed
//! imports (see [`super::imports`]) and grants nothing through them (see
//! [`super::sandbox`]), and a bounded cache of compiled components.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use super::error::PluginError;
use super::sandbox::SandboxState;

/// Limits applied to every plugin call. The service takes them from its
/// `[plugins]` settings (`PluginsConfig::sandbox_limits`, which holds the
/// defaults); this module imports nothing outside `plugins/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SandboxLimits {
    /// Wall-clock budget of one call (instantiation included).
    pub deadline: Duration,
    /// Cap on a store's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Instance slots in the pooling allocator: calls in flight at once.
    pub pool_instances: u32,
    /// Accept components that use the wide-arithmetic proposal (128-bit
    /// multiply and add, which big-number code needs; wasmtime tier 2, off
    /// in wasmtime's own defaults because the proposal is not yet standard).
    pub wide_arithmetic: bool,
}

/// Memory per pooled slot reset in place rather than unmapped (a verify
/// call touches well under this).
const KEEP_RESIDENT_BYTES: usize = 1 << 20;
/// The same for tables.
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 << 10;

/// How often the epoch advances; deadlines are whole numbers of ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Compiled components kept for reuse (the most recently used). Plugins
/// in service hold their own; the cache only spares recompiling a
/// component loaded again (by another host in the same process, on
/// reconciliation, on a repeated upload), so a handful is plenty, and a
/// stream of distinct uploads cannot grow it.
pub const COMPILED_CACHE_ENTRIES: usize = 32;

/// The shared engine: compile components, make sandboxed stores.
#[derive(Clone)]
pub struct PluginEngine {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<SandboxState>,
    limits: SandboxLimits,
    deadline_ticks: u64,
    /// Compiled components by SHA-256 of their bytes, most recently used
    /// first, at most [`COMPILED_CACHE_ENTRIES`].
    compiled: Mutex<VecDeque<([u8; 32], Component)>>,
}

impl PluginEngine {
    /// Configure the engine and start its epoch ticker.
    pub fn new(limits: SandboxLimits) -> Result<Self, PluginError> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(limits.pool_instances)
            .total_core_instances(limits.pool_instances.saturating_mul(4))
            .total_memories(limits.pool_instances.saturating_mul(2))
            .total_tables(limits.pool_instances.saturating_mul(2))
            .total_stacks(limits.pool_instances)
            .max_memories_per_component(2)
            .max_tables_per_component(4)
            .max_core_instances_per_component(16)
            .max_memory_size(limits.memory_bytes)
            .max_unused_warm_slots(limits.pool_instances.min(64));
        // Reset a slot's memory by rewriting the pages the call touched
        // (found with the PAGEMAP_SCAN ioctl, Linux 6.7+) instead of
        // unmapping them: every instance still starts from the pristine
        // image, without the page faults and TLB shootdowns that made up
        // most of the per-call cost (25 µs -> 8 µs, BENCHMARKS.md).
        pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
            .pagemap_scan(wasmtime::Enabled::Auto);

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .wasm_wide_arithmetic(limits.wide_arithmetic)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .max_wasm_stack(1 << 20)
            .parallel_compilation(true);
        // For plugin authors profiling their code (PLUGINS.md, "Where a
        // plugin spends its time"): perf then names the compiled functions.
        if std::env::var_os("SIGIL_PLUGIN_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(format!("{e:#}")))?;

        let linker = super::imports::linker(
            &engine,
            &[
                super::bindings::TYPES_IMPORT,
                super::bindings::v0_1::TYPES_IMPORT,
            ],
        )
        .map_err(|e| PluginError::Engine(format!("{e:#}")))?;

        let tick_ms = EPOCH_TICK.as_millis().max(1);
        let deadline_ticks = u64::try_from(limits.deadline.as_millis().div_ceil(tick_ms))
            .unwrap_or(u64::MAX)
            .max(1);
        spawn_epoch_ticker(&engine);

        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                limits,
                deadline_ticks,
                compiled: Mutex::new(VecDeque::with_capacity(COMPILED_CACHE_ENTRIES)),
            }),
        })
    }

    /// The process-wide engine for `limits`, created on first use: every
    /// application in one process (several hosts in a test) shares it and
    /// its compiled components.
    pub fn shared(limits: SandboxLimits) -> Result<Self, PluginError> {
        static ENGINES: std::sync::OnceLock<Mutex<Vec<PluginEngine>>> = std::sync::OnceLock::new();
        let engines = ENGINES.get_or_init(|| Mutex::new(Vec::new()));
        let mut engines = engines
            .lock()
            .map_err(|_| PluginError::Engine("engine registry poisoned".into()))?;
        if let Some(engine) = engines.iter().find(|e| e.inner.limits == limits) {
            return Ok(engine.clone());
        }
        let engine = PluginEngine::new(limits)?;
        engines.push(engine.clone());
        Ok(engine)
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The linker that provides the allow-listed imports.
    pub fn linker(&self) -> &Linker<SandboxState> {
        &self.inner.linker
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &SandboxLimits {
        &self.inner.limits
    }

    /// Compile a component (or take it from the cache). CPU-heavy: call it
    /// off the async runtime's threads.
    pub fn compile(&self, bytes: &[u8]) -> Result<Component, PluginError> {
        check_header(bytes)?;
        let key: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(component) = self.cached(&key) {
            return Ok(component);
        }
        let component = Component::new(&self.inner.engine, bytes)
            .map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        if let Ok(mut cache) = self.inner.compiled.lock() {
            cache.retain(|(k, _)| k != &key);
            cache.push_front((key, component.clone()));
            cache.truncate(COMPILED_CACHE_ENTRIES);
        }
        Ok(component)
    }

    /// The cached component for `key`, moved to the front.
    fn cached(&self, key: &[u8; 32]) -> Option<Component> {
        let mut cache = self.inner.compiled.lock().ok()?;
        let at = cache.iter().position(|(k, _)| k == key)?;
        let entry = cache.remove(at)?;
        let component = entry.1.clone();
        cache.push_front(entry);
        Some(component)
    }

    /// How many compiled components the cache holds.
    pub fn cached_components(&self) -> usize {
        self.inner.compiled.lock().map_or(0, |cache| cache.len())
    }

    /// A fresh store with the sandbox's limits and a deadline armed for
    /// `items` verifications (a batch gets the per-call deadline per item),
    /// or until `until` if that comes first (admission's overall budget).
    pub fn new_store(&self, items: usize, until: Option<Instant>) -> Store<SandboxState> {
        let mut store = Store::new(
            &self.inner.engine,
            SandboxState::new(self.inner.limits.memory_bytes),
        );
        store.limiter(|state| state.limiter());
        let items = u64::try_from(items.max(1)).unwrap_or(u64::MAX);
        let mut ticks = self.inner.deadline_ticks.saturating_mul(items);
        if let Some(until) = until {
            let left = until.saturating_duration_since(Instant::now());
            let tick_ms = EPOCH_TICK.as_millis().max(1);
            let left = u64::try_from(left.as_millis().div_ceil(tick_ms)).unwrap_or(u64::MAX);
            ticks = ticks.min(left.max(1));
        }
        store.set_epoch_deadline(ticks);
        store
    }

    /// Translate a failed call into a [`PluginError`], using what the store
    /// saw (memory cap, stderr) to say what happened.
    pub fn classify(&self, error: wasmtime::Error, store: &Store<SandboxState>) -> PluginError {
        let state = store.data();
        if state.memory_cap_exceeded() {
            return PluginError::MemoryExhausted(self.inner.limits.memory_bytes >> 20);
        }
        if let Some(call) = error.downcast_ref::<super::imports::ForbiddenCall>() {
            return PluginError::ForbiddenCall(call.to_string());
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => PluginError::Timeout(
                u64::try_from(self.inner.limits.deadline.as_millis()).unwrap_or(u64::MAX),
            ),
            Some(trap) => {
                let stderr = state.stderr();
                if stderr.is_empty() {
                    PluginError::Trap(trap.to_string())
                } else {
                    PluginError::Trap(format!("{trap}; plugin stderr: {stderr}"))
                }
            }
            None => PluginError::Engine(format!("{error:#}")),
        }
    }
}

/// Advance the engine's epoch every [`EPOCH_TICK`] for as long as the
/// engine lives; a store whose deadline passes traps with `Interrupt`.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("sigil-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the epoch ticker; plugin deadlines will not fire");
    }
}

/// WebAssembly binaries start with `\0asm` and a version: 1 for a core
/// module, `0x0d 0x00 0x01 0x00` (layer 1) for a component.
fn check_header(bytes: &[u8]) -> Result<(), PluginError> {
    match bytes.get(..8) {
        Some([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) => Err(PluginError::CoreModule),
        Some([0x00, 0x61, 0x73, 0x6d, _, _, 0x01, 0x00]) => Ok(()),
        _ => Err(PluginError::NotWasm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service's defaults are in `config`, which this module does not
    /// import; these tests need only some working limits.
    fn limits() -> SandboxLimits {
        SandboxLimits {
            deadline: Duration::from_millis(100),
            memory_bytes: 64 << 20,
            pool_instances: 16,
            wide_arithmetic: true,
        }
    }

    /// A component whose core module multiplies with `i64.mul_wide_u`.
    fn wide_component() -> Vec<u8> {
        wat::parse_str(
            r#"(component
                 (core module
                   (func (export "mul") (param i64 i64) (result i64 i64)
                     local.get 0
                     local.get 1
                     i64.mul_wide_u)))"#,
        )
        .expect("valid text")
    }

    /// Every call gets a pristine instance: what one call writes to linear
    /// memory (on several pages, over an initialised data segment) is gone
    /// for the next, however the pool resets its slots.
    #[test]
    fn no_state_survives_from_one_instance_to_the_next() {
        let engine = PluginEngine::new(limits()).expect("engine");
        let component = engine
            .compile(
                &wat::parse_str(
                    r#"(component
                     (core module $m
                       (memory 4)
                       (data (i32.const 64) "\05\00\00\00")
                       (func (export "bump") (result i32)
                         (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 1)))
                         (i32.store (i32.const 70000) (i32.add (i32.load (i32.const 70000)) (i32.const 1)))
                         (i32.store (i32.const 200000) (i32.add (i32.load (i32.const 200000)) (i32.const 1)))
                         (i32.add (i32.load (i32.const 64))
                           (i32.add (i32.load (i32.const 70000)) (i32.load (i32.const 200000))))))
                     (core instance $i (instantiate $m))
                     (func (export "bump") (result u32) (canon lift (core func $i "bump"))))"#,
                )
                .expect("valid text"),
            )
            .expect("compiles");
        let linker = Linker::<SandboxState>::new(engine.engine());
        for call in 0..50 {
            let mut store = engine.new_store(1, None);
            let instance = linker
                .instantiate(&mut store, &component)
                .expect("instantiates");
            let bump = instance
                .get_typed_func::<(), (u32,)>(&mut store, "bump")
                .expect("export");
            // 6 at 64 (5 from the data segment, plus one) and 1 on each
            // other page: the same on every call.
            assert_eq!(
                bump.call(&mut store, ()).expect("call"),
                (8,),
                "call {call}"
            );
        }
    }

    /// A stream of distinct components cannot grow the cache past its
    /// bound, and a recently used component stays in it.
    #[test]
    fn the_compiled_component_cache_is_bounded() {
        let engine = PluginEngine::new(limits()).expect("engine");
        let component = |n: usize| {
            wat::parse_str(format!(
                r#"(component (core module (func (export "f") (result i32) i32.const {n})))"#
            ))
            .expect("valid text")
        };
        let kept = component(0);
        engine.compile(&kept).expect("compiles");
        for n in 1..COMPILED_CACHE_ENTRIES * 2 {
            engine.compile(&component(n)).expect("compiles");
            // Used again all along: never the least recently used.
            engine.compile(&kept).expect("compiles");
        }
        assert_eq!(engine.cached_components(), COMPILED_CACHE_ENTRIES);
        let key: [u8; 32] = Sha256::digest(&kept).into();
        assert!(engine.cached(&key).is_some(), "the recently used one stays");
        let first: [u8; 32] = Sha256::digest(component(1)).into();
        assert!(engine.cached(&first).is_none(), "the oldest went");
    }

    #[test]
    fn wide_arithmetic_is_accepted_only_when_configured() {
        let on = PluginEngine::new(limits()).expect("engine");
        on.compile(&wide_component())
            .expect("wide arithmetic compiles when enabled");

        let off = PluginEngine::new(SandboxLimits {
            wide_arithmetic: false,
            ..limits()
        })
        .expect("engine");
        match off.compile(&wide_component()) {
            Err(PluginError::Compile(message)) => assert!(
                message.contains("wide arithmetic"),
                "the refusal names the missing feature: {message}"
            ),
            other => panic!("expected a compile error, got {:?}", other.map(|_| ())),
        }
    }
}
