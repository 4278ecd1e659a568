//! Logging: `tracing` with structured fields; JSON lines in production, human-readable in demo.
//! Every request runs in a span carrying its request id (tracing-actix-web), echoed to clients
//! as `X-Request-Id`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, LogSettings};

/// Install the global subscriber. `RUST_LOG` overrides `[log] level`. A second call (tests)
/// keeps the first subscriber.
pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE);
    let _ = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.with_target(false).try_init(),
    };
}
