//! `metav1.LabelSelector` → matcher, with upstream's semantics (absent selector matches nothing,
//! `{}` matches everything) from rudder-api.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as MetaSelector;
pub use rudder_api::selectors::LabelSelector;

/// The selector as a matcher; an invalid selector matches nothing (upstream controllers skip
/// objects whose selector does not convert).
pub fn matcher(selector: Option<&MetaSelector>) -> LabelSelector {
    let Some(selector) = selector else {
        return LabelSelector::nothing();
    };
    match serde_json::to_value(selector) {
        Ok(value) => {
            LabelSelector::from_label_selector(Some(&value)).unwrap_or_else(|_| LabelSelector::nothing())
        }
        Err(_) => LabelSelector::nothing(),
    }
}

/// Whether `labels` (absent = empty) match `selector`.
pub fn matches(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    selector.matches(labels.unwrap_or(&EMPTY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn selector_semantics() {
        let none = matcher(None);
        assert!(!matches(&none, Some(&labels(&[("a", "b")]))));
        let all = matcher(Some(&MetaSelector::default()));
        assert!(matches(&all, None));
        let app = matcher(Some(&MetaSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        }));
        assert!(matches(&app, Some(&labels(&[("app", "web")]))));
        assert!(!matches(&app, Some(&labels(&[("app", "web"), ("tier", "db")]))));
        assert!(!matches(&app, Some(&labels(&[("app", "api")]))));
    }
}
