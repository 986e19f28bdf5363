//! PodDisruptionBudgets in victim selection (upstream `filterPodsWithPDBViolation`): preemption
//! prefers victims whose deletion keeps every budget, and nodes needing fewer budget violations.

use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::framework::PodInfo;
use crate::framework::selectors::Selector;

/// The PodDisruptionBudgets known to the scheduler (an informer store in the binary).
pub trait PdbLister: Send + Sync + std::fmt::Debug {
    fn list(&self) -> Vec<Arc<PodDisruptionBudget>>;
}

/// One budget compiled for matching: namespace, selector, disruptions still allowed and the
/// pods the disruption controller already counts as disrupted.
#[derive(Debug)]
struct Budget<'a> {
    namespace: &'a str,
    selector: Selector,
    allowed: i64,
    pdb: &'a PodDisruptionBudget,
}

impl Budget<'_> {
    fn already_disrupted(&self, pod_name: &str) -> bool {
        self.pdb
            .status
            .as_ref()
            .and_then(|s| s.disrupted_pods.as_ref())
            .is_some_and(|d| d.contains_key(pod_name))
    }
}

/// Splits `pods` (already ordered most important first, and kept in that order) into those
/// whose deletion would take some budget below zero disruptions allowed, and the rest. Each
/// matching pod uses up one allowed disruption of every budget selecting it, in order, so the
/// first `disruptionsAllowed` pods of a budget do not violate it and later ones do.
pub(super) fn split_by_violation(
    pods: Vec<Arc<PodInfo>>,
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut budgets: Vec<Budget<'_>> = pdbs
        .iter()
        .filter_map(|pdb| {
            let spec_selector = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
            // A nil or empty selector matches nothing here (as upstream's preemption says).
            let empty = spec_selector.is_none_or(|s| {
                s.match_labels.as_ref().is_none_or(|m| m.is_empty())
                    && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
            });
            (!empty).then(|| Budget {
                namespace: pdb.metadata.namespace.as_deref().unwrap_or(""),
                selector: Selector::from_label_selector(spec_selector),
                allowed: i64::from(pdb.status.as_ref().map_or(0, |s| s.disruptions_allowed)),
                pdb,
            })
        })
        .collect();
    let mut violating = Vec::new();
    let mut non_violating = Vec::new();
    for info in pods {
        let labels = info.labels().filter(|l| !l.is_empty());
        let namespace = info.namespace();
        let name = info.name();
        let mut violated = false;
        // A pod without labels matches no budget.
        if labels.is_some() {
            for budget in &mut budgets {
                if budget.namespace != namespace || !budget.selector.matches(labels) {
                    continue;
                }
                // Already counted by the apiserver's eviction: not a new disruption.
                if budget.already_disrupted(name) {
                    continue;
                }
                budget.allowed -= 1;
                if budget.allowed < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(info);
        } else {
            non_violating.push(info);
        }
    }
    (violating, non_violating)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::framework::node_info::testing::pod;

    fn pdb(
        ns: &str,
        selector: serde_json::Value,
        allowed: i32,
        disrupted: &[&str],
    ) -> Arc<PodDisruptionBudget> {
        let disrupted: serde_json::Map<String, serde_json::Value> = disrupted
            .iter()
            .map(|n| ((*n).to_string(), json!("2026-01-01T00:00:00Z")))
            .collect();
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "pdb", "namespace": ns},
                "spec": {"selector": selector},
                "status": {"disruptionsAllowed": allowed, "currentHealthy": 0, "desiredHealthy": 0,
                           "expectedPods": 0, "disruptedPods": disrupted}
            }))
            .expect("pdb"),
        )
    }

    fn labelled(name: &str, labels: serde_json::Value) -> Arc<PodInfo> {
        pod(name, "100m", json!({"metadata": {"labels": labels}}))
    }

    fn names(pods: &[Arc<PodInfo>]) -> Vec<&str> {
        pods.iter().map(|p| p.name()).collect()
    }

    #[test]
    fn splits_pods_by_budget() {
        let app = json!({"matchLabels": {"app": "web"}});
        let web = json!({"app": "web"});
        struct Case {
            name: &'static str,
            pods: Vec<Arc<PodInfo>>,
            pdbs: Vec<Arc<PodDisruptionBudget>>,
            violating: Vec<&'static str>,
            non_violating: Vec<&'static str>,
        }
        let cases = vec![
            Case {
                name: "no budgets: nothing violates",
                pods: vec![labelled("a", web.clone()), labelled("b", web.clone())],
                pdbs: vec![],
                violating: vec![],
                non_violating: vec!["a", "b"],
            },
            Case {
                name: "one disruption allowed: the first pod fits the budget, the second violates",
                pods: vec![labelled("a", web.clone()), labelled("b", web.clone())],
                pdbs: vec![pdb("default", app.clone(), 1, &[])],
                violating: vec!["b"],
                non_violating: vec!["a"],
            },
            Case {
                name: "zero allowed: every matching pod violates, others do not",
                pods: vec![
                    labelled("a", web.clone()),
                    labelled("other", json!({"app": "db"})),
                    pod("bare", "100m", json!({})),
                ],
                pdbs: vec![pdb("default", app.clone(), 0, &[])],
                violating: vec!["a"],
                non_violating: vec!["other", "bare"],
            },
            Case {
                name: "a budget in another namespace does not apply",
                pods: vec![labelled("a", web.clone())],
                pdbs: vec![pdb("elsewhere", app.clone(), 0, &[])],
                violating: vec![],
                non_violating: vec!["a"],
            },
            Case {
                name: "an empty selector matches nothing",
                pods: vec![labelled("a", web.clone())],
                pdbs: vec![pdb("default", json!({}), 0, &[])],
                violating: vec![],
                non_violating: vec!["a"],
            },
            Case {
                name: "pods already in disruptedPods use no budget",
                pods: vec![labelled("a", web.clone()), labelled("b", web.clone())],
                pdbs: vec![pdb("default", app.clone(), 1, &["a"])],
                violating: vec![],
                non_violating: vec!["a", "b"],
            },
            Case {
                name: "match expressions select too",
                pods: vec![labelled("a", web.clone())],
                pdbs: vec![pdb(
                    "default",
                    json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}),
                    0,
                    &[],
                )],
                violating: vec!["a"],
                non_violating: vec![],
            },
        ];
        for case in cases {
            let (violating, non_violating) = split_by_violation(case.pods, &case.pdbs);
            assert_eq!(names(&violating), case.violating, "{}", case.name);
            assert_eq!(names(&non_violating), case.non_violating, "{}", case.name);
        }
    }
}
