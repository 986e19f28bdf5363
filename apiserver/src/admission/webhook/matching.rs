//! Which webhooks a request goes to (upstream `webhook/predicates/rules` and
//! `webhook/predicates/{namespace,object}`): rules (operations, apiGroups, apiVersions,
//! resources with `*` and subresources, scope), then namespaceSelector and objectSelector.
//! Pure functions over the request's attributes and JSON.

use rudder_api::selectors::LabelSelector;
use serde_json::Value;

use crate::admission::Attributes;

const ADMISSION_GROUP: &str = "admissionregistration.k8s.io";

/// Writes to the admission configuration itself never go to webhooks or policies, so that a
/// broken webhook can always be removed (upstream `IsExemptAdmissionConfigurationResource`).
pub(crate) fn is_exempt(attrs: &Attributes<'_>) -> bool {
    attrs.resource.group == ADMISSION_GROUP
        && matches!(
            attrs.resource.plural,
            "validatingwebhookconfigurations"
                | "mutatingwebhookconfigurations"
                | "validatingadmissionpolicies"
                | "validatingadmissionpolicybindings"
                | "mutatingadmissionpolicies"
                | "mutatingadmissionpolicybindings"
        )
}

fn strings(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn listed(list: &[String], want: &str) -> bool {
    list.iter().any(|s| s == "*" || s == want)
}

/// One `RuleWithOperations` against the request (upstream `rules.Matcher.Matches`).
pub(crate) fn rule_matches(rule: &Value, attrs: &Attributes<'_>) -> bool {
    let info = attrs.resource;
    let resource_ok = strings(rule, "resources").iter().any(|r| {
        let (res, sub) = r.split_once('/').unwrap_or((r.as_str(), ""));
        (res == "*" || res == info.plural) && (sub == "*" || sub == attrs.subresource)
    });
    let is_namespace = info.group.is_empty() && info.plural == "namespaces";
    let scope_ok = match rule.get("scope").and_then(Value::as_str).unwrap_or("*") {
        "Cluster" => is_namespace || attrs.namespace.is_empty(),
        "Namespaced" => !is_namespace && !attrs.namespace.is_empty(),
        _ => true,
    };
    listed(&strings(rule, "operations"), attrs.operation.as_str())
        && listed(&strings(rule, "apiGroups"), info.group)
        && listed(&strings(rule, "apiVersions"), info.version)
        && resource_ok
        && scope_ok
}

/// Whether any of `rules` matches (a webhook or policy without rules matches nothing).
pub(crate) fn any_rule_matches(rules: Option<&Value>, attrs: &Attributes<'_>) -> bool {
    rules
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|r| rule_matches(r, attrs)))
}

/// A label selector against labels; an absent or empty selector matches everything, one that
/// does not parse matches nothing (the API validates selectors, so this is only defence).
pub(crate) fn selector_matches(selector: Option<&Value>, labels: Option<&Value>) -> bool {
    let Some(selector) = selector.filter(|s| s.as_object().is_some_and(|m| !m.is_empty())) else {
        return true;
    };
    match LabelSelector::from_label_selector(Some(selector)) {
        Ok(sel) => sel.matches_value(labels.unwrap_or(&Value::Null)),
        Err(_) => false,
    }
}

/// Whether a selector is absent or selects everything (then no lookup is needed).
pub(crate) fn selects_everything(selector: Option<&Value>) -> bool {
    selector.is_none_or(|s| {
        s.as_object().is_none_or(|m| {
            m.values().all(|v| {
                v.as_object().is_some_and(|o| o.is_empty()) || v.as_array().is_some_and(|a| a.is_empty())
            })
        })
    })
}

/// Which namespace's labels a namespaceSelector is matched against: `None` when the selector
/// does not apply (cluster-scoped objects other than namespaces always match, upstream
/// `namespace.Matcher.MatchNamespaceSelector`).
pub(crate) enum NamespaceLabels<'a> {
    NotApplicable,
    /// A write to a Namespace itself: its own labels.
    Own(Option<&'a Value>),
    /// Look up this namespace.
    Lookup(&'a str),
}

pub(crate) fn namespace_labels<'a>(attrs: &Attributes<'a>, obj: Option<&'a Value>) -> NamespaceLabels<'a> {
    let info = attrs.resource;
    if info.group.is_empty() && info.plural == "namespaces" && attrs.subresource.is_empty() {
        let own = obj.or(attrs.old).and_then(|o| o.pointer("/metadata/labels"));
        return NamespaceLabels::Own(own);
    }
    if attrs.namespace.is_empty() {
        return NamespaceLabels::NotApplicable;
    }
    NamespaceLabels::Lookup(attrs.namespace)
}

/// objectSelector: the new or the old object's labels match (upstream `object.Matcher`).
pub(crate) fn object_matches(selector: Option<&Value>, obj: Option<&Value>, old: Option<&Value>) -> bool {
    if selects_everything(selector) {
        return true;
    }
    [obj, old]
        .into_iter()
        .flatten()
        .any(|o| selector_matches(selector, o.pointer("/metadata/labels")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::Operation;
    use crate::admission::tests::{attrs, attrs_in};
    use serde_json::json;

    #[test]
    fn rules_match_like_upstream() {
        let pod_create = attrs(Operation::Create, "pods", "ns", "p");
        let mut pod_status = attrs(Operation::Update, "pods", "ns", "p");
        pod_status.subresource = "status";
        let ns_create = attrs(Operation::Create, "namespaces", "", "ns");
        let deploy = attrs_in("apps", "deployments", Operation::Create, "ns", "d");
        let node = attrs(Operation::Delete, "nodes", "", "n");
        let rule = |ops: &[&str], groups: &[&str], resources: &[&str], scope: Option<&str>| {
            let mut r =
                json!({"operations": ops, "apiGroups": groups, "apiVersions": ["*"], "resources": resources});
            if let Some(s) = scope {
                r["scope"] = json!(s);
            }
            r
        };
        let cases = [
            (rule(&["CREATE"], &[""], &["pods"], None), &pod_create, true),
            (rule(&["UPDATE"], &[""], &["pods"], None), &pod_create, false),
            (rule(&["*"], &["*"], &["*"], None), &pod_create, true),
            // `*` is every resource but no subresource; `*/*` and `pods/status` reach status.
            (rule(&["*"], &["*"], &["*"], None), &pod_status, false),
            (rule(&["*"], &["*"], &["*/*"], None), &pod_status, true),
            (rule(&["*"], &[""], &["pods/status"], None), &pod_status, true),
            (rule(&["*"], &[""], &["pods/*"], None), &pod_status, true),
            (rule(&["*"], &[""], &["pods"], None), &pod_status, false),
            (
                rule(&["CREATE"], &["apps"], &["deployments"], None),
                &deploy,
                true,
            ),
            (rule(&["CREATE"], &[""], &["deployments"], None), &deploy, false),
            // Scope: namespaces count as cluster-scoped.
            (
                rule(&["*"], &["*"], &["*"], Some("Namespaced")),
                &pod_create,
                true,
            ),
            (rule(&["*"], &["*"], &["*"], Some("Namespaced")), &node, false),
            (rule(&["*"], &["*"], &["*"], Some("Cluster")), &node, true),
            (rule(&["*"], &["*"], &["*"], Some("Cluster")), &ns_create, true),
            (
                rule(&["*"], &["*"], &["*"], Some("Namespaced")),
                &ns_create,
                false,
            ),
            (rule(&["*"], &["*"], &["*"], Some("Cluster")), &pod_create, false),
        ];
        for (i, (rule, a, want)) in cases.iter().enumerate() {
            assert_eq!(rule_matches(rule, a), *want, "case {i}: {rule}");
        }
        assert!(!any_rule_matches(None, &pod_create));
    }

    #[test]
    fn selectors_and_exemptions() {
        let labels = json!({"app": "web", "tier": "front"});
        let cases = [
            (None, true),
            (Some(json!({})), true),
            (Some(json!({"matchLabels": {"app": "web"}})), true),
            (Some(json!({"matchLabels": {"app": "db"}})), false),
            (
                Some(json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["back"]}]})),
                true,
            ),
            (
                Some(json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]})),
                false,
            ),
        ];
        for (sel, want) in cases {
            assert_eq!(selector_matches(sel.as_ref(), Some(&labels)), want, "{sel:?}");
        }
        let sel = json!({"matchLabels": {"app": "web"}});
        let old = json!({"metadata": {"labels": {"app": "web"}}});
        let new = json!({"metadata": {"labels": {"app": "db"}}});
        assert!(object_matches(Some(&sel), Some(&new), Some(&old)));
        assert!(!object_matches(Some(&sel), Some(&new), None));
        assert!(object_matches(Some(&json!({})), None, None));

        let vwc = attrs_in(
            ADMISSION_GROUP,
            "validatingwebhookconfigurations",
            Operation::Create,
            "",
            "w",
        );
        assert!(is_exempt(&vwc));
        assert!(!is_exempt(&attrs(Operation::Create, "pods", "ns", "p")));
        assert!(matches!(
            namespace_labels(&attrs(Operation::Create, "nodes", "", "n"), None),
            NamespaceLabels::NotApplicable
        ));
        assert!(matches!(
            namespace_labels(&attrs(Operation::Create, "pods", "ns", "p"), None),
            NamespaceLabels::Lookup("ns")
        ));
        let ns = json!({"metadata": {"labels": {"team": "a"}}});
        assert!(matches!(
            namespace_labels(&attrs(Operation::Create, "namespaces", "", "ns"), Some(&ns)),
            NamespaceLabels::Own(Some(_))
        ));
    }
}
