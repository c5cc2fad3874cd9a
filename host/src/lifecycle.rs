//! The life of a plugin in a running deployment: admission of an uploaded
//! component, activation (one active version per plugin, swapped in
//! atomically), disabling, rollback (activating an older version), and
//! propagation to every host through PostgreSQL and `system:events`.
//!
//! PostgreSQL's `plugins` table is the source of truth. Every change runs
//! under one lock per host and ends with the registry matching the table's
//! active set; other hosts are told on `system:events` and reconcile their
//! registry with the table (also after a lost subscription and every 30 s,
//! since pub/sub delivery is at most once). Components found in
//! `SIGIL_PLUGIN_DIR` at start are recorded in the table.
//!
//! This is the application service above the plugin engine
//! (`crate::plugins`), which knows nothing of PostgreSQL, Redis or other
//! hosts. [`Lifecycle`]'s methods are the API; the functions below them
//! do the work, each with the service as `state`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::cache::entities::Caches;
use crate::cache::events::{Events, Invalidation, SystemEvent};
use crate::plugins::signing::{SigningError, TrustedPublishers, VerifiedSignature};
use crate::plugins::{LoadedPlugin, PluginEngine, PluginError, PluginRegistry, conformance};
use crate::store::plugins::{NewPlugin, PluginRow, PluginStatus};
use crate::store::{Store, StoreError};

/// Hot-loading of plugins on this host: what it changes (the store, the
/// registry, the caches, the other hosts) and the lock that serialises
/// every change.
pub struct Lifecycle {
    store: Store,
    plugin_engine: PluginEngine,
    plugins: Arc<PluginRegistry>,
    caches: Arc<Caches>,
    events: Events,
    /// How long compiling and self-testing an uploaded component may take.
    admission_timeout: Duration,
    /// Admission slots: uploads compiled and self-tested at once.
    admissions: Arc<Semaphore>,
    /// Serialises uploads, activations and reconciliations on this host.
    plugin_changes: Mutex<()>,
    /// Publishers whose signatures admit an upload.
    publishers: TrustedPublishers,
    /// Refuse uploads without a trusted signature.
    require_signature: bool,
}

/// What a refused upload is told to wait before trying again when every
/// admission slot is taken (an admission takes a few seconds).
pub const ADMISSION_RETRY_AFTER_SECS: u64 = 5;

impl Lifecycle {
    /// The service over these parts.
    pub fn new(
        store: Store,
        plugin_engine: PluginEngine,
        plugins: Arc<PluginRegistry>,
        caches: Arc<Caches>,
        events: Events,
        admission_timeout: Duration,
        admission_concurrency: usize,
    ) -> Self {
        Self {
            store,
            plugin_engine,
            plugins,
            caches,
            events,
            admission_timeout,
            admissions: Arc::new(Semaphore::new(admission_concurrency.max(1))),
            plugin_changes: Mutex::new(()),
            publishers: TrustedPublishers::default(),
            require_signature: false,
        }
    }

    /// Admit uploads signed by `publishers`; with `require`, only those.
    pub fn with_signatures(mut self, publishers: TrustedPublishers, require: bool) -> Self {
        if require && publishers.is_empty() {
            tracing::warn!(
                "plugins.require_signature is on and plugins.trusted_publishers is empty: every upload will be refused"
            );
        }
        self.publishers = publishers;
        self.require_signature = require;
        self
    }

    /// Admit an uploaded component, store it and activate it.
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        uploader: Option<Uuid>,
    ) -> Result<PluginRow, LifecycleError> {
        upload(self, bytes, uploader, None).await
    }

    /// [`Lifecycle::upload`] with a detached signature (raw or base64),
    /// which must be a trusted publisher's over `bytes`. Without one, the
    /// upload is refused while `plugins.require_signature` is on.
    pub async fn upload_signed(
        &self,
        bytes: Vec<u8>,
        uploader: Option<Uuid>,
        signature: Option<&[u8]>,
    ) -> Result<PluginRow, LifecycleError> {
        upload(self, bytes, uploader, signature).await
    }

    /// Activate a stored version (rollback is activating an older one).
    pub async fn activate(&self, id: Uuid) -> Result<PluginRow, LifecycleError> {
        activate(self, id).await
    }

    /// Disable a version; if it is serving, its routes stop being served.
    pub async fn disable(&self, id: Uuid) -> Result<PluginRow, LifecycleError> {
        disable(self, id).await
    }

    /// At start: record the plugin directory's components, then load the
    /// active set from PostgreSQL. A directory component becomes the
    /// active version of its plugin only when no version of it is active
    /// yet.
    pub async fn load_at_start(&self, from_dir: Vec<LoadedPlugin>) -> Result<(), StoreError> {
        load_at_start(self, from_dir).await
    }

    /// Make this host's registry match the active set in PostgreSQL (after
    /// another host's change, a lost subscription, or periodically).
    pub async fn reconcile(&self) {
        reconcile(self).await;
    }

    /// Development: watch the plugin directory; a component dropped into
    /// it (or changed) goes through the same admission as an upload.
    pub fn watch_dir(self: Arc<Self>, dir: std::path::PathBuf) {
        watch_dir(self, dir);
    }
}

/// Why a plugin operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The component failed a check of admission.
    #[error("{detail}")]
    Refused {
        /// Stable code naming the check.
        code: &'static str,
        /// What failed.
        detail: String,
    },
    /// It conflicts with what is stored or active.
    #[error("{detail}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What conflicts.
        detail: String,
    },
    /// Every admission slot is taken; try again after `retry_after_secs`.
    #[error("{detail}")]
    Busy {
        /// What to tell the uploader.
        detail: String,
        /// Seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// No such plugin version.
    #[error("no such plugin")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LifecycleError {
    fn refused(error: PluginError) -> Self {
        let code = match &error {
            PluginError::Timeout(_)
            | PluginError::Trap(_)
            | PluginError::MemoryExhausted(_)
            | PluginError::ForbiddenCall(_) => "describe_failed",
            PluginError::ContractViolation(_) => "invalid_descriptor",
            other => other.code(),
        };
        LifecycleError::Refused {
            code,
            detail: error.to_string(),
        }
    }
}

/// Hex SHA-256 of a component.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Take an admission slot, or say when to come back.
fn admission_slot(state: &Lifecycle) -> Result<OwnedSemaphorePermit, LifecycleError> {
    state
        .admissions
        .clone()
        .try_acquire_owned()
        .map_err(|_| LifecycleError::Busy {
            detail:
                "every admission slot of this host is busy with other uploads; try again shortly"
                    .into(),
            retry_after_secs: ADMISSION_RETRY_AFTER_SECS,
        })
}

/// Compile, check and describe a component off the async threads, within
/// the admission budget; with `self_test`, also run the known-answer
/// vectors. Every plugin call of the work ends by the budget's end (see
/// [`LoadedPlugin::load_until`]), so the work stops then, and `slot`, if
/// any, is held until it has.
async fn load(
    state: &Lifecycle,
    bytes: Vec<u8>,
    self_test: bool,
    slot: Option<OwnedSemaphorePermit>,
) -> Result<LoadedPlugin, LifecycleError> {
    let engine = state.plugin_engine.clone();
    let budget = state.admission_timeout;
    let until = Instant::now() + budget;
    let timed_out = move || LifecycleError::Refused {
        code: "admission_timeout",
        detail: format!("compiling and testing the component took longer than {budget:?}"),
    };
    let catalogue = match self_test {
        true => Some(admission_catalogue(state).await?),
        false => None,
    };
    let work = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let plugin = LoadedPlugin::load_until(&engine, &bytes, until).map_err(|error| {
            if Instant::now() >= until {
                timed_out()
            } else {
                LifecycleError::refused(error)
            }
        })?;
        if let Some(catalogue) = catalogue {
            let admitted = conformance::admission(&plugin, &catalogue);
            if Instant::now() >= until {
                return Err(timed_out());
            }
            let admitted = admitted.map_err(|refusal| LifecycleError::Refused {
                code: refusal.code(),
                detail: refusal.to_string(),
            })?;
            tracing::info!(plugin = %plugin.label(), checks = admitted.checks, complete = admitted.complete, took_ms = admitted.took.as_millis(), "admission self-tests passed");
        }
        Ok(plugin.admitted())
    });
    // The work stops by itself at the deadline, except in compilation,
    // which cannot be interrupted (it is bounded by the upload size cap):
    // answer at the deadline regardless.
    match tokio::time::timeout(budget, work).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(join)) => Err(LifecycleError::Refused {
            code: "admission_failed",
            detail: join.to_string(),
        }),
        Err(_) => Err(timed_out()),
    }
}

/// What admission checks a plugin against: the catalogue's policies and
/// the routes served now.
async fn admission_catalogue(state: &Lifecycle) -> Result<conformance::Catalogue, StoreError> {
    let curves = state.store.curves().await?;
    let algorithms = state.store.algorithms().await?;
    Ok(conformance::Catalogue {
        curves: curves.into_iter().map(|c| (c.name, c.policy.0)).collect(),
        algorithms: algorithms
            .into_iter()
            .map(|a| (a.name, a.policy.0))
            .collect(),
        served: state
            .plugins
            .snapshot()
            .plugins()
            .iter()
            .flat_map(|p| p.descriptor().routes())
            .collect(),
    })
}

/// Refuse a plugin that would take a route another plugin (by name) serves.
fn check_routes(state: &Lifecycle, plugin: &LoadedPlugin) -> Result<(), LifecycleError> {
    for route in plugin.descriptor().routes() {
        if let Some(current) = state.plugins.snapshot().get(&route)
            && current.descriptor().name != plugin.descriptor().name
        {
            return Err(LifecycleError::Conflict {
                code: "route_conflict",
                detail: format!(
                    "{route} is served by plugin {}; disable it before activating {}",
                    current.label(),
                    plugin.label()
                ),
            });
        }
    }
    Ok(())
}

/// The trusted signature over an upload, if it carries one; refuses a
/// signature that does not verify, and a missing one when required.
fn check_signature(
    state: &Lifecycle,
    bytes: &[u8],
    signature: Option<&[u8]>,
) -> Result<Option<VerifiedSignature>, LifecycleError> {
    let Some(signature) = signature else {
        return if state.require_signature {
            Err(LifecycleError::Refused {
                code: "signature_required",
                detail: "this service admits only plugins signed by a trusted publisher: send the detached signature in the Sigil-Plugin-Signature header".into(),
            })
        } else {
            Ok(None)
        };
    };
    state
        .publishers
        .verify(bytes, signature)
        .map(Some)
        .map_err(|error| LifecycleError::Refused {
            code: match error {
                SigningError::MalformedSignature => "malformed_plugin_signature",
                _ => "untrusted_signature",
            },
            detail: error.to_string(),
        })
}

/// Refuse a component that is already stored.
async fn refuse_stored(state: &Lifecycle, sha256: &str) -> Result<(), LifecycleError> {
    match state.store.plugin_by_sha256(sha256).await? {
        Some(existing) => Err(LifecycleError::Conflict {
            code: "plugin_exists",
            detail: format!(
                "this component is already stored as {} {} ({})",
                existing.name, existing.version, existing.id
            ),
        }),
        None => Ok(()),
    }
}

async fn upload(
    state: &Lifecycle,
    bytes: Vec<u8>,
    uploader: Option<Uuid>,
    signature: Option<&[u8]>,
) -> Result<PluginRow, LifecycleError> {
    let signed = check_signature(state, &bytes, signature)?;
    let sha256 = sha256_hex(&bytes);
    refuse_stored(state, &sha256).await?;
    // Admission runs in one of a bounded number of slots, outside the
    // lock: a slow upload holds up neither other uploads nor activations.
    let slot = admission_slot(state)?;
    let plugin = load(state, bytes.clone(), true, Some(slot)).await?;
    let _changing = state.plugin_changes.lock().await;
    refuse_stored(state, &sha256).await?;
    check_routes(state, &plugin)?;
    let descriptor = serde_json::to_value(plugin.descriptor()).unwrap_or_default();
    let row = state
        .store
        .insert_plugin(&NewPlugin {
            name: &plugin.descriptor().name,
            version: &plugin.descriptor().version,
            sha256: &sha256,
            artifact: &bytes,
            descriptor: &descriptor,
            uploaded_by: uploader,
            signed_by: signed
                .as_ref()
                .map(|s| (s.publisher.as_str(), s.signature_sha256.as_str())),
        })
        .await
        .map_err(|error| match error {
            StoreError::Conflict { .. } => LifecycleError::Conflict {
                code: "version_exists",
                detail: format!("{} is already stored with other bytes", plugin.label()),
            },
            other => other.into(),
        })?;
    activate_loaded(state, row.id, Arc::new(plugin)).await
}

async fn activate(state: &Lifecycle, id: Uuid) -> Result<PluginRow, LifecycleError> {
    let _changing = state.plugin_changes.lock().await;
    let row = state
        .store
        .plugin(id)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    let bytes = state
        .store
        .plugin_artifact(id)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    if sha256_hex(&bytes) != row.sha256 {
        return Err(LifecycleError::Refused {
            code: "artifact_corrupt",
            detail: "the stored component does not match its SHA-256".into(),
        });
    }
    let plugin = load(state, bytes, false, None).await?;
    check_routes(state, &plugin)?;
    // A stored version must still agree with the catalogue's policy.
    conformance::agrees(&plugin, &admission_catalogue(state).await?).map_err(|refusal| {
        LifecycleError::Refused {
            code: refusal.code(),
            detail: refusal.to_string(),
        }
    })?;
    activate_loaded(state, id, Arc::new(plugin)).await
}

async fn activate_loaded(
    state: &Lifecycle,
    id: Uuid,
    plugin: Arc<LoadedPlugin>,
) -> Result<PluginRow, LifecycleError> {
    state.store.catalogue_plugin(plugin.descriptor()).await?;
    let row = state
        .store
        .activate_plugin(id)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    let displaced = state.plugins.install(plugin.clone());
    state.caches.catalogue_changed().await;
    state
        .events
        .system(&SystemEvent::PluginActivated {
            id,
            sha256: row.sha256.clone(),
            name: row.name.clone(),
            version: row.version.clone(),
        })
        .await;
    tracing::info!(
        plugin = %plugin.label(),
        displaced = ?displaced.iter().map(|p| p.label()).collect::<Vec<_>>(),
        "plugin activated"
    );
    Ok(row)
}

async fn disable(state: &Lifecycle, id: Uuid) -> Result<PluginRow, LifecycleError> {
    let _changing = state.plugin_changes.lock().await;
    let row = state
        .store
        .disable_plugin(id)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    state.plugins.remove_build(&row.sha256);
    state.caches.catalogue_changed().await;
    state
        .events
        .system(&SystemEvent::PluginDisabled {
            id,
            sha256: row.sha256.clone(),
        })
        .await;
    Ok(row)
}

async fn load_at_start(state: &Lifecycle, from_dir: Vec<LoadedPlugin>) -> Result<(), StoreError> {
    let mut loaded: Vec<Arc<LoadedPlugin>> = Vec::new();
    for plugin in from_dir {
        let descriptor = serde_json::to_value(plugin.descriptor()).unwrap_or_default();
        let existing = match state.store.plugin_by_sha256(plugin.sha256()).await? {
            Some(row) => Some(row),
            None => {
                let bytes = plugin.bytes().to_vec();
                match state
                    .store
                    .insert_plugin(&NewPlugin {
                        name: &plugin.descriptor().name,
                        version: &plugin.descriptor().version,
                        sha256: plugin.sha256(),
                        artifact: &bytes,
                        descriptor: &descriptor,
                        uploaded_by: None,
                        signed_by: None,
                    })
                    .await
                {
                    Ok(row) => Some(row),
                    // Another host recorded it at the same moment, or this
                    // version exists with other bytes: leave it.
                    Err(StoreError::Conflict { constraint }) => {
                        tracing::warn!(plugin = %plugin.label(), %constraint, "plugin directory component not recorded");
                        state.store.plugin_by_sha256(plugin.sha256()).await?
                    }
                    Err(other) => return Err(other),
                }
            }
        };
        if let Some(row) = existing {
            let name_active = state
                .store
                .plugins()
                .await?
                .iter()
                .any(|p| p.name == row.name && p.status == PluginStatus::Active);
            if !name_active && row.status != PluginStatus::Disabled {
                state.store.activate_plugin(row.id).await?;
            }
        }
        loaded.push(Arc::new(plugin));
    }
    let _changing = state.plugin_changes.lock().await;
    reconcile_locked(state, &loaded)
        .await
        .map_err(|error| match error {
            LifecycleError::Store(e) => e,
            other => StoreError::Unavailable(other.to_string()),
        })?;
    Ok(())
}

async fn reconcile(state: &Lifecycle) {
    let _changing = state.plugin_changes.lock().await;
    if let Err(error) = reconcile_locked(state, &[]).await {
        tracing::error!(%error, "could not reconcile the plugins with PostgreSQL");
    }
}

/// [`reconcile`] with the lock held; `preloaded` are plugins already
/// compiled (the plugin directory's at start).
async fn reconcile_locked(
    state: &Lifecycle,
    preloaded: &[Arc<LoadedPlugin>],
) -> Result<(), LifecycleError> {
    let active: Vec<PluginRow> = state
        .store
        .plugins()
        .await?
        .into_iter()
        .filter(|p| p.status == PluginStatus::Active)
        .collect();
    let serving = state.plugins.snapshot().plugins();
    let mut changed = false;
    for plugin in &serving {
        if !active.iter().any(|row| row.sha256 == plugin.sha256()) {
            state.plugins.remove_build(plugin.sha256());
            tracing::info!(plugin = %plugin.label(), "plugin no longer active; stopped");
            changed = true;
        }
    }
    for row in &active {
        if serving.iter().any(|p| p.sha256() == row.sha256) {
            continue;
        }
        let plugin = match preloaded.iter().find(|p| p.sha256() == row.sha256) {
            Some(plugin) => plugin.clone(),
            None => {
                let bytes = state
                    .store
                    .plugin_artifact(row.id)
                    .await?
                    .ok_or(LifecycleError::NotFound)?;
                if sha256_hex(&bytes) != row.sha256 {
                    tracing::error!(plugin = %row.name, version = %row.version, "stored component does not match its SHA-256; not loaded");
                    continue;
                }
                match load(state, bytes, false, None).await {
                    Ok(plugin) => Arc::new(plugin),
                    Err(error) => {
                        tracing::error!(plugin = %row.name, version = %row.version, %error, "active plugin failed to load");
                        continue;
                    }
                }
            }
        };
        state.store.catalogue_plugin(plugin.descriptor()).await?;
        state.plugins.install(plugin.clone());
        tracing::info!(plugin = %plugin.label(), routes = ?plugin.descriptor().routes().iter().map(ToString::to_string).collect::<Vec<_>>(), "plugin active");
        changed = true;
    }
    if changed {
        state.caches.invalidate_local(&Invalidation::Catalogue);
    }
    Ok(())
}

fn watch_dir(state: Arc<Lifecycle>, dir: std::path::PathBuf) {
    tokio::spawn(async move {
        let mut seen = scan(&dir).await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = scan(&dir).await;
            for (path, stamp) in &now {
                if seen.get(path) == Some(stamp) {
                    continue;
                }
                match tokio::fs::read(path).await {
                    Ok(bytes) => match upload(&state, bytes, None, None).await {
                        Ok(row) => {
                            tracing::info!(path = %path.display(), plugin = %row.name, version = %row.version, "plugin from the watched directory admitted and activated")
                        }
                        Err(error) => {
                            tracing::warn!(path = %path.display(), %error, "plugin from the watched directory refused")
                        }
                    },
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "reading a plugin file")
                    }
                }
            }
            seen = now;
        }
    });
}

/// `*.wasm` files with their modification time and size.
async fn scan(
    dir: &std::path::Path,
) -> std::collections::HashMap<std::path::PathBuf, (std::time::SystemTime, u64)> {
    let mut found = std::collections::HashMap::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return found;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "wasm")
            && let Ok(meta) = entry.metadata().await
        {
            found.insert(
                path,
                (meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len()),
            );
        }
    }
    found
}
