//! Request metrics under upstream's names and labels.

use std::time::Duration;

use axum::http::Method;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

use crate::http::request::{parse_resource_path, query_map};

const LABELS: &[&str] = &[
    "verb",
    "dry_run",
    "group",
    "version",
    "resource",
    "subresource",
    "scope",
    "component",
];

pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
}

/// The labels of one request, as upstream's `MonitorRequest` derives them.
#[derive(Debug, Default)]
pub(crate) struct RequestLabels {
    verb: String,
    dry_run: String,
    group: String,
    version: String,
    resource: String,
    subresource: String,
    scope: String,
}

impl RequestLabels {
    pub(crate) fn new(method: &Method, path: &str, query: Option<&str>, _matched: Option<&str>) -> Self {
        let query = query_map(query);
        let Some(p) = parse_resource_path(path) else {
            return RequestLabels {
                verb: method.as_str().to_string(),
                ..Default::default()
            };
        };
        let watching = p.watch_prefix || matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
        let verb = match (method.as_str(), p.name.is_some()) {
            ("GET", _) if watching => "WATCH",
            ("GET", true) => "GET",
            ("GET", false) => "LIST",
            ("POST", _) => "POST",
            ("PUT", _) => "PUT",
            ("PATCH", _) => "PATCH",
            ("DELETE", true) => "DELETE",
            ("DELETE", false) => "DELETECOLLECTION",
            (other, _) => other,
        };
        let scope = match (&p.namespace, &p.name) {
            (Some(_), _) => "namespace",
            (None, Some(_)) => "resource",
            (None, None) => "cluster",
        };
        RequestLabels {
            verb: verb.to_string(),
            dry_run: query.get("dryRun").cloned().unwrap_or_default(),
            group: p.group,
            version: p.version,
            resource: p.resource,
            subresource: p.subresource.unwrap_or_default(),
            scope: scope.to_string(),
        }
    }

    fn values(&self) -> [&str; 8] {
        [
            &self.verb,
            &self.dry_run,
            &self.group,
            &self.version,
            &self.resource,
            &self.subresource,
            &self.scope,
            "apiserver",
        ]
    }
}

impl Metrics {
    pub(crate) fn new(registry: Registry) -> prometheus::Result<Metrics> {
        let mut labels = LABELS.to_vec();
        labels.push("code");
        let requests = IntCounterVec::new(
            Opts::new(
                "apiserver_request_total",
                "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
            ),
            &labels,
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "apiserver_request_duration_seconds",
                "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
            )
            .buckets(vec![
                0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0,
                20.0, 30.0, 45.0, 60.0,
            ]),
            LABELS,
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            durations,
        })
    }

    pub(crate) fn observe(&self, labels: &RequestLabels, code: u16, elapsed: Duration) {
        let values = labels.values();
        let code = code.to_string();
        let mut with_code = values.to_vec();
        with_code.push(&code);
        self.requests.with_label_values(&with_code).inc();
        self.durations
            .with_label_values(&values)
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn encode(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}
