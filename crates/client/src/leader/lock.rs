//! The Lease lock: reads and writes the `coordination.k8s.io/v1` Lease and remembers what it
//! last observed and when (upstream `LeaderElector`'s observedRecord / observedTime).

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use tokio::time::Instant;

use super::LeaderElectionConfig;
use super::record::{Attempt, plan, released};

/// Why an attempt did not get or keep the lease.
#[derive(Debug)]
pub(crate) enum Refused {
    HeldBy(String),
    Api(kube::Error),
}

#[derive(Debug)]
pub(crate) struct LeaseLock {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    /// The Lease as last read or written by us (its resourceVersion guards our next write).
    lease: Option<Lease>,
    /// When the observed spec last changed, on our clock.
    observed_at: Instant,
}

impl LeaseLock {
    pub(crate) fn new(client: kube::Client, config: LeaderElectionConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            lease: None,
            observed_at: Instant::now(),
        }
    }

    pub(crate) fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    fn observed_spec(&self) -> Option<&LeaseSpec> {
        self.lease.as_ref().and_then(|l| l.spec.as_ref())
    }

    /// Whether the last observed record names us (upstream `IsLeader`).
    pub(crate) fn is_leader(&self) -> bool {
        self.observed_spec()
            .and_then(|s| s.holder_identity.as_deref())
            .is_some_and(|h| h == self.config.identity)
    }

    fn lease_valid(&self, now: Instant) -> bool {
        let seconds = self
            .observed_spec()
            .and_then(|s| s.lease_duration_seconds)
            .unwrap_or(0);
        let duration = std::time::Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
        self.observed_at + duration > now
    }

    fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }

    /// Remember `lease` as observed; the observation time moves only if the spec changed.
    fn observe(&mut self, lease: Lease) {
        if self.observed_spec() != lease.spec.as_ref() {
            self.observed_at = Instant::now();
        }
        self.lease = Some(lease);
    }

    /// One upstream `tryAcquireOrRenew`.
    pub(crate) async fn try_acquire_or_renew(&mut self) -> Result<(), Refused> {
        let now = Instant::now();
        // Fast path: we lead and nobody else can have written: update what we last wrote.
        if self.is_leader() && self.lease_valid(now) {
            let spec = plan(
                self.observed_spec(),
                false,
                &self.config.identity,
                self.lease_duration_seconds(),
                Timestamp::now(),
            );
            if let (Attempt::Update(spec), Some(lease)) = (spec, self.lease.clone()) {
                match self.replace(lease, spec).await {
                    Ok(()) => return Ok(()),
                    Err(error) => {
                        tracing::debug!(%error, "optimistic lease renewal failed; re-reading the lease");
                    }
                }
            }
        }
        let current = match self.api.get_opt(&self.config.name).await {
            Ok(current) => current,
            Err(error) => return Err(Refused::Api(error)),
        };
        let existing = current.as_ref().and_then(|l| l.spec.clone());
        if let Some(lease) = current {
            self.observe(lease);
        }
        let expired = !self.lease_valid(Instant::now());
        match plan(
            existing.as_ref(),
            expired,
            &self.config.identity,
            self.lease_duration_seconds(),
            Timestamp::now(),
        ) {
            Attempt::HeldBy(holder) => Err(Refused::HeldBy(holder)),
            Attempt::Create(spec) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                let created = self
                    .api
                    .create(&PostParams::default(), &lease)
                    .await
                    .map_err(Refused::Api)?;
                self.observe(created);
                Ok(())
            }
            Attempt::Update(spec) => {
                let Some(lease) = self.lease.clone() else {
                    return Err(Refused::HeldBy(String::new()));
                };
                self.replace(lease, spec).await.map_err(Refused::Api)
            }
        }
    }

    /// Write `spec` over `lease`, guarded by its resourceVersion.
    async fn replace(&mut self, mut lease: Lease, spec: LeaseSpec) -> Result<(), kube::Error> {
        lease.spec = Some(spec);
        let written = self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await?;
        self.observe(written);
        Ok(())
    }

    /// Give the lease up if we hold it (upstream `release`). The lease is read again first, as
    /// upstream does: a renewal cancelled mid-flight by the shutdown may have been written after
    /// our last observation, and its resourceVersion would make the release a conflict.
    pub(crate) async fn release(&mut self) -> Result<(), kube::Error> {
        if !self.is_leader() {
            return Ok(());
        }
        if let Some(current) = self.api.get_opt(&self.config.name).await? {
            self.observe(current);
        }
        if !self.is_leader() {
            return Ok(());
        }
        let Some(lease) = self.lease.clone() else {
            return Ok(());
        };
        let spec = released(
            lease.spec.as_ref().unwrap_or(&LeaseSpec::default()),
            Timestamp::now(),
        );
        self.replace(lease, spec).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_testkit::TestApiServer;

    /// A renewal that reached the server after our last observation (a shutdown cancelled the
    /// request after it was sent) must not turn the release into a resourceVersion conflict.
    #[tokio::test]
    async fn release_after_an_unobserved_renewal_still_frees_the_lease() {
        let server = TestApiServer::start().await;
        let mut config = LeaderElectionConfig::new("kube-system", "unobserved");
        config.identity = "a".to_string();
        let mut lock = LeaseLock::new(server.client.clone(), config);
        lock.try_acquire_or_renew().await.expect("acquire");

        let api: Api<Lease> = Api::namespaced(server.client.clone(), "kube-system");
        let mut renewed = api.get("unobserved").await.expect("get");
        if let Some(spec) = renewed.spec.as_mut() {
            spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                Timestamp::now(),
            ));
        }
        api.replace("unobserved", &PostParams::default(), &renewed)
            .await
            .expect("renewal behind the lock's back");

        lock.release().await.expect("release");
        let spec = api.get("unobserved").await.expect("get").spec.expect("spec");
        assert_eq!(spec.holder_identity, None);
        assert_eq!(spec.lease_duration_seconds, Some(1));
    }
}
