//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection` with a
//! `LeaseLock`: candidates poll the Lease every retry period (with jitter); the holder renews it
//! and gives up leading if it cannot renew within the renew deadline; others take over once
//! `leaseDurationSeconds` passed without the record changing (measured on their own clock). On a
//! clean stop the holder releases the Lease (no holder) so a standby takes over at once.
//!
//! Metric: `leader_election_master_status{name}` is 1 while leading, else 0.

mod config;
mod lock;
mod record;

use std::fmt;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{IntGauge, IntGaugeVec, Opts};
use rudder_component::Shutdown;
use tokio::time::Instant;
use tracing::Instrument;

pub use config::{LeaderElectionConfig, LeaderElectionFlags};

use crate::ClientError;
use crate::metrics::register;
use config::JITTER_FACTOR;
use lock::{LeaseLock, Refused};

/// One candidate for leadership of one Lease.
pub struct LeaderElection {
    lock: LeaseLock,
    status: Option<IntGauge>,
}

impl fmt::Debug for LeaderElection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderElection")
            .field("config", self.lock.config())
            .finish()
    }
}

/// How the renew loop ended.
enum RenewEnd {
    Shutdown,
    Lost,
}

impl LeaderElection {
    /// A candidate for the Lease `config` names; see [`LeaderElectionConfig::new`] and
    /// [`LeaderElectionFlags::config`].
    pub fn new(client: kube::Client, config: LeaderElectionConfig) -> Self {
        let status = master_status().map(|v| v.with_label_values(&[config.name.as_str()]));
        Self {
            lock: LeaseLock::new(client, config),
            status,
        }
    }

    /// Wait to acquire the Lease, then run `lead(lost)`: `lost` fires when renewal fails past
    /// the renew deadline, or on `shutdown`. Returns when `lead` returns (at once, without
    /// calling it, if `shutdown` fires first). The Lease keeps being renewed until `lead`
    /// returns and is then released, unless it was lost: then the result is
    /// [`ClientError::LeaderElectionLost`] and, like upstream, the caller should exit.
    pub async fn run<F, Fut>(self, shutdown: Shutdown, lead: F) -> Result<(), ClientError>
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()>,
    {
        self.config().validate()?;
        let lease = format!("{}/{}", self.config().namespace, self.config().name);
        let span = tracing::info_span!("leader_election", %lease);
        self.run_inner(shutdown, lead).instrument(span).await
    }

    async fn run_inner<F, Fut>(mut self, shutdown: Shutdown, lead: F) -> Result<(), ClientError>
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()>,
    {
        let (namespace, name) = (self.config().namespace.clone(), self.config().name.clone());
        tracing::info!(identity = %self.config().identity, "attempting to acquire leader lease");
        if !self.acquire(&shutdown).await {
            return Ok(());
        }
        tracing::info!("successfully acquired lease");
        self.set_status(true);

        let (lost_trigger, lost) = Shutdown::new();
        let lead = lead(lost);
        tokio::pin!(lead);
        let first = tokio::select! {
            _ = &mut lead => None,
            end = self.renew(&shutdown) => Some(end),
        };
        let mut was_lost = matches!(first, Some(RenewEnd::Lost));
        if first.is_some() {
            lost_trigger.trigger();
            if was_lost {
                self.set_status(false);
                tracing::error!("leader election lost");
                lead.await;
            } else {
                // Keep the lease while `lead` winds down, so no one else leads meanwhile.
                let (_never_fired, never) = Shutdown::new();
                tokio::select! {
                    _ = &mut lead => {}
                    _ = self.renew(&never) => {
                        was_lost = true;
                        self.set_status(false);
                        tracing::error!("leader election lost while stopping");
                        lead.await;
                    }
                }
            }
        }
        if was_lost {
            return Err(ClientError::LeaderElectionLost { namespace, name });
        }
        self.set_status(false);
        match self.lock.release().await {
            Ok(()) => tracing::info!("released leader lease"),
            Err(error) => tracing::warn!(%error, "failed to release leader lease"),
        }
        Ok(())
    }

    fn config(&self) -> &LeaderElectionConfig {
        self.lock.config()
    }

    fn set_status(&self, leading: bool) {
        if let Some(g) = &self.status {
            g.set(i64::from(leading));
        }
    }

    /// Try every retry period (jittered) until we hold the lease; false on shutdown.
    async fn acquire(&mut self, shutdown: &Shutdown) -> bool {
        let retry = self.config().retry_period;
        loop {
            let attempt = tokio::select! {
                _ = shutdown.wait() => return false,
                attempt = self.lock.try_acquire_or_renew() => attempt,
            };
            match attempt {
                Ok(()) => return true,
                Err(Refused::HeldBy(holder)) => {
                    tracing::debug!(%holder, "lease is held by another candidate and has not expired");
                }
                Err(Refused::Api(error)) => tracing::warn!(%error, "cannot acquire leader lease"),
            }
            tokio::select! {
                _ = shutdown.wait() => return false,
                _ = tokio::time::sleep(jittered(retry)) => {}
            }
        }
    }

    /// Renew every retry period; each renewal retries until the renew deadline.
    async fn renew(&mut self, shutdown: &Shutdown) -> RenewEnd {
        let (retry, deadline) = (self.config().retry_period, self.config().renew_deadline);
        loop {
            tokio::select! {
                _ = shutdown.wait() => return RenewEnd::Shutdown,
                _ = tokio::time::sleep(retry) => {}
            }
            let give_up_at = Instant::now() + deadline;
            loop {
                let attempt = tokio::select! {
                    _ = shutdown.wait() => return RenewEnd::Shutdown,
                    _ = tokio::time::sleep_until(give_up_at) => return RenewEnd::Lost,
                    attempt = self.lock.try_acquire_or_renew() => attempt,
                };
                match attempt {
                    Ok(()) => break,
                    Err(Refused::HeldBy(holder)) => {
                        tracing::warn!(%holder, "leader lease was taken by another candidate");
                    }
                    Err(Refused::Api(error)) => tracing::warn!(%error, "failed to renew leader lease"),
                }
                tokio::select! {
                    _ = shutdown.wait() => return RenewEnd::Shutdown,
                    _ = tokio::time::sleep_until(give_up_at) => return RenewEnd::Lost,
                    _ = tokio::time::sleep(retry) => {}
                }
            }
        }
    }
}

/// Upstream `wait.Jitter(d, 1.2)`: d plus up to 1.2·d.
fn jittered(d: Duration) -> Duration {
    d + d.mul_f64(JITTER_FACTOR * rand::random::<f64>())
}

fn master_status() -> Option<&'static IntGaugeVec> {
    static STATUS: OnceLock<Option<IntGaugeVec>> = OnceLock::new();
    STATUS
        .get_or_init(|| {
            register("leader_election_master_status", || {
                IntGaugeVec::new(
                    Opts::new(
                        "leader_election_master_status",
                        "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
                    ),
                    &["name"],
                )
            })
        })
        .as_ref()
}
