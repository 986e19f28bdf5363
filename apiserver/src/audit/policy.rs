//! `--audit-policy-file`: upstream's audit Policy (audit.k8s.io/v1), and the first-match rule
//! evaluation of pkg/audit/policy/checker.go.

use std::path::Path;

use serde::Deserialize;

/// How much of a request is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub(crate) enum Level {
    None,
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }
}

/// The stages of a request's life that produce an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum Stage {
    RequestReceived,
    ResponseStarted,
    ResponseComplete,
    Panic,
}

impl Stage {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyFile {
    kind: Option<String>,
    api_version: Option<String>,
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    omit_stages: Vec<Stage>,
    #[serde(default)]
    omit_managed_fields: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rule {
    pub(crate) level: Level,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    user_groups: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    resources: Vec<GroupResources>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    non_resource_urls: Vec<String>,
    #[serde(default)]
    omit_stages: Vec<Stage>,
    omit_managed_fields: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupResources {
    #[serde(default)]
    group: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    resource_names: Vec<String>,
}

/// What the policy decides for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) level: Level,
    pub(crate) omit_stages: Vec<Stage>,
    pub(crate) omit_managed_fields: bool,
}

/// The request facts rules match on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request<'a> {
    pub(crate) user: &'a str,
    pub(crate) groups: &'a [String],
    pub(crate) verb: &'a str,
    pub(crate) resource_request: bool,
    pub(crate) api_group: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) subresource: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    pub(crate) path: &'a str,
}

#[derive(Debug)]
pub(crate) struct Policy {
    rules: Vec<Rule>,
    omit_stages: Vec<Stage>,
    omit_managed_fields: bool,
}

impl Policy {
    pub(crate) fn load(path: &Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub(crate) fn parse(text: &str) -> Result<Policy, String> {
        let file: PolicyFile = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        if file.kind.as_deref() != Some("Policy") {
            return Err(format!("kind is {:?}, not Policy", file.kind.unwrap_or_default()));
        }
        if !matches!(file.api_version.as_deref(), Some("audit.k8s.io/v1")) {
            return Err(format!(
                "apiVersion is {:?}, not audit.k8s.io/v1",
                file.api_version.unwrap_or_default()
            ));
        }
        for (i, rule) in file.rules.iter().enumerate() {
            if !rule.resources.is_empty() && !rule.non_resource_urls.is_empty() {
                return Err(format!(
                    "rules[{i}]: rules cannot apply to both regular resources and non-resource URLs"
                ));
            }
        }
        Ok(Policy {
            rules: file.rules,
            omit_stages: file.omit_stages,
            omit_managed_fields: file.omit_managed_fields,
        })
    }

    /// The first rule that matches decides; no match means level None.
    pub(crate) fn evaluate(&self, req: &Request<'_>) -> Decision {
        match self.rules.iter().find(|r| r.matches(req)) {
            Some(rule) => Decision {
                level: rule.level,
                omit_stages: self
                    .omit_stages
                    .iter()
                    .chain(&rule.omit_stages)
                    .copied()
                    .collect(),
                omit_managed_fields: rule.omit_managed_fields.unwrap_or(self.omit_managed_fields),
            },
            None => Decision {
                level: Level::None,
                omit_stages: Vec::new(),
                omit_managed_fields: false,
            },
        }
    }
}

impl Rule {
    fn matches(&self, req: &Request<'_>) -> bool {
        if !self.users.is_empty() && !self.users.iter().any(|u| u == req.user) {
            return false;
        }
        if !self.user_groups.is_empty() && !self.user_groups.iter().any(|g| req.groups.contains(g)) {
            return false;
        }
        if !self.verbs.is_empty() && !self.verbs.iter().any(|v| v == req.verb) {
            return false;
        }
        if req.resource_request {
            if !self.non_resource_urls.is_empty() {
                return false;
            }
            if !self.namespaces.is_empty() && !self.namespaces.iter().any(|n| n == req.namespace) {
                return false;
            }
            self.resources.is_empty() || self.resources.iter().any(|g| g.matches(req))
        } else {
            if !self.resources.is_empty() || !self.namespaces.is_empty() {
                return false;
            }
            self.non_resource_urls.is_empty()
                || self.non_resource_urls.iter().any(|u| url_matches(u, req.path))
        }
    }
}

impl GroupResources {
    fn matches(&self, req: &Request<'_>) -> bool {
        if self.group != req.api_group {
            return false;
        }
        if !self.resources.is_empty() {
            let full = if req.subresource.is_empty() {
                req.resource.to_string()
            } else {
                format!("{}/{}", req.resource, req.subresource)
            };
            let hit = self.resources.iter().any(|r| {
                r == "*"
                    || *r == full
                    || (r.starts_with("*/") && !req.subresource.is_empty() && r[2..] == *req.subresource)
                    || (r.ends_with("/*") && !req.subresource.is_empty() && r[..r.len() - 2] == *req.resource)
            });
            if !hit {
                return false;
            }
        }
        self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == req.name)
    }
}

/// `/healthz*` matches by prefix, anything else exactly.
fn url_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
  - level: None
    nonResourceURLs: ["/healthz*", "/version"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps"]
  - level: Request
    resources:
      - group: ""
        resources: ["pods/log", "*/status"]
  - level: RequestResponse
    namespaces: ["audited"]
    omitStages: [ResponseStarted]
  - level: Metadata
"#;

    fn req<'a>(verb: &'a str, group: &'a str, resource: &'a str, sub: &'a str, ns: &'a str) -> Request<'a> {
        Request {
            user: "alice",
            verb,
            resource_request: true,
            api_group: group,
            resource,
            subresource: sub,
            namespace: ns,
            ..Request::default()
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let p = Policy::parse(POLICY).unwrap();
        let level = |r: &Request<'_>| p.evaluate(r).level;
        assert_eq!(level(&req("get", "", "secrets", "", "default")), Level::Metadata);
        assert_eq!(level(&req("get", "", "pods", "log", "default")), Level::Request);
        assert_eq!(
            level(&req("update", "apps", "deployments", "status", "x")),
            Level::Metadata,
            "group differs"
        );
        assert_eq!(
            level(&req("update", "", "pods", "status", "x")),
            Level::Request,
            "*/status"
        );
        assert_eq!(
            level(&req("create", "apps", "deployments", "", "audited")),
            Level::RequestResponse
        );
        let proxy = Request {
            user: "system:kube-proxy",
            ..req("watch", "", "services", "", "")
        };
        assert_eq!(level(&proxy), Level::None);
        let health = Request {
            verb: "get",
            path: "/healthz/ready",
            ..Request::default()
        };
        assert_eq!(level(&health), Level::None);
        let other = Request {
            verb: "get",
            path: "/openapi/v3",
            ..Request::default()
        };
        assert_eq!(level(&other), Level::Metadata, "the catch-all");
    }

    #[test]
    fn omitted_stages_combine_policy_and_rule() {
        let p = Policy::parse(POLICY).unwrap();
        let d = p.evaluate(&req("create", "apps", "deployments", "", "audited"));
        assert_eq!(
            d.omit_stages,
            vec![Stage::RequestReceived, Stage::ResponseStarted]
        );
        assert_eq!(
            Policy::parse("apiVersion: audit.k8s.io/v1\nkind: Policy\n")
                .unwrap()
                .evaluate(&req("get", "", "pods", "", ""))
                .level,
            Level::None
        );
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(
            Policy::parse("apiVersion: v1\nkind: Policy\n")
                .unwrap_err()
                .contains("audit.k8s.io/v1")
        );
        let both = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  resources: [{group: ''}]\n  nonResourceURLs: ['/x']\n";
        assert!(Policy::parse(both).unwrap_err().contains("rules[0]"));
        assert!(Policy::parse("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n").is_err());
    }
}
