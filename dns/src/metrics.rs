//! Prometheus metrics with CoreDNS's names (so existing dashboards and alerts work):
//! `coredns_dns_requests_total{server,zone,proto,family,type}`,
//! `coredns_dns_responses_total{server,zone,rcode,plugin}`,
//! `coredns_dns_request_duration_seconds{server,zone,type}`,
//! `coredns_forward_requests_total{to}`, `coredns_forward_responses_total{to,rcode}`.
//! Each server has its own registry (several servers can run in one test process); `/metrics`
//! shows it together with the process-wide default registry (informer metrics).

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub responses: IntCounterVec,
    pub duration: HistogramVec,
    pub forward_requests: IntCounterVec,
    pub forward_responses: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "coredns_dns_requests_total",
                "Counter of DNS requests made per zone, protocol and family.",
            ),
            &["server", "zone", "proto", "family", "type"],
        )?;
        let responses = IntCounterVec::new(
            Opts::new("coredns_dns_responses_total", "Counter of response status codes."),
            &["server", "zone", "rcode", "plugin"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "coredns_dns_request_duration_seconds",
                "Histogram of the time (in seconds) each request took per zone.",
            )
            .buckets(prometheus::exponential_buckets(0.00025, 2.0, 16)?),
            &["server", "zone", "type"],
        )?;
        let forward_requests = IntCounterVec::new(
            Opts::new(
                "coredns_forward_requests_total",
                "Counter of requests made per upstream.",
            ),
            &["to"],
        )?;
        let forward_responses = IntCounterVec::new(
            Opts::new(
                "coredns_forward_responses_total",
                "Counter of responses received per upstream.",
            ),
            &["to", "rcode"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(responses.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(forward_requests.clone()))?;
        registry.register(Box::new(forward_responses.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            responses,
            duration,
            forward_requests,
            forward_responses,
        })
    }

    /// The text exposition of this server's metrics and the process-wide ones.
    pub fn render(&self) -> String {
        let mut families = self.registry.gather();
        families.extend(prometheus::default_registry().gather());
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|error| format!("# metrics encoding failed: {error}\n"))
    }
}
