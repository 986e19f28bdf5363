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
    let condition = |kind: &str, status: bool, reason: &str, message: &str| {
        let state = if status { "True" } else { "False" };
        let since = existing["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == kind && c["status"] == state))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(object::now_rfc3339()));
        json!({ "type": kind, "status": state, "reason": reason, "message": message,
                "lastTransitionTime": since })
    };
    let (names_condition, established) = match &clash {
        None => (
            condition("NamesAccepted", true, "NoConflicts", "no conflicts found"),
            condition(
                "Established",
                true,
                "InitialNamesAccepted",
                "the initial names have been accepted",
            ),
        ),
        Some((reason, message)) => (
            condition("NamesAccepted", false, reason, message),
            condition("Established", false, "NotAccepted", "not all names are accepted"),
        ),
    };
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
        "conditions": [names_condition, established],
        "storedVersions": stored,
    });
    (status, accepted)
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
        assert_eq!(status["conditions"][1]["reason"], "InitialNamesAccepted");

        let mut established = first.clone();
        established["status"] = status;
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
