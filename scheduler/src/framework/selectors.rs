//! Compiled label selectors, node selector terms and taint tolerations: the matching rules the
//! plugins share, with upstream semantics.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A `metav1.LabelSelector` compiled once (`LabelSelectorAsSelector`): `None` matches nothing,
/// `{}` matches everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    reqs: Vec<(String, Op, Vec<String>)>,
    nothing: bool,
}

impl Selector {
    pub fn nothing() -> Selector {
        Selector {
            reqs: Vec::new(),
            nothing: true,
        }
    }

    pub fn everything() -> Selector {
        Selector {
            reqs: Vec::new(),
            nothing: false,
        }
    }

    /// `SelectorFromSet`: every label must equal.
    pub fn from_map(map: &BTreeMap<String, String>) -> Selector {
        Selector {
            reqs: map
                .iter()
                .map(|(k, v)| (k.clone(), Op::In, vec![v.clone()]))
                .collect(),
            nothing: false,
        }
    }

    /// Compiles a selector; an unknown operator makes it match nothing (upstream rejects the
    /// object at validation, so this only guards against bad input).
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Selector {
        let Some(sel) = sel else {
            return Selector::nothing();
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push((k.clone(), Op::In, vec![v.clone()]));
        }
        for e in sel.match_expressions.iter().flatten() {
            let op = match e.operator.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                _ => return Selector::nothing(),
            };
            reqs.push((e.key.clone(), op, e.values.clone().unwrap_or_default()));
        }
        Selector { reqs, nothing: false }
    }

    /// Adds `key in (value)` (matchLabelKeys merges the pod's own label values this way).
    pub fn and_equals(mut self, key: &str, value: &str) -> Selector {
        self.reqs.push((key.to_string(), Op::In, vec![value.to_string()]));
        self
    }

    /// The AND of two selectors (upstream merges default-spreading selectors this way).
    pub fn and(mut self, other: &Selector) -> Selector {
        self.nothing |= other.nothing;
        self.reqs.extend(other.reqs.iter().cloned());
        self
    }

    pub fn is_everything(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }

    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        if self.nothing {
            return false;
        }
        self.reqs.iter().all(|(key, op, values)| {
            let v = labels.and_then(|l| l.get(key));
            match op {
                Op::In => v.is_some_and(|v| values.iter().any(|x| x == v)),
                Op::NotIn => v.is_none_or(|v| values.iter().all(|x| x != v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
            }
        })
    }
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(v), [bound]) = (value, values) else {
                return false;
            };
            match (v.parse::<i64>(), bound.parse::<i64>()) {
                (Ok(v), Ok(b)) => {
                    if op == "Gt" {
                        v > b
                    } else {
                        v < b
                    }
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// One node selector term: every expression and field requirement must match; a term with
/// neither matches nothing (upstream `nodeaffinity`).
pub fn term_matches(
    term: &NodeSelectorTerm,
    node_name: &str,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let name = node_name.to_string();
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.and_then(|l| l.get(&r.key))))
        && fields.iter().all(|r| {
            r.key == "metadata.name"
                && matches!(r.operator.as_str(), "In" | "NotIn")
                && requirement_matches(r, Some(&name))
        })
}

/// Terms are ORed.
pub fn terms_match(
    terms: &[NodeSelectorTerm],
    node_name: &str,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    terms.iter().any(|t| term_matches(t, node_name, labels))
}

/// Upstream `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref()
        && !effect.is_empty()
        && effect != taint.effect
    {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selector_table() {
        let l = labels(&[("app", "web"), ("tier", "fe")]);
        let cases = vec![
            (json!({}), true),
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "db"}}), false),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["fe"]}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "Bogus"}]}),
                false,
            ),
        ];
        for (sel, want) in cases {
            let s: LabelSelector = serde_json::from_value(sel.clone()).expect("selector");
            assert_eq!(
                Selector::from_label_selector(Some(&s)).matches(Some(&l)),
                want,
                "{sel}"
            );
        }
        assert!(!Selector::from_label_selector(None).matches(Some(&l)));
    }

    #[test]
    fn node_selector_terms_table() {
        let l = labels(&[("zone", "a"), ("cores", "8")]);
        let cases = vec![
            (
                json!({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]}),
                false,
            ),
            (
                json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}),
                true,
            ),
            (
                json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}),
                false,
            ),
            (json!({}), false),
        ];
        for (term, want) in cases {
            let t: NodeSelectorTerm = serde_json::from_value(term.clone()).expect("term");
            assert_eq!(term_matches(&t, "n1", Some(&l)), want, "{term}");
        }
    }

    #[test]
    fn tolerations_table() {
        let taint: Taint =
            serde_json::from_value(json!({"key": "k", "value": "v", "effect": "NoSchedule"})).expect("taint");
        let cases = vec![
            (json!({"key": "k", "value": "v", "effect": "NoSchedule"}), true),
            (json!({"key": "k", "operator": "Exists"}), true),
            (json!({"operator": "Exists"}), true),
            (json!({"key": "k", "value": "w"}), false),
            (json!({"key": "k", "value": "v", "effect": "NoExecute"}), false),
        ];
        for (tol, want) in cases {
            let t: Toleration = serde_json::from_value(tol.clone()).expect("toleration");
            assert_eq!(tolerates(&t, &taint), want, "{tol}");
        }
    }
}
