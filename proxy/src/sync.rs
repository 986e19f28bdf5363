//! The sync loop (upstream's BoundedFrequencyRunner around syncProxyRules): a change asks for a
//! sync, which runs at most once per `min_sync_period`; one runs at least every `sync_period`;
//! a failed sync is retried with doubling back-off (from `min_sync_period`, at least 1s, up to
//! `sync_period`). The backend applies all or nothing, so a failure leaves the previous rules.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use rudder_client::Informer;
use rudder_component::Shutdown;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::backend::{Backend, BackendError, ProxyMode, SyncStats};
use crate::conntrack;
use crate::health::ProxyHealth;
use crate::metrics::Metrics;
use crate::model::{NodeContext, ProxyState, build_state};

/// Timing of the loop.
#[derive(Clone, Copy, Debug)]
pub struct SyncTiming {
    pub min_sync_period: Duration,
    pub sync_period: Duration,
}

/// Owns the backend and what was last applied.
#[derive(Debug)]
pub struct Proxier {
    backend: Option<Box<dyn Backend>>,
    node: NodeContext,
    applied: ProxyState,
    metrics: Metrics,
    health: Arc<ProxyHealth>,
}

impl Proxier {
    pub fn new(
        backend: Box<dyn Backend>,
        node: NodeContext,
        metrics: Metrics,
        health: Arc<ProxyHealth>,
    ) -> Self {
        Self {
            backend: Some(backend),
            node,
            applied: ProxyState::default(),
            metrics,
            health,
        }
    }

    /// One sync from the informers' current stores.
    pub async fn sync(
        &mut self,
        services: &Informer<Service>,
        slices: &Informer<EndpointSlice>,
    ) -> Result<SyncStats, BackendError> {
        let started = SystemTime::now();
        let timer = std::time::Instant::now();
        let svcs: Vec<Service> = services.store().state().iter().map(|s| (**s).clone()).collect();
        let eps: Vec<EndpointSlice> = slices.store().state().iter().map(|s| (**s).clone()).collect();
        let state = build_state(&svcs, &eps, &self.node);
        let Some(mut backend) = self.backend.take() else {
            // Only possible if a previous blocking task panicked.
            return Err(BackendError::Exec {
                step: "backend lost",
                source: crate::exec::ExecError::Failed {
                    program: String::new(),
                    args: String::new(),
                    code: None,
                    stderr: "backend task panicked".into(),
                },
            });
        };
        let previous = self.applied.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let result = backend.sync(&state);
            if result.is_ok() {
                // UDP flows to endpoints that are gone would otherwise stay blackholed.
                let stale = conntrack::stale_udp_flows(&previous, &state);
                conntrack::clear(backend.executor().as_ref(), &stale);
            }
            (backend, state, result)
        })
        .await;
        let (backend, state, result) = match joined {
            Ok(v) => v,
            Err(e) => {
                return Err(BackendError::Exec {
                    step: "sync task",
                    source: crate::exec::ExecError::Failed {
                        program: String::new(),
                        args: String::new(),
                        code: None,
                        stderr: e.to_string(),
                    },
                });
            }
        };
        let mode = backend.mode();
        self.backend = Some(backend);
        let elapsed = timer.elapsed().as_secs_f64();
        match &result {
            Ok(stats) => {
                self.applied = state;
                self.metrics.sync_duration.observe(elapsed);
                self.metrics.full_sync_duration.observe(elapsed);
                self.metrics.last_sync_timestamp.set(unix_secs(SystemTime::now()));
                if mode == ProxyMode::Iptables {
                    for (table, n) in &stats.rules {
                        self.metrics
                            .iptables_rules
                            .with_label_values(&[table])
                            .set(i64::try_from(*n).unwrap_or(i64::MAX));
                    }
                }
                self.health.updated(started);
            }
            Err(_) => match mode {
                ProxyMode::Iptables => self.metrics.iptables_restore_failures.inc(),
                ProxyMode::Nftables => self.metrics.nftables_sync_failures.inc(),
            },
        }
        result
    }

    /// What the last successful sync applied.
    pub fn applied(&self) -> &ProxyState {
        &self.applied
    }
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Run until shutdown. `changed` is notified on every Service/EndpointSlice change.
pub async fn run_loop(
    mut proxier: Proxier,
    services: Informer<Service>,
    slices: Informer<EndpointSlice>,
    changed: Arc<Notify>,
    timing: SyncTiming,
    shutdown: Shutdown,
) {
    let min_backoff = timing.min_sync_period.max(Duration::from_secs(1));
    let mut backoff = min_backoff;
    let mut last_run: Option<Instant> = None;
    let mut pending = true; // the initial sync
    let mut retry_at: Option<Instant> = None;
    let mut periodic_at = Instant::now() + timing.sync_period;
    loop {
        let now = Instant::now();
        let mut due = periodic_at;
        if let Some(r) = retry_at {
            due = due.min(r);
        }
        if pending {
            let earliest = last_run.map_or(now, |l| l + timing.min_sync_period);
            due = due.min(earliest.max(now));
            if let Some(r) = retry_at {
                // A change does not cut a back-off short.
                due = due.max(r);
            }
        }
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = changed.notified() => {
                pending = true;
                continue;
            }
            _ = tokio::time::sleep_until(due) => {}
        }
        last_run = Some(Instant::now());
        pending = false;
        periodic_at = Instant::now() + timing.sync_period;
        match proxier.sync(&services, &slices).await {
            Ok(stats) => {
                tracing::debug!(?stats, "synced proxy rules");
                retry_at = None;
                backoff = min_backoff;
            }
            Err(e) => {
                tracing::error!(error = %e, retry_in = ?backoff, "failed to sync proxy rules; previous rules stay in place");
                retry_at = Some(Instant::now() + backoff);
                backoff = (backoff * 2).min(timing.sync_period.max(min_backoff));
            }
        }
    }
}
