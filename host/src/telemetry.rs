//! Structured logs: JSON lines by default (one object per event, with the
//! request id on every event of a request), or human-readable.

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

/// Install the global subscriber (once; later calls are ignored).
pub fn init(config: &LogConfig) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let _ = if config.format == "pretty" {
        builder.try_init()
    } else {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init()
    };
}
