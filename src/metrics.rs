//! Prometheus metrics: request counts and latencies by route pattern and status, plus whatever
//! other modules register. Exposed at `GET /metrics` in the text exposition format.

use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The matched route pattern (`/api/v1/documents/{id}`), never the raw path, so that ids do
    /// not become label values.
    pub route: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram>,
    exposure: Exposure,
}

/// Who may read `/metrics`: the route and request counts tell an outsider what the platform is
/// doing, so by default nobody.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Exposure {
    #[default]
    Closed,
    /// Scrapers that send this bearer token.
    Bearer(String),
    /// Anyone who can connect (demo mode only, which is loopback only).
    Open,
}

impl Metrics {
    pub fn new() -> Self {
        Self::exposed(Exposure::Closed)
    }

    pub fn exposed(exposure: Exposure) -> Self {
        let mut registry = Registry::with_prefix("anaspoc");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("http_requests", "HTTP requests by route and status", http_requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            http_duration.clone(),
        );
        Self { registry: Mutex::new(registry), http_requests, http_duration, exposure }
    }

    /// Let another module register its own metric.
    pub fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.registry.lock().unwrap_or_else(|p| p.into_inner()).register(name, help, metric);
    }

    fn observe(&self, labels: HttpLabels, seconds: f64) {
        self.http_duration.get_or_create(&labels).observe(seconds);
        self.http_requests.get_or_create(&labels).inc();
    }

    /// Who may read [`Metrics::render`].
    pub fn exposure(&self) -> &Exposure {
        &self.exposure
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware recording every response (including errors) by route pattern and status.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let started = Instant::now();
    let result = next.call(req).await;
    if let Some(metrics) = metrics {
        let (route, status) = match &result {
            Ok(res) => (res.request().match_pattern(), res.status().as_u16()),
            Err(err) => (None, err.as_response_error().status_code().as_u16()),
        };
        let labels = HttpLabels { method, route: route.unwrap_or_else(|| "unmatched".into()), status };
        metrics.observe(labels, started.elapsed().as_secs_f64());
    }
    result
}
