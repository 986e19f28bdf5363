//! Upstream's kube-proxy metrics (`pkg/proxy/metrics`), in a registry handed in by the caller.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    exponential_buckets,
};

#[derive(Clone, Debug)]
pub struct Metrics {
    pub sync_duration: Histogram,
    pub full_sync_duration: Histogram,
    pub last_sync_timestamp: IntGauge,
    pub last_queued_timestamp: IntGauge,
    pub endpoint_changes: IntCounter,
    pub service_changes: IntCounter,
    pub iptables_restore_failures: IntCounter,
    pub nftables_sync_failures: IntCounter,
    pub iptables_rules: IntGaugeVec,
    pub healthz: IntCounterVec,
}

impl Metrics {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let buckets = exponential_buckets(0.001, 2.0, 15)?;
        let hist = |name: &str, help: &str| {
            Histogram::with_opts(
                HistogramOpts::new(name, help)
                    .namespace("kubeproxy")
                    .buckets(buckets.clone()),
            )
        };
        let m = Metrics {
            sync_duration: hist(
                "sync_proxy_rules_duration_seconds",
                "SyncProxyRules latency in seconds",
            )?,
            full_sync_duration: hist(
                "sync_full_proxy_rules_duration_seconds",
                "SyncProxyRules latency in seconds for full resyncs",
            )?,
            last_sync_timestamp: IntGauge::with_opts(
                Opts::new(
                    "sync_proxy_rules_last_timestamp_seconds",
                    "The last time proxy rules were successfully synced",
                )
                .namespace("kubeproxy"),
            )?,
            last_queued_timestamp: IntGauge::with_opts(
                Opts::new(
                    "sync_proxy_rules_last_queued_timestamp_seconds",
                    "The last time a sync of proxy rules was queued",
                )
                .namespace("kubeproxy"),
            )?,
            endpoint_changes: IntCounter::with_opts(
                Opts::new(
                    "sync_proxy_rules_endpoint_changes_total",
                    "Cumulative proxy rules Endpoint changes",
                )
                .namespace("kubeproxy"),
            )?,
            service_changes: IntCounter::with_opts(
                Opts::new(
                    "sync_proxy_rules_service_changes_total",
                    "Cumulative proxy rules Service changes",
                )
                .namespace("kubeproxy"),
            )?,
            iptables_restore_failures: IntCounter::with_opts(
                Opts::new(
                    "sync_proxy_rules_iptables_restore_failures_total",
                    "Cumulative proxy iptables restore failures",
                )
                .namespace("kubeproxy"),
            )?,
            nftables_sync_failures: IntCounter::with_opts(
                Opts::new(
                    "sync_proxy_rules_nftables_sync_failures_total",
                    "Cumulative proxy nftables sync failures",
                )
                .namespace("kubeproxy"),
            )?,
            iptables_rules: IntGaugeVec::new(
                Opts::new(
                    "sync_proxy_rules_iptables_total",
                    "Total number of iptables rules owned by kube-proxy",
                )
                .namespace("kubeproxy"),
                &["table"],
            )?,
            healthz: IntCounterVec::new(
                Opts::new("proxy_healthz_total", "Cumulative proxy healthz HTTP status")
                    .namespace("kubeproxy"),
                &["code"],
            )?,
        };
        registry.register(Box::new(m.sync_duration.clone()))?;
        registry.register(Box::new(m.full_sync_duration.clone()))?;
        registry.register(Box::new(m.last_sync_timestamp.clone()))?;
        registry.register(Box::new(m.last_queued_timestamp.clone()))?;
        registry.register(Box::new(m.endpoint_changes.clone()))?;
        registry.register(Box::new(m.service_changes.clone()))?;
        registry.register(Box::new(m.iptables_restore_failures.clone()))?;
        registry.register(Box::new(m.nftables_sync_failures.clone()))?;
        registry.register(Box::new(m.iptables_rules.clone()))?;
        registry.register(Box::new(m.healthz.clone()))?;
        Ok(m)
    }
}
