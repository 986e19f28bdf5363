//! Leader election flags (upstream's `--leader-elect*`) and the validated configuration.

use std::time::Duration;

use crate::ClientError;
use crate::duration::parse_go_duration;

/// Upstream `JitterFactor`: waits between acquisition attempts last up to 1.2 × retry period
/// longer, and the renew deadline must exceed 1.2 × retry period.
pub(crate) const JITTER_FACTOR: f64 = 1.2;

/// The leader election flags of kube-scheduler and kube-controller-manager
/// (`k8s.io/component-base/config/options.BindLeaderElectionFlags`).
#[derive(Clone, Debug, clap::Args)]
pub struct LeaderElectionFlags {
    /// Start a leader election client and gain leadership before executing the main loop.
    /// Enable this when running replicated components for high availability.
    #[arg(
        long = "leader-elect",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub leader_elect: bool,

    /// The duration that non-leader candidates will wait after observing a leadership renewal
    /// until attempting to acquire leadership of a led but unrenewed leader slot.
    #[arg(long = "leader-elect-lease-duration", default_value = "15s", value_parser = parse_go_duration)]
    pub lease_duration: Duration,

    /// The interval between attempts by the acting master to renew a leadership slot before it
    /// stops leading. This must be less than the lease duration.
    #[arg(long = "leader-elect-renew-deadline", default_value = "10s", value_parser = parse_go_duration)]
    pub renew_deadline: Duration,

    /// The duration the clients should wait between attempting acquisition and renewal of a
    /// leadership.
    #[arg(long = "leader-elect-retry-period", default_value = "2s", value_parser = parse_go_duration)]
    pub retry_period: Duration,

    /// The type of resource object that is used for locking during leader election. Only
    /// `leases` is supported (as upstream since 1.29).
    #[arg(long = "leader-elect-resource-lock", default_value = "leases")]
    pub resource_lock: String,

    /// The name of resource object that is used for locking during leader election
    /// (default: the component's name).
    #[arg(long = "leader-elect-resource-name")]
    pub resource_name: Option<String>,

    /// The namespace of resource object that is used for locking during leader election.
    #[arg(long = "leader-elect-resource-namespace", default_value = "kube-system")]
    pub resource_namespace: String,
}

impl LeaderElectionFlags {
    /// The election configuration, `None` with `--leader-elect=false`. `default_name` is the
    /// lease name without `--leader-elect-resource-name` (`kube-scheduler`,
    /// `kube-controller-manager`).
    pub fn config(&self, default_name: &str) -> Result<Option<LeaderElectionConfig>, ClientError> {
        if !self.leader_elect {
            return Ok(None);
        }
        if self.resource_lock != "leases" {
            return Err(ClientError::InvalidConfig(format!(
                "--leader-elect-resource-lock={:?}: only \"leases\" is supported",
                self.resource_lock
            )));
        }
        let name = self.resource_name.as_deref().unwrap_or(default_name);
        let mut config = LeaderElectionConfig::new(&self.resource_namespace, name);
        config.lease_duration = self.lease_duration;
        config.renew_deadline = self.renew_deadline;
        config.retry_period = self.retry_period;
        config.validate()?;
        Ok(Some(config))
    }
}

/// Which Lease to hold, who we are, and the timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Namespace of the `coordination.k8s.io/v1` Lease.
    pub namespace: String,
    /// Name of the Lease; also the `name` label of `leader_election_master_status`.
    pub name: String,
    /// Our `holderIdentity`: `<hostname>_<uuid>` by default, like upstream.
    pub identity: String,
    /// How long others wait after the last observed renewal before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a failing renewal before it gives up leading.
    pub renew_deadline: Duration,
    /// Time between acquisition and renewal attempts.
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// Upstream defaults (15s / 10s / 2s) and a fresh `<hostname>_<uuid>` identity.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: format!("{}_{}", crate::host::hostname(), crate::host::random_uuid()),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Upstream's checks (`NewLeaderElector`), plus: the lease duration is at least a second,
    /// since the Lease counts it in whole seconds.
    pub fn validate(&self) -> Result<(), ClientError> {
        let invalid = |msg: &str| Err(ClientError::InvalidConfig(msg.to_string()));
        if self.namespace.is_empty() || self.name.is_empty() {
            return invalid("leader election lease namespace and name must not be empty");
        }
        if self.identity.is_empty() {
            return invalid("leader election identity must not be empty");
        }
        if self.lease_duration < Duration::from_secs(1) {
            return invalid("leaseDuration must be at least 1s");
        }
        if self.lease_duration <= self.renew_deadline {
            return invalid("leaseDuration must be greater than renewDeadline");
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return invalid("renewDeadline must be greater than retryPeriod*JitterFactor");
        }
        if self.retry_period.is_zero() {
            return invalid("retryPeriod must be greater than zero");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        flags: LeaderElectionFlags,
    }

    fn parse(args: &[&str]) -> Result<LeaderElectionFlags, clap::Error> {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map(|c| c.flags)
    }

    #[test]
    fn defaults_match_upstream() {
        let flags = parse(&[]).expect("parse");
        let config = flags.config("kube-scheduler").expect("valid").expect("enabled");
        assert_eq!(config.namespace, "kube-system");
        assert_eq!(config.name, "kube-scheduler");
        assert_eq!(config.lease_duration, Duration::from_secs(15));
        assert_eq!(config.renew_deadline, Duration::from_secs(10));
        assert_eq!(config.retry_period, Duration::from_secs(2));
        let (host, suffix) = config.identity.rsplit_once('_').expect("host_uuid");
        assert!(!host.is_empty());
        assert_eq!(suffix.len(), 36, "a uuid: {suffix}");
        assert_ne!(config.identity, LeaderElectionConfig::new("a", "b").identity);
    }

    #[test]
    fn leader_elect_is_a_go_bool_flag() {
        assert!(parse(&["--leader-elect"]).expect("parse").leader_elect);
        assert!(parse(&["--leader-elect=true"]).expect("parse").leader_elect);
        let off = parse(&["--leader-elect=false"]).expect("parse");
        assert!(!off.leader_elect);
        assert_eq!(off.config("x").expect("valid"), None);
    }

    #[test]
    fn go_durations_and_names() {
        let flags = parse(&[
            "--leader-elect-lease-duration=1m",
            "--leader-elect-renew-deadline",
            "30s",
            "--leader-elect-retry-period=500ms",
            "--leader-elect-resource-name=mine",
            "--leader-elect-resource-namespace=ns",
        ])
        .expect("parse");
        let config = flags.config("default").expect("valid").expect("enabled");
        assert_eq!(config.lease_duration, Duration::from_secs(60));
        assert_eq!(config.renew_deadline, Duration::from_secs(30));
        assert_eq!(config.retry_period, Duration::from_millis(500));
        assert_eq!((config.namespace.as_str(), config.name.as_str()), ("ns", "mine"));
        assert!(
            parse(&["--leader-elect-lease-duration=15"]).is_err(),
            "unit required"
        );
    }

    #[test]
    fn rejects_inconsistent_timings_and_other_locks() {
        let bad = [
            &["--leader-elect-lease-duration=10s"][..],
            &["--leader-elect-retry-period=9s"][..],
            &["--leader-elect-resource-lock=endpoints"][..],
        ];
        for args in bad {
            let flags = parse(args).expect("parse");
            assert!(flags.config("x").is_err(), "{args:?} should be invalid");
        }
    }
}
