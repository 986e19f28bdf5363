//! Apply conflicts and the 409 `Status` upstream builds from them
//! (`k8s.io/apimachinery/pkg/util/managedfields/internal/conflict.go`).

use crate::status::StatusCause;
use crate::validation::go_quote;

use super::managed::{ManagerId, Operation, identifier};

/// `metav1.CauseTypeFieldManagerConflict`.
pub const CAUSE_FIELD_MANAGER_CONFLICT: &str = "FieldManagerConflict";

/// One field another manager owns and the applied configuration would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owning manager's name.
    pub manager: String,
    /// How the owner wrote the field.
    pub operation: Operation,
    /// The owner's API version (only shown for `Update` owners).
    pub api_version: String,
    /// The owner's subresource, `""` for the main resource.
    pub subresource: String,
    /// The field path as upstream prints it: `.spec.replicas`,
    /// `.spec.template.spec.containers[name="web"].image`.
    pub field: String,
}

impl Conflict {
    fn id(&self) -> ManagerId<'_> {
        ManagerId {
            manager: &self.manager,
            operation: self.operation,
            api_version: match self.operation {
                Operation::Apply => "",
                Operation::Update => &self.api_version,
            },
            subresource: &self.subresource,
        }
    }

    /// Upstream's `printManager`: `"kubectl"` for appliers, `"kubectl-edit" using apps/v1` for
    /// updaters, with ` with subresource "status"` after the name when there is one.
    pub fn describe_manager(&self) -> String {
        let mut out = go_quote(&self.manager);
        if !self.subresource.is_empty() {
            out.push_str(" with subresource ");
            out.push_str(&go_quote(&self.subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(" using ");
            out.push_str(&self.api_version);
        }
        out
    }
}

/// The `Status.message` and `details.causes` of the 409 upstream answers for `conflicts`
/// (`NewConflictError`). One conflict:
/// `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`.
/// Several: `Apply failed with 2 conflicts: conflicts with "a":` then one `- <field>` line per
/// field, managers sorted. Each cause is `{reason: FieldManagerConflict, message: conflict with
/// <manager>, field: <path>}`. Pass both to `ApiError::apply_conflict(causes, message)`.
pub fn conflict_status(conflicts: &[Conflict]) -> (String, Vec<StatusCause>) {
    let causes = conflicts
        .iter()
        .map(|c| {
            StatusCause::new(
                CAUSE_FIELD_MANAGER_CONFLICT,
                format!("conflict with {}", c.describe_manager()),
                c.field.clone(),
            )
        })
        .collect();
    (conflict_message(conflicts), causes)
}

fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.describe_manager(),
            only.field
        );
    }
    // Group by manager identifier, sorted, keeping each manager's field order.
    let mut groups: Vec<(String, &Conflict, Vec<&str>)> = Vec::new();
    for c in conflicts {
        let key = identifier(&c.id());
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, fields)) => fields.push(&c.field),
            None => groups.push((key, c, vec![&c.field])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines = Vec::new();
    for (_, c, fields) in &groups {
        lines.push(format!("conflicts with {}:", c.describe_manager()));
        lines.extend(fields.iter().map(|f| format!("- {f}")));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}
