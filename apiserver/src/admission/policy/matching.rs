//! Which requests a ValidatingAdmissionPolicy and its bindings select (upstream
//! `policy/matching`): a `MatchResources` (namespaceSelector, objectSelector, resourceRules
//! with resourceNames, excludeResourceRules). Pure: the namespace's labels are passed in.

use serde_json::Value;

use crate::admission::Attributes;
use crate::admission::webhook::matching::{object_matches, rule_matches, selector_matches};

/// One `NamedRuleWithOperations`: a webhook rule plus optional resourceNames.
fn named_rule_matches(rule: &Value, attrs: &Attributes<'_>) -> bool {
    let names_ok = match rule.get("resourceNames").and_then(Value::as_array) {
        Some(names) if !names.is_empty() => names.iter().any(|n| n.as_str() == Some(attrs.name)),
        _ => true,
    };
    names_ok && rule_matches(rule, attrs)
}

fn any(rules: Option<&Value>, attrs: &Attributes<'_>) -> bool {
    rules
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|r| named_rule_matches(r, attrs)))
}

/// Whether `match_resources` selects the request (upstream `matching.Matcher.Matches`): an
/// absent `MatchResources` or one without resourceRules selects every resource.
/// `namespace_labels` is `None` for cluster-scoped requests (other than namespaces).
pub(crate) fn matches(
    match_resources: Option<&Value>,
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    namespace_labels: Option<&Value>,
    cluster_scoped: bool,
) -> bool {
    let Some(mr) = match_resources else {
        return true;
    };
    if !cluster_scoped && !selector_matches(mr.get("namespaceSelector"), namespace_labels) {
        return false;
    }
    let new = (attrs.operation != crate::admission::Operation::Delete)
        .then_some(obj)
        .flatten();
    if !object_matches(mr.get("objectSelector"), new, attrs.old) {
        return false;
    }
    if any(mr.get("excludeResourceRules"), attrs) {
        return false;
    }
    match mr.get("resourceRules").and_then(Value::as_array) {
        Some(rules) if !rules.is_empty() => rules.iter().any(|r| named_rule_matches(r, attrs)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::Operation;
    use crate::admission::tests::{attrs, attrs_in};
    use serde_json::json;

    #[test]
    fn match_resources_like_upstream() {
        let deploy = attrs_in("apps", "deployments", Operation::Create, "prod", "web");
        let labels = json!({"env": "prod"});
        let rules = json!([{"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"]}]);
        let cases = [
            (None, true),
            (Some(json!({})), true),
            (Some(json!({"resourceRules": rules})), true),
            (
                Some(
                    json!({"resourceRules": [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["pods"]}]}),
                ),
                false,
            ),
            (
                Some(json!({"resourceRules": rules, "namespaceSelector": {"matchLabels": {"env": "prod"}}})),
                true,
            ),
            (
                Some(json!({"namespaceSelector": {"matchLabels": {"env": "dev"}}})),
                false,
            ),
            (
                Some(json!({"objectSelector": {"matchLabels": {"app": "x"}}})),
                false,
            ),
            (Some(json!({"excludeResourceRules": rules})), false),
            (
                Some(
                    json!({"resourceRules": [{"operations": ["*"], "apiGroups": ["apps"], "apiVersions": ["*"], "resources": ["*"], "resourceNames": ["other"]}]}),
                ),
                false,
            ),
            (
                Some(
                    json!({"resourceRules": [{"operations": ["*"], "apiGroups": ["apps"], "apiVersions": ["*"], "resources": ["*"], "resourceNames": ["web"]}]}),
                ),
                true,
            ),
        ];
        for (i, (mr, want)) in cases.iter().enumerate() {
            assert_eq!(
                matches(mr.as_ref(), &deploy, None, Some(&labels), false),
                *want,
                "case {i}: {mr:?}"
            );
        }
        // Cluster-scoped requests ignore the namespaceSelector.
        let node = attrs(Operation::Create, "nodes", "", "n");
        let sel = json!({"namespaceSelector": {"matchLabels": {"env": "dev"}}});
        assert!(matches(Some(&sel), &node, None, None, true));
    }
}
