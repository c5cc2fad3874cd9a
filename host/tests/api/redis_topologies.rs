//! Redis beyond one server: hosts on a real three-node Redis Cluster share
//! revocations, invalidations, rate limits and cached results, with the
//! keys spread over the nodes; behind Sentinel, a host follows a failover
//! to the promoted replica. (`scripts/test-redis-cluster` also runs the
//! whole `redis::` group on a cluster.)

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sigil::config::{Config, Secret};

use crate::helpers::app::TestApp;
use crate::helpers::eventually;
use crate::helpers::redis_nodes::{Cluster, MASTER, Sentineled};
use crate::helpers::signers::{Kind, TestKey, b64};

const DOCUMENT: &[u8] = b"minutes of the meeting";

async fn redis_is_up(app: &TestApp) {
    eventually(
        "the host reaches Redis",
        Duration::from_secs(15),
        async || app.get("/ready", None).await.body["redis"] == "up",
    )
    .await;
}

#[tokio::test]
async fn hosts_on_a_redis_cluster_share_revocations_limits_and_caches() {
    let cluster = Cluster::start().await;
    let urls = cluster.urls();
    let on_cluster = |c: &mut Config| {
        c.redis.url = Secret::new(urls.clone());
        c.redis.cluster = true;
    };
    let a = TestApp::spawn_with(on_cluster).await;
    let b = a.another_host(on_cluster).await;
    redis_is_up(&a).await;
    redis_is_up(&b).await;

    // Results cached by one host answer on the other.
    let (_, token) = a.user(&["user"]).await;
    let signer = TestKey::generate(Kind::Ed25519);
    let id = a.register_key(&token, &signer).await;
    let body = json!({"public_key_id": id, "document": b64(DOCUMENT), "signature": b64(&signer.sign(DOCUMENT))});
    assert_eq!(a.verify(&token, body.clone()).await.body["cached"], false);
    let on_b = b.verify(&token, body.clone()).await;
    assert_eq!(
        (on_b.body["valid"].as_bool(), on_b.body["cached"].as_bool()),
        (Some(true), Some(true))
    );

    // A key revoked through A is refused by B within a second (pub/sub
    // through the cluster), and so is a token logged out through A.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let revoked = a
        .post(&format!("/v1/keys/{id}/revoke"), Some(&token), json!({}))
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    eventually(
        "B refuses the revoked key",
        Duration::from_secs(1),
        async || b.verify(&token, body.clone()).await.code() == "key_revoked",
    )
    .await;
    let (_, leaving) = a.user(&["user"]).await;
    assert_eq!(
        b.get("/v1/auth/me", Some(&leaving)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        a.post("/v1/auth/logout", Some(&leaving), json!({}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        b.get("/v1/auth/me", Some(&leaving)).await.code(),
        "token_revoked"
    );

    // Limits count across hosts. A key write refused by its own limit
    // gives back what the user limit charged for it (on a cluster the two
    // windows live in different slots, so they are charged one by one).
    let limited = |c: &mut Config| {
        on_cluster(c);
        c.rate_limits.per_user = 6;
        c.rate_limits.key_writes_per_user = 2;
    };
    let (a, b) = {
        let c = TestApp::spawn_with(limited).await;
        let d = c.another_host(limited).await;
        (c, d)
    };
    let (_, counted) = a.user(&["user"]).await;
    let key = || TestKey::generate(Kind::Ed25519).pem_registration();
    assert_eq!(
        a.post("/v1/keys", Some(&counted), key()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        b.post("/v1/keys", Some(&counted), key()).await.status,
        StatusCode::CREATED
    );
    let third = a.post("/v1/keys", Some(&counted), key()).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        third.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("key_writes"),
        "{:?}",
        third.body
    );
    for (i, host) in [&b, &a, &b, &a].into_iter().enumerate() {
        assert_eq!(
            host.get("/v1/auth/me", Some(&counted)).await.status,
            StatusCode::OK,
            "request {} of the user's six",
            i + 3
        );
    }
    let seventh = b.get("/v1/auth/me", Some(&counted)).await;
    assert_eq!(seventh.status, StatusCode::TOO_MANY_REQUESTS);

    // The keys really are spread: more than one node holds some.
    let mut holding = 0;
    for node in &cluster.nodes {
        if !node.keys(&a.redis_prefix).await.is_empty() {
            holding += 1;
        }
    }
    assert!(holding >= 2, "only {holding} of 3 nodes hold keys");
}

#[tokio::test]
async fn behind_sentinel_a_host_follows_a_failover() {
    let mut set = Sentineled::start().await;
    let sentinel = set.sentinel.url();
    let app = TestApp::spawn_with(|c| {
        c.redis.url = Secret::new(sentinel.clone());
        c.redis.cluster = false;
        c.redis.sentinel_master = MASTER.into();
    })
    .await;
    redis_is_up(&app).await;
    let prefix = app.redis_prefix.clone();
    let (_, first) = app.user(&["user"]).await;
    assert_eq!(
        app.post("/v1/auth/logout", Some(&first), json!({}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let revocations = |keys: Vec<String>| -> HashSet<String> {
        keys.into_iter()
            .filter(|k| k.contains("{blacklist}:"))
            .collect()
    };
    assert!(
        !revocations(set.primary.keys(&prefix).await).is_empty(),
        "the revocation is written to the primary"
    );

    set.primary.kill();
    let replica = set.replica.port;
    eventually(
        "the Sentinel promotes the replica",
        Duration::from_secs(30),
        async || set.primary_port().await == replica,
    )
    .await;
    let before = revocations(set.replica.keys(&prefix).await);
    let (_, second) = app.user(&["user"]).await;
    assert_eq!(
        app.post("/v1/auth/logout", Some(&second), json!({}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    for token in [&first, &second] {
        assert_eq!(
            app.get("/v1/auth/me", Some(token)).await.code(),
            "token_revoked"
        );
    }
    // The host moved to the new primary: its next revocation lands there.
    eventually(
        "a revocation written after the failover reaches the new primary",
        Duration::from_secs(15),
        async || {
            let (_, third) = app.user(&["user"]).await;
            let _ = app.post("/v1/auth/logout", Some(&third), json!({})).await;
            revocations(set.replica.keys(&prefix).await)
                .difference(&before)
                .next()
                .is_some()
        },
    )
    .await;
    redis_is_up(&app).await;
}
