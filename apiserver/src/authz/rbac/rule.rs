//! Policy-rule matching (upstream `plugin/pkg/auth/authorizer/rbac/rbac.go` `RuleAllows` and
//! `pkg/apis/rbac/v1/evaluation_helpers.go`) and rule coverage for escalation checks
//! (`pkg/registry/rbac/validation/policy_comparator.go` `Covers`).

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::authz::Attributes;

const ALL: &str = "*";

fn has(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == ALL || v == value)
}

fn list(field: &Option<Vec<String>>) -> &[String] {
    field.as_deref().unwrap_or_default()
}

/// Whether `rule` allows the request.
pub(crate) fn allows(rule: &PolicyRule, attrs: &Attributes) -> bool {
    if attrs.resource_request {
        let combined = if attrs.subresource.is_empty() {
            attrs.resource.clone()
        } else {
            format!("{}/{}", attrs.resource, attrs.subresource)
        };
        has(&rule.verbs, &attrs.verb)
            && has(list(&rule.api_groups), &attrs.api_group)
            && resource_matches(list(&rule.resources), &combined, &attrs.subresource)
            && name_matches(list(&rule.resource_names), &attrs.name)
    } else {
        has(&rule.verbs, &attrs.verb) && url_matches(list(&rule.non_resource_urls), &attrs.path)
    }
}

/// `*`, the exact `resource[/subresource]`, or `*/subresource`.
fn resource_matches(rule_resources: &[String], combined: &str, subresource: &str) -> bool {
    rule_resources.iter().any(|r| {
        r == ALL
            || r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/").is_some_and(|s| s == subresource))
    })
}

/// No names in the rule means every name; otherwise the requested name must be listed (a
/// request without a name, such as list, matches no named rule).
fn name_matches(names: &[String], name: &str) -> bool {
    names.is_empty() || names.iter().any(|n| n == name)
}

/// Exact path, `*`, or a prefix ending in `*`.
fn url_matches(urls: &[String], path: &str) -> bool {
    urls.iter()
        .any(|u| u == ALL || u == path || u.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix)))
}

/// Whether `owner` rules together grant everything `requested` grants; returns the requested
/// rules (broken into their smallest parts) that are not covered.
pub(crate) fn uncovered(owner: &[PolicyRule], requested: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut missing = Vec::new();
    for rule in requested {
        for part in breakdown(rule) {
            if !owner.iter().any(|o| covers_one(o, &part)) {
                missing.push(part);
            }
        }
    }
    missing
}

/// Upstream's `BreakdownRule`: one rule per (group, resource, verb), names and URLs kept per
/// part.
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut parts = Vec::new();
    for group in list(&rule.api_groups) {
        for resource in list(&rule.resources) {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    api_groups: Some(vec![group.clone()]),
                    resources: Some(vec![resource.clone()]),
                    verbs: vec![verb.clone()],
                    ..Default::default()
                };
                if list(&rule.resource_names).is_empty() {
                    parts.push(base);
                } else {
                    for name in list(&rule.resource_names) {
                        parts.push(PolicyRule {
                            resource_names: Some(vec![name.clone()]),
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for url in list(&rule.non_resource_urls) {
        for verb in &rule.verbs {
            parts.push(PolicyRule {
                non_resource_urls: Some(vec![url.clone()]),
                verbs: vec![verb.clone()],
                ..Default::default()
            });
        }
    }
    parts
}

/// Upstream `ruleCovers` for one broken-down rule.
fn covers_one(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = sub.verbs.iter().all(|v| has(&owner.verbs, v));
    let urls = list(&sub.non_resource_urls)
        .iter()
        .all(|u| url_covers(list(&owner.non_resource_urls), u));
    let groups = list(&sub.api_groups)
        .iter()
        .all(|g| has(list(&owner.api_groups), g));
    let resources = list(&sub.resources)
        .iter()
        .all(|r| resource_covers(list(&owner.resources), r));
    let owner_names = list(&owner.resource_names);
    let names = owner_names.is_empty()
        || (!list(&sub.resource_names).is_empty()
            && list(&sub.resource_names).iter().all(|n| owner_names.contains(n)));
    verbs && urls && groups && resources && names
}

fn url_covers(owner: &[String], requested: &str) -> bool {
    owner.iter().any(|o| {
        o == ALL
            || o == requested
            || o.strip_suffix('*')
                .is_some_and(|prefix| requested.starts_with(prefix))
    })
}

/// `*`, equal, or `*/sub` covering `x/sub`, or `x/*` covering `x/sub` (upstream's
/// `hasResource`).
fn resource_covers(owner: &[String], requested: &str) -> bool {
    owner.iter().any(|o| {
        if o == ALL || o == requested {
            return true;
        }
        let Some((res, sub)) = requested.split_once('/') else {
            return false;
        };
        o.strip_prefix("*/").is_some_and(|s| s == sub) || o.strip_suffix("/*").is_some_and(|r| r == res)
    })
}

/// Upstream's compact rule text in escalation errors: `{APIGroups:[""], Resources:["pods"],
/// Verbs:["get"]}`.
pub(crate) fn compact(rule: &PolicyRule) -> String {
    let quoted = |values: &[String]| {
        values
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut fields = Vec::new();
    if !list(&rule.api_groups).is_empty() {
        fields.push(format!("APIGroups:[{}]", quoted(list(&rule.api_groups))));
    }
    if !list(&rule.resources).is_empty() {
        fields.push(format!("Resources:[{}]", quoted(list(&rule.resources))));
    }
    if !list(&rule.non_resource_urls).is_empty() {
        fields.push(format!(
            "NonResourceURLs:[{}]",
            quoted(list(&rule.non_resource_urls))
        ));
    }
    if !list(&rule.resource_names).is_empty() {
        fields.push(format!("ResourceNames:[{}]", quoted(list(&rule.resource_names))));
    }
    fields.push(format!("Verbs:[{}]", quoted(&rule.verbs)));
    format!("{{{}}}", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::UserInfo;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect());
        PolicyRule {
            api_groups: v(groups),
            resources: v(resources),
            verbs: verbs.iter().map(|x| x.to_string()).collect(),
            ..Default::default()
        }
    }

    fn req(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            subresource: sub.into(),
            ..Attributes::resource(&UserInfo::default(), verb, group, resource, "ns", name)
        }
    }

    #[test]
    fn resource_rules() {
        let pods = rule(&[""], &["pods"], &["get", "list"]);
        assert!(allows(&pods, &req("get", "", "pods", "", "p")));
        assert!(!allows(&pods, &req("delete", "", "pods", "", "p")));
        assert!(!allows(&pods, &req("get", "apps", "pods", "", "p")));
        assert!(!allows(&pods, &req("get", "", "pods", "log", "p")));
        let logs = rule(&[""], &["pods/log"], &["get"]);
        assert!(allows(&logs, &req("get", "", "pods", "log", "p")));
        let any_status = rule(&["*"], &["*/status"], &["*"]);
        assert!(allows(
            &any_status,
            &req("update", "apps", "deployments", "status", "d")
        ));
        assert!(!allows(
            &any_status,
            &req("update", "apps", "deployments", "", "d")
        ));
        let named = PolicyRule {
            resource_names: Some(vec!["a".into()]),
            ..rule(&[""], &["secrets"], &["get", "list"])
        };
        assert!(allows(&named, &req("get", "", "secrets", "", "a")));
        assert!(!allows(&named, &req("get", "", "secrets", "", "b")));
        assert!(!allows(&named, &req("list", "", "secrets", "", "")));
    }

    #[test]
    fn non_resource_rules() {
        let r = PolicyRule {
            non_resource_urls: Some(vec!["/healthz".into(), "/apis/*".into()]),
            verbs: vec!["get".into()],
            ..Default::default()
        };
        let get = |path: &str| Attributes {
            verb: "get".into(),
            path: path.into(),
            ..Default::default()
        };
        assert!(allows(&r, &get("/healthz")));
        assert!(allows(&r, &get("/apis/apps/v1")));
        assert!(!allows(&r, &get("/api/v1")));
        // A resource rule never allows a path.
        assert!(!allows(&rule(&["*"], &["*"], &["*"]), &get("/healthz")));
    }

    #[test]
    fn coverage() {
        let owner = vec![rule(&[""], &["pods", "services"], &["get", "list", "create"])];
        assert!(uncovered(&owner, &[rule(&[""], &["pods"], &["get"])]).is_empty());
        let missing = uncovered(&owner, &[rule(&[""], &["pods", "secrets"], &["get", "delete"])]);
        assert_eq!(missing.len(), 3, "{missing:?}");
        assert!(!uncovered(&owner, &[rule(&["*"], &["*"], &["*"])]).is_empty());
        let star = vec![rule(&["*"], &["*"], &["*"])];
        assert!(uncovered(&star, &[rule(&["apps"], &["deployments/scale"], &["patch"])]).is_empty());
        let sub = vec![rule(&[""], &["pods/*"], &["get"])];
        assert!(uncovered(&sub, &[rule(&[""], &["pods/log"], &["get"])]).is_empty());
        assert_eq!(
            compact(&rule(&["*"], &["*"], &["*"])),
            r#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#
        );
    }
}
