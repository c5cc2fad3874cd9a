//! Which Redis the service talks to: one server, a Redis Cluster (seed
//! nodes; commands routed by hash slot), or a primary that Redis Sentinel
//! manages (its address asked of the sentinels, and asked again so that a
//! failover is followed).
//!
//! Every caller sees one [`Connection`]. What a cluster changes for them:
//! a script or a pipeline must touch keys of one hash slot. Keys that take
//! part in one together share a hash tag (`{…}`, see [`super::Redis::key`]
//! callers); multi-key commands such as `MGET` and `DEL` are split by slot
//! by the cluster client itself.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value};

use crate::config::{RedisConfig, redis_urls as urls};

/// The shape of the Redis deployment, from `redis.url`, `redis.cluster`
/// and `redis.sentinel_master`.
#[derive(Debug, Clone)]
pub enum Topology {
    /// One server.
    Single(redis::Client),
    /// A Redis Cluster, reached through any of its seed nodes.
    Cluster {
        /// The seed nodes, also used (in turn) for pub/sub.
        seeds: Vec<redis::Client>,
    },
    /// A primary found through Redis Sentinel.
    Sentinel {
        /// The sentinels' URLs.
        sentinels: Vec<String>,
        /// The monitored primary's name (`sentinel monitor <name> …`).
        master: String,
    },
}

impl Topology {
    /// The topology `url` names under `config`'s mode settings.
    pub fn of(url: &str, config: &RedisConfig) -> redis::RedisResult<Self> {
        let list = urls(url);
        if config.cluster {
            let seeds = list
                .iter()
                .map(|u| redis::Client::open(*u))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Self::Cluster { seeds });
        }
        if !config.sentinel_master.is_empty() {
            for u in &list {
                (*u).into_connection_info()?;
            }
            return Ok(Self::Sentinel {
                sentinels: list.iter().map(|u| (*u).to_owned()).collect(),
                master: config.sentinel_master.clone(),
            });
        }
        Ok(Self::Single(redis::Client::open(url)?))
    }

    /// Whether scripts and pipelines are restricted to one hash slot.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }

    /// Open a connection that survives its server's restarts (single and
    /// sentinel: a [`ConnectionManager`]; cluster: the cluster client,
    /// which follows slot moves and node failures). For a sentinel
    /// topology, also the address of the primary it connected to.
    pub async fn connect(&self, timeout: Duration) -> redis::RedisResult<(Connection, String)> {
        match self {
            Self::Single(client) => Ok((
                Connection::Single(manager(client.clone(), timeout).await?),
                address(client),
            )),
            Self::Cluster { seeds } => {
                let nodes = seeds.iter().map(|c| c.get_connection_info().clone());
                let client = ClusterClient::builder(nodes)
                    .connection_timeout(timeout.max(Duration::from_millis(500)))
                    .response_timeout(timeout)
                    .retries(2)
                    .build()?;
                let connection = client.get_async_connection().await?;
                Ok((Connection::Cluster(connection), "cluster".into()))
            }
            Self::Sentinel { .. } => {
                let primary = self.sentinel_primary().await?;
                let addr = address(&primary);
                Ok((Connection::Single(manager(primary, timeout).await?), addr))
            }
        }
    }

    /// Ask the sentinels for the current primary (checked with `ROLE`).
    pub async fn sentinel_primary(&self) -> redis::RedisResult<redis::Client> {
        let Self::Sentinel { sentinels, master } = self else {
            return Err(no_node());
        };
        // The primary is reached with the sentinels' credentials and db.
        let first = sentinels
            .first()
            .ok_or_else(no_node)?
            .as_str()
            .into_connection_info()?;
        let node = SentinelNodeConnectionInfo::default()
            .set_redis_connection_info(first.redis_settings().clone());
        let mut client = SentinelClient::build(
            sentinels.clone(),
            master.clone(),
            Some(node),
            SentinelServerType::Master,
        )?;
        client.async_get_client().await
    }

    /// A client for a dedicated pub/sub connection; `attempt` rotates
    /// through a cluster's seeds, so a dead node is passed over. A
    /// cluster propagates `PUBLISH` to every node and a primary
    /// replicates it to its replicas, so any node hears every message.
    pub async fn pubsub_client(&self, attempt: usize) -> redis::RedisResult<redis::Client> {
        match self {
            Self::Single(client) => Ok(client.clone()),
            Self::Cluster { seeds } => seeds
                .get(attempt % seeds.len().max(1))
                .cloned()
                .ok_or_else(no_node),
            Self::Sentinel { .. } => self.sentinel_primary().await,
        }
    }
}

fn no_node() -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "no Redis node configured",
    ))
}

/// `host:port` of a client, to notice a sentinel failover.
pub fn address(client: &redis::Client) -> String {
    client.get_connection_info().addr().to_string()
}

async fn manager(
    client: redis::Client,
    timeout: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout.max(Duration::from_millis(500))))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    ConnectionManager::new_with_config(client, config).await
}

/// A connection to whichever topology is configured; cheap to clone
/// (both variants are multiplexed handles).
#[derive(Clone)]
pub enum Connection {
    /// One server (or the sentinel-managed primary).
    Single(ConnectionManager),
    /// A cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cluster: bool, master: &str) -> RedisConfig {
        RedisConfig {
            cluster,
            sentinel_master: master.into(),
            ..RedisConfig::default()
        }
    }

    #[test]
    fn the_url_list_and_the_mode_settings_name_the_topology() {
        let list = "redis://127.0.0.1:7001, redis://127.0.0.1:7002,redis://127.0.0.1:7003";
        match Topology::of(list, &config(true, "")).expect("cluster") {
            Topology::Cluster { seeds } => assert_eq!(seeds.len(), 3),
            other => panic!("not a cluster: {other:?}"),
        }
        match Topology::of("redis://127.0.0.1:26379", &config(false, "main")).expect("sentinel") {
            Topology::Sentinel { sentinels, master } => {
                assert_eq!(sentinels, ["redis://127.0.0.1:26379"]);
                assert_eq!(master, "main");
            }
            other => panic!("not sentinel: {other:?}"),
        }
        let single = Topology::of("redis://127.0.0.1:6379", &config(false, "")).expect("single");
        assert!(matches!(single, Topology::Single(_)) && !single.is_cluster());
        assert!(Topology::of("redis://a:1,redis://b:2", &config(false, "")).is_err());
    }
}
