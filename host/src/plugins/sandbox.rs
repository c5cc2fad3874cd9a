//! What a plugin sees of the world: a WASI context with nothing in it, and
//! the memory cap.
//!
//! Components built for wasm32-wasip2 with the standard library import WASI
//! interfaces even when they never use them, so the host links the few
//! that std needs ([`super::imports`]) but grants nothing through them: no
//! preopened directories, no environment or arguments, stdin closed,
//! stdout discarded, stderr kept in a small buffer for diagnostics, clocks
//! frozen at zero and "randomness" from a fixed seed. (The network is not
//! even linked; TCP, UDP and name lookup are off here as well.) A plugin is
//! therefore a pure function of its inputs.

use std::time::Duration;

use rand::SeedableRng as _;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How many bytes of a plugin's stderr are kept (panic messages).
const STDERR_CAPACITY: usize = 4096;

/// Per-store state: the empty WASI context and the resource limiter.
pub struct SandboxState {
    wasi: WasiCtx,
    table: ResourceTable,
    stderr: MemoryOutputPipe,
    limits: MemoryCap,
}

impl SandboxState {
    /// A fresh sandbox whose linear memories may grow to `memory_bytes`.
    pub fn new(memory_bytes: usize) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(rand::rngs::StdRng::from_seed([0; 32]))
            .insecure_random(rand::rngs::StdRng::from_seed([0; 32]))
            .insecure_random_seed(0)
            .max_random_size(4096)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            stderr,
            limits: MemoryCap {
                limit: memory_bytes,
                total: 0,
                exceeded: false,
            },
        }
    }

    /// The limiter wasmtime consults before growing memories and tables.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }

    /// Whether the plugin tried to grow past its memory cap.
    pub fn memory_cap_exceeded(&self) -> bool {
        self.limits.exceeded
    }

    /// What the plugin wrote to stderr (a panic message, typically), lossy.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_owned()
    }
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Memory cap that traps (rather than letting `memory.grow` return -1) so a
/// plugin that runs out of memory fails loudly and is reported as such.
/// The cap covers the sum of every linear memory in the store: a component
/// holds several core instances, each of which may declare its own memory.
struct MemoryCap {
    limit: usize,
    /// Bytes of linear memory currently granted across the store.
    total: usize,
    exceeded: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if total > self.limit || maximum.is_some_and(|max| desired > max) {
            self.exceeded = true;
            wasmtime::bail!(
                "plugin memory cap of {} bytes exceeded (wanted {total} in all)",
                self.limit
            );
        }
        self.total = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A clock that always reads zero: plugins must not depend on time.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}
