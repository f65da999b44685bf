//! Prometheus metrics (`GET /metrics`, text exposition format) through `prometheus-client`.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    /// Matched route (`/v1/classify`), or `unmatched`.
    pub route: String,
    /// HTTP status code.
    pub status: String,
}

/// Labels of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    /// Matched route.
    pub route: String,
}

type HistogramFamily = Family<Route, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms … ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// All metrics of one server.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RouteStatus, Counter>,
    /// Request latency by route (seconds).
    pub latency: HistogramFamily,
    /// Jobs waiting for the inference worker.
    pub queue_depth: Gauge,
    /// Requests admitted and not yet answered.
    pub in_flight: Gauge,
    /// Requests refused with 503 because the server was full.
    pub rejected: Counter,
    /// Images per forward pass of the image tower.
    pub batch_size: Histogram,
    /// Adapter heads (adapter + class set) in memory.
    pub adapters_loaded: Gauge,
    /// Accounted bytes of the loaded heads.
    pub adapter_bytes: Gauge,
    /// Head lookups answered from memory.
    pub cache_hits: Counter,
    /// Head lookups that had to load an adapter or compute text features.
    pub cache_misses: Counter,
    /// Heads unloaded to respect the count/byte bounds.
    pub evictions: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vladapt");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Jobs waiting for the inference worker",
            queue_depth.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_requests",
            "Admitted requests not yet answered",
            in_flight.clone(),
        );
        let rejected = Counter::default();
        registry.register(
            "rejected_requests",
            "Requests answered 503 because the server was full",
            rejected.clone(),
        );
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 9));
        registry.register(
            "batch_size",
            "Images per image-tower forward pass",
            batch_size.clone(),
        );
        let adapters_loaded = Gauge::default();
        registry.register(
            "adapters_loaded",
            "Adapter heads (adapter + class set) in memory",
            adapters_loaded.clone(),
        );
        let adapter_bytes = Gauge::default();
        registry.register(
            "adapter_bytes",
            "Accounted bytes of the loaded adapter heads",
            adapter_bytes.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "head_cache_hits",
            "Adapter/class-set lookups served from memory",
            cache_hits.clone(),
        );
        let cache_misses = Counter::default();
        registry.register(
            "head_cache_misses",
            "Adapter/class-set lookups that loaded tensors or computed text features",
            cache_misses.clone(),
        );
        let evictions = Counter::default();
        registry.register(
            "head_evictions",
            "Heads unloaded to stay within the count and byte bounds",
            evictions.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            queue_depth,
            in_flight,
            rejected,
            batch_size,
            adapters_loaded,
            adapter_bytes,
            cache_hits,
            cache_misses,
            evictions,
        }
    }

    /// Record one answered request.
    pub fn observe(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RouteStatus {
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&Route {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
