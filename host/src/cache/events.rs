//! Pub/sub between hosts: `cache:invalidate` (drop what changed),
//! `system:events` (plugins activated...), `audit:events` (also appended to
//! the `audit:stream` Redis Stream). Delivery is at most once, so a
//! subscriber that loses its connection flushes its local caches when it is
//! back, before it trusts them again.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Redis;

/// The channels, without the deployment's prefix.
pub const INVALIDATE: &str = "cache:invalidate";
/// System-wide notifications.
pub const SYSTEM: &str = "system:events";
/// Security audit events.
pub const AUDIT: &str = "audit:events";
/// The audit stream (capped).
pub const AUDIT_STREAM: &str = "audit:stream";

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Invalidation {
    /// A user (status, roles, e-mail...).
    User(Uuid),
    /// A public key (revoked, renamed, deleted).
    Key(Uuid),
    /// Algorithms or curves (a curve disabled, a plugin added).
    Catalogue,
    /// Everything.
    All,
}

/// A change other hosts must act on, published on `system:events`. The
/// wire format is the JSON object older builds wrote by hand
/// (`{"type": "plugin_activated", "id": ..., ...}`), so hosts of either
/// build understand each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemEvent {
    /// A plugin version became the active one of its plugin.
    PluginActivated {
        /// The version's row id.
        id: Uuid,
        /// The component's SHA-256 (hex).
        sha256: String,
        /// The plugin's name.
        name: String,
        /// The version.
        version: String,
    },
    /// A plugin version stopped serving.
    PluginDisabled {
        /// The version's row id.
        id: Uuid,
        /// The component's SHA-256 (hex).
        sha256: String,
    },
    /// A type this build does not know (published by a newer host).
    #[serde(other)]
    Unknown,
}

impl SystemEvent {
    /// Whether the active plugin set changed, so the registry must be
    /// reconciled with PostgreSQL.
    pub fn changes_plugins(&self) -> bool {
        matches!(
            self,
            SystemEvent::PluginActivated { .. } | SystemEvent::PluginDisabled { .. }
        )
    }
}

/// A message as published.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Envelope<T> {
    /// The publishing host.
    origin: Uuid,
    /// The content.
    event: T,
}

/// Receives what other hosts publish.
pub trait EventSink: Send + Sync + 'static {
    /// Drop local copies of what changed.
    fn invalidate(&self, what: &Invalidation);
    /// A system event from the host `origin` (possibly this one).
    fn system_event(&self, origin: Uuid, event: SystemEvent);
    /// The subscription was (re)established: messages may have been missed.
    fn resubscribed(&self);
    /// The subscription was lost: local copies may go stale from now on.
    fn unsubscribed(&self);
}

/// The publishing side.
#[derive(Clone, Debug)]
pub struct Events {
    redis: Redis,
    host: Uuid,
}

impl Events {
    /// Publisher for this host.
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            host: Uuid::new_v4(),
        }
    }

    /// This host's id in envelopes.
    pub fn host(&self) -> Uuid {
        self.host
    }

    async fn publish<T: Serialize>(&self, channel: &str, event: T) -> bool {
        let Ok(payload) = serde_json::to_string(&Envelope {
            origin: self.host,
            event,
        }) else {
            return false;
        };
        let channel = self.redis.key(channel);
        self.redis
            .run(|mut conn| async move {
                redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(payload)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await
            .is_ok()
    }

    /// Tell every host to drop what changed.
    pub async fn invalidate(&self, what: Invalidation) -> bool {
        self.publish(INVALIDATE, what).await
    }

    /// A system-wide notification.
    pub async fn system(&self, event: &SystemEvent) -> bool {
        self.publish(SYSTEM, event).await
    }

    /// Publish an audit event and append it to the audit stream.
    pub async fn audit(&self, event: &serde_json::Value) {
        let stream = self.redis.key(AUDIT_STREAM);
        let payload = event.to_string();
        let _ = self
            .redis
            .run(|mut conn| async move {
                redis::cmd("XADD")
                    .arg(&stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(100_000)
                    .arg("*")
                    .arg("event")
                    .arg(payload)
                    .query_async::<String>(&mut conn)
                    .await
            })
            .await;
        self.publish(AUDIT, event).await;
    }
}

/// Subscribe to invalidations and system events for as long as the process
/// runs, reconnecting by itself.
pub fn spawn_subscriber(redis: Redis, sink: Arc<dyn EventSink>) {
    let Some(topology) = redis.topology().cloned() else {
        return;
    };
    tokio::spawn(async move {
        let invalidate = redis.key(INVALIDATE);
        let system = redis.key(SYSTEM);
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            let pubsub = match topology.pubsub_client(attempt).await {
                Ok(client) => client.get_async_pubsub().await,
                Err(error) => Err(error),
            };
            attempt = attempt.wrapping_add(1);
            match pubsub {
                Ok(mut pubsub) => {
                    if pubsub.subscribe(&[&invalidate, &system]).await.is_ok() {
                        delay = Duration::from_millis(100);
                        sink.resubscribed();
                        tracing::info!("subscribed to cache invalidations and system events");
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            let channel = message.get_channel_name().to_owned();
                            let payload = message.get_payload_bytes();
                            if channel == invalidate {
                                match serde_json::from_slice::<Envelope<Invalidation>>(payload) {
                                    Ok(envelope) => sink.invalidate(&envelope.event),
                                    Err(error) => tracing::warn!(%error, "unreadable invalidation"),
                                }
                            } else if channel == system {
                                match serde_json::from_slice::<Envelope<SystemEvent>>(payload) {
                                    Ok(envelope) => {
                                        sink.system_event(envelope.origin, envelope.event)
                                    }
                                    Err(error) => tracing::warn!(%error, "unreadable system event"),
                                }
                            }
                        }
                        sink.unsubscribed();
                        tracing::warn!("pub/sub connection lost; reconnecting");
                    }
                }
                Err(error) => tracing::debug!(%error, "pub/sub unavailable"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn system_events_keep_the_wire_format_older_hosts_write() {
        let id = Uuid::new_v4();
        let activated = SystemEvent::PluginActivated {
            id,
            sha256: "ab".into(),
            name: "ed25519".into(),
            version: "0.1.0".into(),
        };
        let older = json!({"type": "plugin_activated", "id": id, "sha256": "ab", "name": "ed25519", "version": "0.1.0"});
        assert_eq!(serde_json::to_value(&activated).expect("json"), older);
        assert_eq!(
            serde_json::from_value::<SystemEvent>(older).expect("parse"),
            activated
        );
        let disabled = json!({"type": "plugin_disabled", "id": id, "sha256": "ab"});
        assert_eq!(
            serde_json::from_value::<SystemEvent>(disabled).expect("parse"),
            SystemEvent::PluginDisabled {
                id,
                sha256: "ab".into()
            }
        );
        let newer = json!({"type": "something_else", "extra": 1});
        let unknown = serde_json::from_value::<SystemEvent>(newer).expect("parse");
        assert_eq!(unknown, SystemEvent::Unknown);
        assert!(!unknown.changes_plugins() && activated.changes_plugins());
    }
}
