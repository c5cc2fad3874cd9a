//! A fixed pool of threads for plugin calls, one per core: plugin calls are
//! CPU-bound and synchronous, so they never run on the async runtime's
//! threads, and a batch spreads over every core.

use std::sync::Arc;

use super::error::PluginError;

/// Runs plugin calls on dedicated threads.
#[derive(Clone)]
pub struct PluginExecutor {
    pool: Arc<rayon::ThreadPool>,
}

impl PluginExecutor {
    /// A pool of `threads` workers (0 means one per available core).
    pub fn new(threads: usize) -> Result<Self, PluginError> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("sigil-plugin-{i}"))
            .panic_handler(|_| tracing::error!("a plugin worker panicked; the call is failed"))
            .build()
            .map_err(|e| PluginError::Engine(format!("starting plugin workers: {e}")))?;
        Ok(Self {
            pool: Arc::new(pool),
        })
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Run `job` on a worker and wait for it without blocking the runtime.
    pub async fn run<R, F>(&self, job: F) -> Result<R, PluginError>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            let _ = tx.send(job());
        });
        rx.await
            .map_err(|_| PluginError::Engine("the plugin worker stopped before answering".into()))
    }

    /// Run a plugin call on a worker: the worker's own failure and the
    /// call's sandbox failure come back as one [`PluginError`], leaving the
    /// plugin's answer (or refusal) inside.
    pub async fn call<R, F>(&self, job: F) -> Result<R, PluginError>
    where
        R: Send + 'static,
        F: FnOnce() -> Result<R, PluginError> + Send + 'static,
    {
        self.run(job).await?
    }
}
