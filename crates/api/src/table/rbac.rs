//! `rbac.authorization.k8s.io`. Roles and ClusterRoles have no printer upstream (default
//! convertor); bindings show their role and, wide, their subjects.

use serde_json::Value;

use super::util::{age, age_col, arr_at, cells, col, name, name_col, str_at, wide};
use super::{ColumnDefinition, Printer};

pub(super) fn lookup(kind: &str) -> Option<Printer> {
    match kind {
        "RoleBinding" => Some(Printer::new(role_binding_columns, binding_row)),
        "ClusterRoleBinding" => Some(Printer::new(cluster_role_binding_columns, binding_row)),
        _ => None,
    }
}

fn binding_columns(what: &str) -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Role",
            "string",
            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
        ),
        age_col(),
        wide("Users", "string", &format!("Users in the {what}")),
        wide("Groups", "string", &format!("Groups in the {what}")),
        wide(
            "ServiceAccounts",
            "string",
            &format!("ServiceAccounts in the {what}"),
        ),
    ]
}

fn role_binding_columns() -> Vec<ColumnDefinition> {
    binding_columns("roleBinding")
}

fn cluster_role_binding_columns() -> Vec<ColumnDefinition> {
    binding_columns("clusterRoleBinding")
}

fn binding_row(obj: &Value, now: i64) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        str_at(obj, &["roleRef", "kind"]),
        str_at(obj, &["roleRef", "name"])
    );
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in arr_at(obj, &["subjects"]) {
        let subject_name = str_at(s, &["name"]);
        match str_at(s, &["kind"]) {
            "ServiceAccount" => sas.push(format!("{}/{subject_name}", str_at(s, &["namespace"]))),
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    cells![
        name(obj),
        role,
        age(obj, now),
        users.join(", "),
        groups.join(", "),
        sas.join(", "),
    ]
}
