//! A definition's status as upstream's naming and establishing controllers compute it: the
//! names it asks for are accepted unless another definition of the same group already has them
//! (`NamesAccepted` with `PluralConflict`, `KindConflict`, ... and `"x" is already in use`), and
//! it is `Established` once its names are accepted. `storedVersions` keeps every version ever
//! marked for storage.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::registry::object;

/// The names other definitions of `group` hold (their accepted names).
#[derive(Debug, Default)]
struct Taken {
    resources: HashSet<String>,
    kinds: HashSet<String>,
}

fn taken(crd: &Value, others: &[Value]) -> Taken {
    let group = &crd["spec"]["group"];
    let name = object::name(crd);
    let mut out = Taken::default();
    for other in others {
        if &other["spec"]["group"] != group || object::name(other) == name {
            continue;
        }
        let accepted = &other["status"]["acceptedNames"];
        for field in ["plural", "singular"] {
            if let Some(s) = accepted[field].as_str().filter(|s| !s.is_empty()) {
                out.resources.insert(s.to_string());
            }
        }
        for s in accepted["shortNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            out.resources.insert(s.to_string());
        }
        for field in ["kind", "listKind"] {
            if let Some(s) = accepted[field].as_str().filter(|s| !s.is_empty()) {
                out.kinds.insert(s.to_string());
            }
        }
    }
    out
}

/// The first conflict of the requested names, as `(reason, message)`.
fn conflict(names: &Value, taken: &Taken) -> Option<(&'static str, String)> {
    let text = |f: &str| names[f].as_str().unwrap_or_default().to_string();
    let in_use = |s: &str| format!("{s:?} is already in use");
    let plural = text("plural");
    if taken.resources.contains(&plural) {
        return Some(("PluralConflict", in_use(&plural)));
    }
    let singular = text("singular");
    if taken.resources.contains(&singular) {
        return Some(("SingularConflict", in_use(&singular)));
    }
    for short in names["shortNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if taken.resources.contains(short) {
            return Some(("ShortNamesConflict", in_use(short)));
        }
    }
    let kind = text("kind");
    if taken.kinds.contains(&kind) {
        return Some(("KindConflict", in_use(&kind)));
    }
    let list_kind = text("listKind");
    if taken.kinds.contains(&list_kind) {
        return Some(("ListKindConflict", in_use(&list_kind)));
    }
    None
}

/// The status a definition should have given the other definitions; the flag says whether its
/// names are accepted (and so whether it is served).
pub(crate) fn status_for(crd: &Value, others: &[Value]) -> (Value, bool) {
    let spec = &crd["spec"];
    let mut requested = spec["names"].clone();
    let kind = spec["names"]["kind"].as_str().unwrap_or_default().to_string();
    if requested["singular"].as_str().is_none_or(str::is_empty) {
        requested["singular"] = json!(kind.to_lowercase());
    }
    if requested["listKind"].as_str().is_none_or(str::is_empty) {
        requested["listKind"] = json!(format!("{kind}List"));
    }
    let existing = &crd["status"];
    let clash = conflict(&requested, &taken(crd, others));
    let accepted = clash.is_none();
    let (state, reason, message) = match &clash {
        None => ("True", "NoConflicts", "no conflicts found".to_string()),
        Some((reason, message)) => ("False", *reason, message.clone()),
    };
    let mut conditions = existing["conditions"].as_array().cloned().unwrap_or_default();
    set_condition(&mut conditions, "NamesAccepted", state, reason, &message);
    // Upstream's naming controller: `Established` keeps its old value, except that accepted
    // names of a definition not yet established make it `Installing`; the establishing step
    // (`establish`) turns it true once the resource is served.
    match find(&conditions, "Established").map(|c| c["status"] == "True") {
        Some(true) => {}
        _ if accepted => set_condition(
            &mut conditions,
            "Established",
            "False",
            "Installing",
            "the initial names have been accepted",
        ),
        Some(false) => {}
        None => set_condition(
            &mut conditions,
            "Established",
            "False",
            "NotAccepted",
            "not all names are accepted",
        ),
    }
    let accepted_names = if accepted {
        requested
    } else {
        existing
            .get("acceptedNames")
            .cloned()
            .unwrap_or_else(|| json!({"plural": "", "kind": ""}))
    };
    let mut stored: Vec<Value> = existing["storedVersions"].as_array().cloned().unwrap_or_default();
    if accepted {
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["storage"].as_bool() == Some(true) && !stored.contains(&v["name"]) {
                stored.push(v["name"].clone());
            }
        }
    }
    let status = json!({
        "acceptedNames": accepted_names,
        "conditions": conditions,
        "storedVersions": stored,
    });
    (status, accepted)
}

/// Upstream's establishing controller: a definition whose names are accepted and whose resource
/// is now served becomes `Established`. False when it already was (nothing to write).
pub(crate) fn establish(status: &mut Value) -> bool {
    let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) else {
        return false;
    };
    let established = find(conditions, "Established").is_some_and(|c| c["status"] == "True");
    let accepted = find(conditions, "NamesAccepted").is_some_and(|c| c["status"] == "True");
    if established || !accepted {
        return false;
    }
    set_condition(
        conditions,
        "Established",
        "True",
        "InitialNamesAccepted",
        "the initial names have been accepted",
    );
    true
}

/// The condition of a type, if present.
pub(crate) fn find<'c>(conditions: &'c [Value], kind: &str) -> Option<&'c Value> {
    conditions.iter().find(|c| c["type"] == kind)
}

/// Sets a condition in place (or appends it), as upstream's `SetCRDCondition`: the transition
/// time changes only when the status does.
pub(crate) fn set_condition(
    conditions: &mut Vec<Value>,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
) {
    let since = find(conditions, kind)
        .filter(|c| c["status"] == status)
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(object::now_rfc3339()));
    let condition = json!({ "type": kind, "status": status, "reason": reason, "message": message,
                            "lastTransitionTime": since });
    match conditions.iter_mut().find(|c| c["type"] == kind) {
        Some(slot) => *slot = condition,
        None => conditions.push(condition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(name: &str, plural: &str, kind: &str, short: &[&str]) -> Value {
        json!({"metadata": {"name": name}, "spec": {"group": "example.com",
            "names": {"plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind,
                      "shortNames": short},
            "versions": [{"name": "v1", "served": true, "storage": true}]}})
    }

    #[test]
    fn names_are_accepted_unless_taken_in_the_group() {
        let first = crd("widgets.example.com", "widgets", "Widget", &["wd"]);
        let (status, ok) = status_for(&first, &[]);
        assert!(ok);
        assert_eq!(status["acceptedNames"]["singular"], "widget");
        assert_eq!(status["acceptedNames"]["listKind"], "WidgetList");
        assert_eq!(status["storedVersions"], json!(["v1"]));
        assert_eq!(status["conditions"][0]["reason"], "NoConflicts");
        assert_eq!(status["conditions"][1]["type"], "Established");
        assert_eq!(status["conditions"][1]["status"], "False");
        assert_eq!(status["conditions"][1]["reason"], "Installing");
        let mut status = status;
        assert!(establish(&mut status));
        assert_eq!(status["conditions"][1]["status"], "True");
        assert_eq!(status["conditions"][1]["reason"], "InitialNamesAccepted");
        assert!(!establish(&mut status), "established once");

        let mut established = first.clone();
        established["status"] = status;
        // Established stays: a later reconcile keeps it true.
        let (again, _) = status_for(&established, &[]);
        assert_eq!(again["conditions"][1]["reason"], "InitialNamesAccepted");
        let clash = crd("gadgets.example.com", "gadgets", "Widget", &[]);
        let (status, ok) = status_for(&clash, std::slice::from_ref(&established));
        assert!(!ok);
        assert_eq!(status["conditions"][0]["status"], "False");
        assert_eq!(status["conditions"][0]["reason"], "KindConflict");
        assert_eq!(status["conditions"][0]["message"], "\"Widget\" is already in use");
        assert_eq!(status["conditions"][1]["reason"], "NotAccepted");
        assert_eq!(status["storedVersions"], json!([]));

        let short = crd("gizmos.example.com", "gizmos", "Gizmo", &["wd"]);
        let (status, _) = status_for(&short, std::slice::from_ref(&established));
        assert_eq!(status["conditions"][0]["reason"], "ShortNamesConflict");
        // The definition itself is no conflict.
        assert!(status_for(&established, std::slice::from_ref(&established)).1);
    }
}
