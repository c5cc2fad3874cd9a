//! The application: its shared state and its life cycle.
//! `Application::build(config)` connects everything and binds the listener
//! (tests bind port 0); `run_until` serves until a shutdown signal, then
//! drains in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use uuid::Uuid;

use crate::auth::passwords::Passwords;
use crate::auth::revocation::Revocations;
use crate::auth::tokens::Tokens;
use crate::cache::Redis;
use crate::cache::entities::Caches;
use crate::cache::events::{self, EventSink, Events, Invalidation, SystemEvent};
use crate::cache::ratelimit::RateLimiter;
use crate::config::Config;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::plugins::{LoadedPlugin, PluginEngine, PluginExecutor, PluginRegistry, loader};
use crate::store::audit::Audit;
use crate::store::{Store, StoreError, migrations};
use crate::verify::Verifier;
use crate::verify::recorder::Recorder;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database is unreachable or not migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Redis settings are unusable.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// Token keys could not be loaded or created.
    #[error(transparent)]
    Tokens(#[from] crate::auth::tokens::TokenError),
    /// The plugin engine could not start.
    #[error(transparent)]
    Plugins(#[from] crate::plugins::PluginError),
    /// Password hashing could not be set up.
    #[error(transparent)]
    Passwords(#[from] crate::auth::passwords::HashError),
    /// The listener could not bind.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The Redis sealing key could not be read or opened.
    #[error(transparent)]
    SealKey(#[from] crate::auth::sealing::SecretError),
    /// `plugins.trusted_publishers` is unusable.
    #[error("plugins.trusted_publishers: {0}")]
    TrustedPublishers(#[from] crate::plugins::signing::SigningError),
    /// Reading the plugin directory failed.
    #[error("reading the plugin directory: {0}")]
    PluginDir(std::io::Error),
}

/// Shared state of every request handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<AppInner>,
}

/// What [`AppState`] holds.
pub struct AppInner {
    /// The configuration the service started with.
    pub config: Config,
    /// PostgreSQL.
    pub store: Store,
    /// Redis (possibly disabled or down; every use has a fallback).
    pub redis: Redis,
    /// Access-token signing and verification.
    pub tokens: Tokens,
    /// Password hashing.
    pub passwords: Passwords,
    /// Revoked tokens and sessions.
    pub revocations: Revocations,
    /// Sliding-window rate limits.
    pub rate_limiter: RateLimiter,
    /// The wasmtime engine for plugins.
    pub plugin_engine: PluginEngine,
    /// Which plugin serves which (algorithm, curve).
    pub plugins: Arc<PluginRegistry>,
    /// Threads plugin calls run on.
    pub executor: PluginExecutor,
    /// The verification pipeline (with its recorder and batch permits).
    pub verifier: Verifier,
    /// Cached users, keys, catalogue, results and recent verifications.
    pub caches: Arc<Caches>,
    /// Pub/sub publisher.
    pub events: Events,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Plugin uploads, activations and reconciliation with other hosts.
    pub lifecycle: Arc<Lifecycle>,
}

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.inner
    }
}

impl AppState {
    /// Record a security-relevant action in PostgreSQL, then publish it on
    /// `audit:events` and the audit stream. Never fails the request: a
    /// failure to audit is logged as an error.
    pub async fn audit(&self, event: Audit) {
        match self.store.audit(&event).await {
            Ok(stored) => {
                if let Ok(json) = serde_json::to_value(&stored) {
                    self.events.audit(&json).await;
                }
            }
            Err(error) => {
                tracing::error!(%error, action = event.action().as_str(), "could not write an audit event")
            }
        }
    }
}

impl AppState {
    /// Build every service from the configuration and the connections
    /// [`Application::build`] made.
    async fn assemble(
        config: Config,
        store: Store,
        redis: Redis,
        plugin_engine: PluginEngine,
    ) -> Result<Self, StartupError> {
        let tokens = Tokens::new(store.clone(), redis.clone(), config.auth.clone()).await?;
        let passwords = Passwords::new(config.auth.hashing_concurrency)?;
        let seal_key = crate::auth::sealing::cache_seal_key(&store, tokens.sealer()).await?;
        let revocations = Revocations::new(store.clone(), redis.clone(), &seal_key);
        let rate_limiter = RateLimiter::new(redis.clone());
        let executor = PluginExecutor::new(config.plugins.workers)?;
        let plugins = Arc::new(PluginRegistry::new());
        let metrics = Arc::new(Metrics::default());
        let (recorder, _writers) = Recorder::start(
            store.clone(),
            metrics.clone(),
            config.verify.record_writers,
            config.verify.record_batch_max,
            Duration::from_millis(config.verify.record_batch_linger_ms),
        );
        let events = Events::new(redis.clone());
        let result_redis = Redis::connect_result_cache(&config.redis, &redis)?;
        let caches = Arc::new(Caches::new(
            redis.clone(),
            result_redis,
            store.clone(),
            events.clone(),
            config.verify.result_cache_ttl_secs,
            seal_key,
        ));
        let lifecycle = Arc::new(
            Lifecycle::new(
                store.clone(),
                plugin_engine.clone(),
                plugins.clone(),
                caches.clone(),
                events.clone(),
                Duration::from_millis(config.plugins.admission_timeout_ms),
                config.plugins.admission_concurrency,
            )
            .with_signatures(
                config.plugins.trusted_publishers()?,
                config.plugins.require_signature,
            ),
        );
        let verifier = Verifier::new(
            caches.clone(),
            plugins.clone(),
            executor.clone(),
            recorder,
            metrics.clone(),
            config.verify.clone(),
            Duration::from_millis(config.http.request_timeout_ms),
        );
        Ok(AppState {
            inner: Arc::new(AppInner {
                config,
                store,
                redis,
                tokens,
                passwords,
                revocations,
                rate_limiter,
                plugin_engine,
                plugins,
                executor,
                verifier,
                caches,
                events,
                metrics,
                lifecycle,
            }),
        })
    }
}

impl EventSink for AppState {
    fn invalidate(&self, what: &Invalidation) {
        self.caches.invalidate_local(what);
    }

    fn system_event(&self, origin: Uuid, event: SystemEvent) {
        if origin == self.events.host() {
            return;
        }
        if event.changes_plugins() {
            let lifecycle = self.lifecycle.clone();
            tokio::spawn(async move { lifecycle.reconcile().await });
        }
    }

    fn resubscribed(&self) {
        self.caches.set_local_trust(true);
        let state = self.clone();
        tokio::spawn(async move {
            state.caches.retry_unwritten().await;
            state.lifecycle.reconcile().await;
        });
    }

    fn unsubscribed(&self) {
        self.caches.set_local_trust(false);
    }
}

/// A built application, listening but not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connect to PostgreSQL (which must be migrated) and Redis, load
    /// plugins and signing keys, and bind the listener.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let store = Store::connect(&config.database).await?;
        migrations::ensure_current(store.pool()).await?;
        let redis = Redis::connect(&config.redis)?;
        let plugin_engine = PluginEngine::shared(config.plugins.sandbox_limits())?;
        let from_dir = load_plugin_dir(&plugin_engine, config.plugins.dir.clone()).await?;
        let listener = bind(config.listen).await?;
        let state = AppState::assemble(config, store, redis, plugin_engine).await?;
        state.lifecycle.load_at_start(from_dir).await?;
        events::spawn_subscriber(state.redis.clone(), Arc::new(state.clone()));
        if state.config.plugins.watch_dir
            && let Some(dir) = state.config.plugins.dir.clone()
        {
            state.lifecycle.clone().watch_dir(dir);
        }
        // Plugins may have added algorithms or curves: no host may keep an
        // older catalogue.
        state.caches.catalogue_changed().await;
        spawn_maintenance(state.clone());
        Ok(Self { listener, state })
    }

    /// The bound address (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config.listen)
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` completes, then stop accepting and let
    /// in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = crate::http::router(self.state.clone());
        tracing::info!(addr = %self.local_addr(), "serving");
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        // Every answered request's records are committed already; write
        // what clients handed over but stopped waiting for.
        let left = self
            .state
            .verifier
            .recorder()
            .drain(Duration::from_secs(30))
            .await;
        if left > 0 {
            tracing::error!(left, "stopping with verification records unwritten");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Compile the components of the plugin directory, if one is configured;
/// a component that fails is logged and left out.
async fn load_plugin_dir(
    engine: &PluginEngine,
    dir: Option<std::path::PathBuf>,
) -> Result<Vec<LoadedPlugin>, StartupError> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let engine = engine.clone();
    let outcomes = tokio::task::spawn_blocking(move || loader::load_dir(&engine, &dir))
        .await
        .map_err(|e| StartupError::PluginDir(std::io::Error::other(e)))?
        .map_err(StartupError::PluginDir)?;
    let mut loaded = Vec::new();
    for outcome in outcomes {
        match outcome.result {
            Ok(plugin) => {
                tracing::info!(path = %outcome.path.display(), plugin = %plugin.label(), "plugin directory component loaded");
                loaded.push(plugin);
            }
            Err(error) => {
                tracing::error!(path = %outcome.path.display(), %error, code = error.code(), "plugin refused");
            }
        }
    }
    Ok(loaded)
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind { addr, source })
}

/// Background upkeep, each on its own task:
/// - load the revocation list into Redis now, and renew it every 5 min;
/// - write invalidations that could not reach Redis (every second);
/// - reconcile the plugins with PostgreSQL (every 30 s: pub/sub may lose
///   a message);
/// - rotate signing keys and purge expired token state (every 5 min);
/// - keep the history's daily partitions (`history.*` settings).
fn spawn_maintenance(state: AppState) {
    crate::store::history::spawn_maintenance(state.store.clone(), state.config.history.clone());
    let revocations = state.revocations.clone();
    tokio::spawn(async move { revocations.load_into_redis().await });
    // Invalidations that could not reach Redis are written as soon as it
    // answers again.
    let retry = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            retry.caches.retry_unwritten().await;
        }
    });
    // Pub/sub is at most once: reconcile the plugins with PostgreSQL anyway.
    let lifecycle = state.lifecycle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.tick().await;
        loop {
            tick.tick().await;
            lifecycle.reconcile().await;
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(error) = state.tokens.rotate_if_due().await {
                tracing::warn!(%error, "signing-key rotation failed; will retry");
            }
            match state.store.purge_expired_tokens().await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "purged expired token state"),
                Err(error) => tracing::warn!(%error, "purging expired token state failed"),
            }
            // Renew the blacklist (and its ready marker) well within its TTL.
            state.revocations.load_into_redis().await;
        }
    });
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}
