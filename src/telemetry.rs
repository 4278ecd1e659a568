//! Logging: `tracing` with structured fields; JSON lines in production, human-readable in demo.
//! Every request runs in a span carrying its request id (tracing-actix-web), echoed to clients
//! as `X-Request-Id`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, LogSettings};

/// The target whose messages are a client's broken requests, not the server's errors.
const QUIET_CLIENT_ERRORS: &str = "actix_http::h1::dispatcher=off";

/// Install the global subscriber. `RUST_LOG` overrides `[log] level`. A second call (tests)
/// keeps the first subscriber.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // actix's HTTP/1 dispatcher logs every request a client malformed (a bad header, a
        // truncated body) at ERROR after answering it 400: a scanner would page the operators.
        // Those requests are answered and counted in the metrics; the log keeps real errors.
        EnvFilter::new(format!("{},{QUIET_CLIENT_ERRORS}", settings.level))
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_span_events(FmtSpan::NONE);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.with_target(false).try_init(),
    };
}

/// The root span of every request (request id, route, principal once known) and one access-log
/// event when it ends: `info` for answered requests, `error` for 5xx.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        tracing_actix_web::root_span!(level = tracing::Level::INFO, request, principal = tracing::field::Empty)
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("http.status_code", status.as_u16());
        let _entered = span.enter();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "request failed");
        } else {
            tracing::info!(status = status.as_u16(), "request completed");
        }
    }
}
