//! Loading every component of a directory at start.

use std::path::{Path, PathBuf};

use super::engine::PluginEngine;
use super::error::PluginError;
use super::plugin::LoadedPlugin;

/// A component file and what loading it gave.
pub struct LoadOutcome {
    /// The file.
    pub path: PathBuf,
    /// The plugin, or why it was refused.
    pub result: Result<LoadedPlugin, PluginError>,
}

/// Load every `*.wasm` file of `dir`, in name order. Blocking and
/// CPU-heavy (compilation): call it off the async runtime's threads.
pub fn load_dir(engine: &PluginEngine, dir: &Path) -> std::io::Result<Vec<LoadOutcome>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm") && path.is_file())
        .collect();
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|path| {
            let result = std::fs::read(&path)
                .map_err(|e| PluginError::Engine(format!("reading {}: {e}", path.display())))
                .and_then(|bytes| LoadedPlugin::load(engine, &bytes));
            LoadOutcome { path, result }
        })
        .collect())
}
