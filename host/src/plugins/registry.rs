//! Which plugin answers for which (algorithm, curve): an immutable snapshot
//! behind an atomic pointer. Readers take the current snapshot without a
//! lock; a swap publishes a new snapshot, and requests already running keep
//! the `Arc<LoadedPlugin>` they started with until they finish.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::contract::RouteKey;
use super::plugin::LoadedPlugin;

/// The routing table of loaded plugins.
#[derive(Default)]
pub struct PluginRegistry {
    current: ArcSwap<Snapshot>,
}

/// One consistent view of the routing table.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    routes: BTreeMap<RouteKey, Arc<LoadedPlugin>>,
}

impl Snapshot {
    /// The plugin serving `route`.
    pub fn get(&self, route: &RouteKey) -> Option<&Arc<LoadedPlugin>> {
        self.routes.get(route)
    }

    /// Every route with its plugin, ordered by route.
    pub fn routes(&self) -> impl Iterator<Item = (&RouteKey, &Arc<LoadedPlugin>)> {
        self.routes.iter()
    }

    /// Each loaded plugin once (a plugin may serve several routes).
    pub fn plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        let mut seen: Vec<Arc<LoadedPlugin>> = Vec::new();
        for plugin in self.routes.values() {
            if !seen.iter().any(|p| Arc::ptr_eq(p, plugin)) {
                seen.push(plugin.clone());
            }
        }
        seen
    }

    /// Plugins serving `algorithm` (any curve), each once.
    pub fn for_algorithm(&self, algorithm: &str) -> Vec<Arc<LoadedPlugin>> {
        self.plugins()
            .into_iter()
            .filter(|p| p.descriptor().algorithm.eq_ignore_ascii_case(algorithm))
            .collect()
    }
}

impl PluginRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current routing table.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The plugin serving `algorithm` on `curve`, if any.
    pub fn route(&self, algorithm: &str, curve: Option<&str>) -> Option<Arc<LoadedPlugin>> {
        self.current
            .load()
            .get(&RouteKey::new(algorithm, curve))
            .cloned()
    }

    /// Make `plugin` answer for every route it declares, atomically. Other
    /// versions of the same plugin stop answering for every route (also
    /// those the new version no longer declares). Returns the plugins it
    /// displaced.
    pub fn install(&self, plugin: Arc<LoadedPlugin>) -> Vec<Arc<LoadedPlugin>> {
        let routes = plugin.descriptor().routes();
        let name = plugin.descriptor().name.clone();
        let mut displaced = Vec::new();
        self.current.rcu(|current| {
            displaced.clear();
            let mut next = Snapshot::clone(current);
            let note = |old: Arc<LoadedPlugin>, displaced: &mut Vec<Arc<LoadedPlugin>>| {
                if !Arc::ptr_eq(&old, &plugin) && !displaced.iter().any(|p| Arc::ptr_eq(p, &old)) {
                    displaced.push(old);
                }
            };
            let same_name: Vec<RouteKey> = next
                .routes
                .iter()
                .filter(|(_, p)| p.descriptor().name == name)
                .map(|(route, _)| route.clone())
                .collect();
            for route in same_name {
                if let Some(old) = next.routes.remove(&route) {
                    note(old, &mut displaced);
                }
            }
            for route in &routes {
                if let Some(old) = next.routes.insert(route.clone(), plugin.clone()) {
                    note(old, &mut displaced);
                }
            }
            next
        });
        displaced
    }

    /// Stop routing every route served by the plugin build `sha256`.
    pub fn remove_build(&self, sha256: &str) {
        self.current.rcu(|current| {
            let mut next = Snapshot::clone(current);
            next.routes.retain(|_, p| p.sha256() != sha256);
            next
        });
    }

    /// Stop routing `routes`, atomically, where `sha256` still serves them
    /// (a newer plugin installed meanwhile is left alone).
    pub fn remove(&self, routes: &[RouteKey], sha256: &str) {
        self.current.rcu(|current| {
            let mut next = Snapshot::clone(current);
            for route in routes {
                if next.routes.get(route).is_some_and(|p| p.sha256() == sha256) {
                    next.routes.remove(route);
                }
            }
            next
        });
    }
}
