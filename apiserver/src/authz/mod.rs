//! Request authorization, as upstream's `--authorization-mode` union
//! (`pkg/kubeapiserver/authorizer/config.go`, `apiserver/pkg/authorization/union`):
//!
//! - members of `system:masters` are allowed everything before any mode runs (upstream's
//!   privileged-groups authorizer);
//! - then each mode in order: the first `Allow` or `Deny` decides; `NoOpinion` passes on;
//! - nobody deciding is a denial, with the reasons of every mode joined.
//!
//! Modes: `AlwaysAllow`, `AlwaysDeny`, `RBAC` ([`rbac`]) and `Node` ([`node`]).

pub(crate) mod aggregation;
pub(crate) mod attributes;
pub(crate) mod escalation;
pub(crate) mod node;
pub(crate) mod policy;
pub(crate) mod rbac;
pub(crate) mod reviews;

use std::sync::Arc;

pub(crate) use attributes::Attributes;

use crate::authn::UserInfo;

/// The group whose members may do anything (upstream `user.SystemPrivilegedGroup`).
pub const SYSTEM_MASTERS: &str = "system:masters";

/// One authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow(String),
    Deny(String),
    NoOpinion(String),
}

impl Decision {
    pub(crate) fn allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    pub(crate) fn reason(&self) -> &str {
        match self {
            Decision::Allow(r) | Decision::Deny(r) | Decision::NoOpinion(r) => r,
        }
    }
}

/// An authorization mode.
pub(crate) trait Authorize: Send + Sync + std::fmt::Debug {
    fn authorize(&self, attrs: &Attributes) -> Decision;
}

/// `--authorization-mode` values, as upstream spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    AlwaysAllow,
    AlwaysDeny,
    Rbac,
    Node,
}

/// An `--authorization-mode` that is not one we know, or a repeated one.
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error("authorization-mode {0:?} is not a valid mode (AlwaysAllow, AlwaysDeny, Node, RBAC)")]
    Unknown(String),
    #[error("authorization-mode {0:?} has already been specified")]
    Repeated(String),
    #[error("at least one authorization-mode must be passed")]
    Empty,
}

/// Parses the comma-separated `--authorization-mode` list (upstream refuses repeats).
pub fn parse_modes(values: &[String]) -> Result<Vec<Mode>, ModeError> {
    let mut modes = Vec::new();
    for value in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        let mode = match value {
            "AlwaysAllow" => Mode::AlwaysAllow,
            "AlwaysDeny" => Mode::AlwaysDeny,
            "RBAC" => Mode::Rbac,
            "Node" => Mode::Node,
            other => return Err(ModeError::Unknown(other.to_string())),
        };
        if modes.contains(&mode) {
            return Err(ModeError::Repeated(value.to_string()));
        }
        modes.push(mode);
    }
    if modes.is_empty() {
        return Err(ModeError::Empty);
    }
    Ok(modes)
}

#[derive(Debug)]
struct AlwaysAllow;

impl Authorize for AlwaysAllow {
    fn authorize(&self, _: &Attributes) -> Decision {
        Decision::Allow(String::new())
    }
}

#[derive(Debug)]
struct AlwaysDeny;

impl Authorize for AlwaysDeny {
    fn authorize(&self, _: &Attributes) -> Decision {
        Decision::Deny("Everything is forbidden.".into())
    }
}

/// The configured chain of modes.
#[derive(Debug, Clone)]
pub(crate) struct Authorizer {
    chain: Vec<Arc<dyn Authorize>>,
    /// The RBAC mode when configured: reviews and escalation checks read rules from it.
    pub(crate) rbac: Option<Arc<rbac::RbacAuthorizer>>,
}

impl Authorizer {
    pub(crate) fn new(modes: &[Mode], registry: &Arc<crate::registry::Registry>) -> Self {
        let mut chain: Vec<Arc<dyn Authorize>> = Vec::new();
        let mut rbac = None;
        for mode in modes {
            match mode {
                Mode::AlwaysAllow => chain.push(Arc::new(AlwaysAllow)),
                Mode::AlwaysDeny => chain.push(Arc::new(AlwaysDeny)),
                Mode::Node => chain.push(Arc::new(node::NodeAuthorizer::new(registry.clone()))),
                Mode::Rbac => {
                    let authorizer = Arc::new(rbac::RbacAuthorizer::new(registry.clone()));
                    rbac = Some(authorizer.clone());
                    chain.push(authorizer);
                }
            }
        }
        Self { chain, rbac }
    }

    /// The union's decision: privileged group first, then each mode until one decides.
    pub(crate) fn authorize(&self, attrs: &Attributes) -> Decision {
        if attrs.user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
            return Decision::Allow(String::new());
        }
        let mut reasons = Vec::new();
        for member in &self.chain {
            match member.authorize(attrs) {
                Decision::NoOpinion(reason) => {
                    if !reason.is_empty() {
                        reasons.push(reason);
                    }
                }
                decided => return decided,
            }
        }
        Decision::NoOpinion(reasons.join("\n"))
    }

    /// Shorthand for "may `user` do `verb` on this resource".
    pub(crate) fn allows(&self, attrs: &Attributes) -> bool {
        self.authorize(attrs).allowed()
    }
}

/// Whether a user is a node (`system:node:<name>` in `system:nodes`); returns the node name.
pub(crate) fn node_name(user: &UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix("system:node:")?;
    (!name.is_empty() && user.groups.iter().any(|g| g == "system:nodes")).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes_like_upstream() {
        let modes = parse_modes(&["Node,RBAC".into()]).expect("valid");
        assert_eq!(modes, vec![Mode::Node, Mode::Rbac]);
        assert!(matches!(
            parse_modes(&["RBAC,RBAC".into()]),
            Err(ModeError::Repeated(_))
        ));
        assert!(matches!(
            parse_modes(&["ABAC".into()]),
            Err(ModeError::Unknown(_))
        ));
        assert!(matches!(parse_modes(&[]), Err(ModeError::Empty)));
    }

    #[test]
    fn flags_parse_as_upstreams() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            let mut argv = vec!["kube-apiserver"];
            argv.extend_from_slice(args);
            crate::options::Options::try_parse_from(argv)
                .expect("flags")
                .into_config()
        };
        let defaults = parse(&[]).expect("config").auth;
        assert!(!defaults.anonymous_auth);
        assert_eq!(defaults.authorization_modes, vec![Mode::Node, Mode::Rbac]);
        assert_eq!(
            defaults.service_account_issuers,
            [crate::authn_sa::DEFAULT_ISSUER]
        );
        let set = parse(&[
            "--anonymous-auth=true",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://a",
            "--service-account-issuer=https://b",
            "--api-audiences=x,y",
        ])
        .expect("config")
        .auth;
        assert!(set.anonymous_auth);
        assert_eq!(set.authorization_modes, vec![Mode::Rbac]);
        assert_eq!(set.service_account_issuers, ["https://a", "https://b"]);
        assert_eq!(set.api_audiences, ["x", "y"]);
        assert!(
            !parse(&["--anonymous-auth=false"])
                .expect("config")
                .auth
                .anonymous_auth
        );
        assert!(parse(&["--authorization-mode=Node,Webhook"]).is_err());
    }

    #[test]
    fn node_identity_needs_the_group() {
        let mut user = UserInfo {
            name: "system:node:n1".into(),
            ..UserInfo::default()
        };
        assert_eq!(node_name(&user), None);
        user.groups.push("system:nodes".into());
        assert_eq!(node_name(&user), Some("n1"));
    }
}
