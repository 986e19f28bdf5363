//! Pure parts of namespace finalization (upstream `namespaced_resources_deleter.go`): the
//! status conditions from what a deletion pass found, and the finalized spec.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// The finalizer this controller owns in `spec.finalizers`.
pub const FINALIZER: &str = "kubernetes";

/// What one pass over the namespace's content found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Discovery failed for these group/versions (or entirely, with "").
    pub discovery_failures: Vec<String>,
    /// Deletions that failed, as messages.
    pub delete_failures: Vec<String>,
    /// Objects still present, by `resource.group` (upstream's message format).
    pub remaining: BTreeMap<String, usize>,
    /// Finalizers on remaining objects, with how many objects carry each.
    pub finalizers: BTreeMap<String, usize>,
}

impl Pass {
    /// Whether everything is gone and the namespace can be finalized.
    pub fn done(&self) -> bool {
        self.discovery_failures.is_empty() && self.delete_failures.is_empty() && self.remaining.is_empty()
    }
}

fn cond(
    type_: &str,
    failed: bool,
    reason_true: &str,
    reason_false: &str,
    message: String,
    now: Timestamp,
) -> NamespaceCondition {
    NamespaceCondition {
        type_: type_.into(),
        status: if failed { "True" } else { "False" }.into(),
        reason: Some(if failed { reason_true } else { reason_false }.into()),
        message: Some(message),
        last_transition_time: Some(Time(now)),
    }
}

fn join_counts(m: &BTreeMap<String, usize>, unit: &str) -> String {
    m.iter()
        .map(|(k, n)| format!("{k} has {n} {unit}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Upstream's five deletion conditions for this pass.
pub fn conditions(pass: &Pass, now: Timestamp) -> Vec<NamespaceCondition> {
    vec![
        cond(
            "NamespaceDeletionDiscoveryFailure",
            !pass.discovery_failures.is_empty(),
            "DiscoveryFailed",
            "ResourcesDiscovered",
            if pass.discovery_failures.is_empty() {
                "All resources successfully discovered".into()
            } else {
                format!(
                    "Discovery failed for some groups: {}",
                    pass.discovery_failures.join(", ")
                )
            },
            now,
        ),
        cond(
            "NamespaceDeletionGroupVersionParsingFailure",
            false,
            "GroupVersionParsingFailed",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".into(),
            now,
        ),
        cond(
            "NamespaceDeletionContentFailure",
            !pass.delete_failures.is_empty(),
            "ContentDeletionFailed",
            "ContentDeleted",
            if pass.delete_failures.is_empty() {
                "All content successfully deleted, may be waiting on finalization".into()
            } else {
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    pass.delete_failures.len(),
                    pass.delete_failures.join(", ")
                )
            },
            now,
        ),
        cond(
            "NamespaceContentRemaining",
            !pass.remaining.is_empty(),
            "SomeResourcesRemain",
            "ContentRemoved",
            if pass.remaining.is_empty() {
                "All content successfully removed".into()
            } else {
                format!(
                    "Some resources are remaining: {}",
                    join_counts(&pass.remaining, "resource instances")
                )
            },
            now,
        ),
        cond(
            "NamespaceFinalizersRemaining",
            !pass.finalizers.is_empty(),
            "SomeFinalizersRemain",
            "ContentHasNoFinalizers",
            if pass.finalizers.is_empty() {
                "All content-preserving finalizers finished".into()
            } else {
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    join_counts(&pass.finalizers, "resource instances")
                )
            },
            now,
        ),
    ]
}

/// Keeps a condition's transition time when its status did not change (so repeated passes do
/// not rewrite status for nothing).
pub fn merge_conditions(
    old: &[NamespaceCondition],
    mut new: Vec<NamespaceCondition>,
) -> Vec<NamespaceCondition> {
    for c in &mut new {
        if let Some(o) = old.iter().find(|o| o.type_ == c.type_ && o.status == c.status) {
            c.last_transition_time = o.last_transition_time.clone();
        }
    }
    new
}

/// `spec.finalizers` without ours.
pub fn finalized(finalizers: &[String]) -> Vec<String> {
    finalizers.iter().filter(|f| *f != FINALIZER).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of<'a>(c: &'a [NamespaceCondition], t: &str) -> (&'a str, &'a str) {
        let c = c.iter().find(|c| c.type_ == t).expect("condition");
        (c.status.as_str(), c.reason.as_deref().unwrap_or(""))
    }

    #[test]
    fn clean_pass_conditions() {
        let now = Timestamp::from_second(10).expect("ts");
        let pass = Pass::default();
        assert!(pass.done());
        let c = conditions(&pass, now);
        assert_eq!(c.len(), 5);
        assert_eq!(
            status_of(&c, "NamespaceDeletionContentFailure"),
            ("False", "ContentDeleted")
        );
        assert_eq!(
            status_of(&c, "NamespaceContentRemaining"),
            ("False", "ContentRemoved")
        );
    }

    #[test]
    fn remaining_content_and_finalizers() {
        let now = Timestamp::from_second(10).expect("ts");
        let pass = Pass {
            remaining: BTreeMap::from([("pods.".to_string(), 2), ("widgets.example.com".to_string(), 1)]),
            finalizers: BTreeMap::from([("example.com/keep".to_string(), 1)]),
            delete_failures: vec!["widgets.example.com: forbidden".into()],
            ..Default::default()
        };
        assert!(!pass.done());
        let c = conditions(&pass, now);
        assert_eq!(
            status_of(&c, "NamespaceContentRemaining"),
            ("True", "SomeResourcesRemain")
        );
        assert_eq!(
            status_of(&c, "NamespaceFinalizersRemaining"),
            ("True", "SomeFinalizersRemain")
        );
        assert_eq!(
            status_of(&c, "NamespaceDeletionContentFailure"),
            ("True", "ContentDeletionFailed")
        );
        let msg = c
            .iter()
            .find(|c| c.type_ == "NamespaceContentRemaining")
            .and_then(|c| c.message.clone());
        assert_eq!(
            msg.as_deref(),
            Some(
                "Some resources are remaining: pods. has 2 resource instances, widgets.example.com has 1 resource instances"
            )
        );
        let later = Timestamp::from_second(99).expect("ts");
        let merged = merge_conditions(&c, conditions(&pass, later));
        assert!(merged.iter().all(|m| m.last_transition_time == Some(Time(now))));
    }

    #[test]
    fn finalize_removes_only_ours() {
        let f = vec!["kubernetes".to_string(), "example.com/x".to_string()];
        assert_eq!(finalized(&f), vec!["example.com/x".to_string()]);
    }
}
