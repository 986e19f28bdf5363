//! Namespace policies (upstream `pod-security-admission/api`): levels, versions and the
//! `pod-security.kubernetes.io/<mode>[-version]` labels.

use rudder_api::validation::{FieldError, FieldPath};
use serde_json::Value;

use super::checks::{BASELINE, BASELINE_ONLY, Check, RESTRICTED, Violation};

/// The newest policy version: this server's minor version.
pub(crate) const LATEST_MINOR: u32 = rudder_api::KUBERNETES_VERSION.1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        match s {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// `latest` or `v1.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Latest,
    Minor(u32),
}

impl Version {
    fn parse(s: &str) -> Option<Version> {
        if s == "latest" {
            return Some(Version::Latest);
        }
        let minor = s.strip_prefix("v1.")?;
        if minor.is_empty() || (minor.len() > 1 && minor.starts_with('0')) {
            return None;
        }
        minor.parse().ok().map(Version::Minor)
    }

    /// The minor version the checks are taken from.
    fn effective(self) -> u32 {
        match self {
            Version::Latest => LATEST_MINOR,
            Version::Minor(m) => m.min(LATEST_MINOR),
        }
    }
}

/// A level at a version (`restricted:latest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LevelVersion {
    pub(crate) level: Level,
    pub(crate) version: Version,
}

impl std::fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            Version::Latest => write!(f, "{}:latest", self.level.as_str()),
            Version::Minor(m) => write!(f, "{}:v1.{m}", self.level.as_str()),
        }
    }
}

const PRIVILEGED: LevelVersion = LevelVersion {
    level: Level::Privileged,
    version: Version::Latest,
};

/// The three modes of a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) enforce: LevelVersion,
    pub(crate) audit: LevelVersion,
    pub(crate) warn: LevelVersion,
}

const PREFIX: &str = "pod-security.kubernetes.io/";

/// The policy of a namespace's labels (upstream `PolicyToEvaluate` with the default
/// `privileged:latest` everywhere), and the label errors. A bad enforce level fails closed
/// (restricted); bad audit and warn levels fail open.
pub(crate) fn policy_of(labels: Option<&Value>) -> (Policy, Vec<FieldError>) {
    let mut policy = Policy {
        enforce: PRIVILEGED,
        audit: PRIVILEGED,
        warn: PRIVILEGED,
    };
    let mut errors = Vec::new();
    let label = |key: &str| {
        labels
            .and_then(|l| l.get(format!("{PREFIX}{key}")))
            .map(|v| v.as_str().unwrap_or_default().to_string())
    };
    let path = |key: &str| {
        FieldPath::new("metadata")
            .child("labels")
            .key(&format!("{PREFIX}{key}"))
    };
    let level = |mode: &str, fallback: Level, errors: &mut Vec<FieldError>| -> Option<Level> {
        let value = label(mode)?;
        match Level::parse(&value) {
            Some(l) => Some(l),
            None => {
                errors.push(FieldError::invalid(
                    &path(mode),
                    value.as_str(),
                    "must be one of privileged, baseline, restricted",
                ));
                Some(fallback)
            }
        }
    };
    let enforce_level = level("enforce", Level::Restricted, &mut errors);
    let audit_level = level("audit", Level::Privileged, &mut errors);
    let warn_level = level("warn", Level::Privileged, &mut errors);
    let version = |mode: &str, errors: &mut Vec<FieldError>| -> Option<Version> {
        let value = label(&format!("{mode}-version"))?;
        match Version::parse(&value) {
            Some(v) => Some(v),
            None => {
                errors.push(FieldError::invalid(
                    &path(&format!("{mode}-version")),
                    value.as_str(),
                    "must be \"latest\" or \"v1.x\"",
                ));
                Some(Version::Latest)
            }
        }
    };
    let enforce_version = version("enforce", &mut errors);
    let audit_version = version("audit", &mut errors);
    let warn_version = version("warn", &mut errors);
    if let Some(l) = enforce_level {
        policy.enforce.level = l;
    }
    if let Some(v) = enforce_version {
        policy.enforce.version = v;
    }
    if let Some(l) = audit_level {
        policy.audit.level = l;
    }
    if let Some(v) = audit_version {
        policy.audit.version = v;
    }
    if let Some(l) = warn_level {
        policy.warn.level = l;
    }
    if let Some(v) = warn_version {
        policy.warn.version = v;
    }
    // Warn follows an explicitly stricter enforce level unless set itself.
    let enforce_valid = label("enforce").is_some_and(|v| Level::parse(&v).is_some());
    if warn_level.is_none() && enforce_valid && policy.enforce.level > policy.warn.level {
        policy.warn.level = policy.enforce.level;
        if warn_version.is_none() {
            policy.warn.version = policy.enforce.version;
        }
    }
    (policy, errors)
}

/// The checks of a level at a version, in upstream's order.
fn checks(lv: LevelVersion) -> Vec<&'static Check> {
    let minor = lv.version.effective();
    let applies = |c: &&'static Check| c.since <= minor;
    match lv.level {
        Level::Privileged => Vec::new(),
        Level::Baseline => BASELINE.iter().chain(BASELINE_ONLY).filter(applies).collect(),
        Level::Restricted => BASELINE.iter().chain(RESTRICTED).filter(applies).collect(),
    }
}

/// Every violation of a pod (metadata, spec) against a level.
pub(crate) fn evaluate(lv: LevelVersion, meta: &Value, spec: &Value) -> Vec<Violation> {
    checks(lv).iter().filter_map(|c| (c.run)(meta, spec)).collect()
}

/// `reason (detail), reason, ...` (upstream `ForbiddenDetail`).
pub(crate) fn detail(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| match v.detail.is_empty() {
            true => v.reason.clone(),
            false => format!("{} ({})", v.reason, v.detail),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `reason, reason` (upstream `ForbiddenReason`).
pub(crate) fn reasons(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.reason.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_make_policies_like_upstream() {
        let lv = |l, v| LevelVersion { level: l, version: v };
        let (p, errs) = policy_of(None);
        assert_eq!((p.enforce, p.warn, errs.len()), (PRIVILEGED, PRIVILEGED, 0));

        let (p, errs) = policy_of(Some(&json!({"pod-security.kubernetes.io/enforce": "restricted"})));
        assert!(errs.is_empty());
        assert_eq!(p.enforce.to_string(), "restricted:latest");
        // Warn follows a stricter enforce level.
        assert_eq!(p.warn, lv(Level::Restricted, Version::Latest));

        let (p, _) = policy_of(Some(&json!({"pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/enforce-version": "v1.30",
            "pod-security.kubernetes.io/warn": "restricted"})));
        assert_eq!(p.enforce.to_string(), "baseline:v1.30");
        assert_eq!(p.warn.to_string(), "restricted:latest");

        let (p, errs) = policy_of(Some(&json!({"pod-security.kubernetes.io/enforce": "strict",
            "pod-security.kubernetes.io/warn-version": "1.30"})));
        assert_eq!(
            p.enforce.level,
            Level::Restricted,
            "a bad enforce level fails closed"
        );
        let messages: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted",
                "metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: \"1.30\": must be \"latest\" or \"v1.x\"",
            ]
        );
    }

    #[test]
    fn versions_select_the_checks_of_their_time() {
        let ids = |v| {
            checks(LevelVersion {
                level: Level::Restricted,
                version: v,
            })
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
        };
        assert!(ids(Version::Latest).contains(&"runAsUser"));
        assert!(!ids(Version::Minor(22)).contains(&"runAsUser"));
        assert!(ids(Version::Minor(22)).contains(&"capabilities_restricted"));
        assert!(!ids(Version::Minor(21)).contains(&"capabilities_restricted"));
        assert_eq!(Version::parse("v1.05"), None);
        assert_eq!(
            Version::parse("v1.99").map(Version::effective),
            Some(LATEST_MINOR)
        );
    }
}
