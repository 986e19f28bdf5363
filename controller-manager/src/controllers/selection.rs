//! `--controllers`: which controllers run. Upstream `IsControllerEnabled`: an explicit `foo`
//! enables, `-foo` disables, otherwise `*` enables the default-on ones.

use std::collections::BTreeSet;

use super::{KNOWN, lookup};

/// A word of `--controllers` that names no controller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not in the list of known controllers")]
pub struct SelectionError(pub String);

/// The parsed `--controllers` list, by canonical name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    star: bool,
    enabled: BTreeSet<&'static str>,
    disabled: BTreeSet<&'static str>,
}

impl Selection {
    /// Parses the comma-split words of `--controllers`.
    pub fn parse(words: &[String]) -> Result<Selection, SelectionError> {
        let mut selection = Selection::default();
        for word in words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
            if word == "*" {
                selection.star = true;
                continue;
            }
            let (negated, name) = match word.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, word),
            };
            let known = lookup(name).ok_or_else(|| SelectionError(name.to_string()))?;
            if negated {
                selection.disabled.insert(known.name);
            } else {
                selection.enabled.insert(known.name);
            }
        }
        Ok(selection)
    }

    /// Whether the controller named `name` (canonical or alias) runs.
    pub fn is_enabled(&self, name: &str) -> bool {
        let Some(known) = lookup(name) else {
            return false;
        };
        if self.disabled.contains(known.name) {
            return false;
        }
        if self.enabled.contains(known.name) {
            return true;
        }
        self.star && known.enabled_by_default
    }

    /// Canonical names of every enabled controller, in table order.
    pub fn enabled(&self) -> Vec<&'static str> {
        KNOWN
            .iter()
            .map(|k| k.name)
            .filter(|n| self.is_enabled(n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(words: &[&str]) -> Selection {
        let words: Vec<String> = words.iter().map(|s| (*s).to_string()).collect();
        Selection::parse(&words).expect("valid")
    }

    #[test]
    fn star_enables_default_on_only() {
        let s = sel(&["*"]);
        assert!(s.is_enabled("deployment"));
        assert!(s.is_enabled("garbage-collector-controller"));
        assert!(!s.is_enabled("bootstrapsigner"));
    }

    #[test]
    fn explicit_words_win_over_star() {
        let s = sel(&["*", "-job", "tokencleaner"]);
        assert!(!s.is_enabled("job"));
        assert!(!s.is_enabled("job-controller"));
        assert!(s.is_enabled("token-cleaner-controller"));
        let only = sel(&["deployment", "replicaset-controller"]);
        assert_eq!(
            only.enabled(),
            vec!["replicaset-controller", "deployment-controller"]
        );
    }

    #[test]
    fn unknown_names_are_errors() {
        let words = vec!["*".to_string(), "-nosuch".to_string()];
        assert_eq!(Selection::parse(&words), Err(SelectionError("nosuch".into())));
    }
}
