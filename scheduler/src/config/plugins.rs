//! The `plugins` section of a KubeSchedulerConfiguration profile: per extension point, which
//! plugins are enabled (with score weights) and disabled (`*` for all defaults).

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PluginRef {
    pub name: String,
    #[serde(default)]
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PluginSet {
    #[serde(default)]
    pub enabled: Vec<PluginRef>,
    #[serde(default)]
    pub disabled: Vec<PluginRef>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Plugins {
    #[serde(default)]
    pub multi_point: PluginSet,
    #[serde(default)]
    pub pre_filter: PluginSet,
    #[serde(default)]
    pub filter: PluginSet,
    #[serde(default)]
    pub post_filter: PluginSet,
    #[serde(default)]
    pub pre_score: PluginSet,
    #[serde(default)]
    pub score: PluginSet,
    #[serde(default)]
    pub reserve: PluginSet,
    #[serde(default)]
    pub bind: PluginSet,
}

/// The extension points a profile lists plugins for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    PreFilter,
    Filter,
    PostFilter,
    PreScore,
    Score,
}

impl Plugins {
    fn point(&self, p: Point) -> &PluginSet {
        match p {
            Point::PreFilter => &self.pre_filter,
            Point::Filter => &self.filter,
            Point::PostFilter => &self.post_filter,
            Point::PreScore => &self.pre_score,
            Point::Score => &self.score,
        }
    }

    /// The plugin names enabled at `point`, given the defaults there and which plugins
    /// implement it (upstream merges multiPoint first, then the point's own set).
    pub fn resolve(&self, point: Point, defaults: &[&str], implements: &dyn Fn(&str) -> bool) -> Vec<String> {
        let mut names: Vec<String> = defaults.iter().map(|s| s.to_string()).collect();
        for set in [&self.multi_point, self.point(point)] {
            if set.disabled.iter().any(|d| d.name == "*") {
                names.clear();
            }
            names.retain(|n| !set.disabled.iter().any(|d| &d.name == n));
            for e in &set.enabled {
                if implements(&e.name) && !names.contains(&e.name) {
                    names.push(e.name.clone());
                }
            }
        }
        names
    }

    /// The configured score weight of `name`, if any (point-specific wins over multiPoint).
    pub fn weight(&self, name: &str) -> Option<i64> {
        let find = |set: &PluginSet| set.enabled.iter().find(|e| e.name == name).and_then(|e| e.weight);
        find(&self.score).or_else(|| find(&self.multi_point))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(enabled: &[&str], disabled: &[&str]) -> PluginSet {
        PluginSet {
            enabled: enabled
                .iter()
                .map(|n| PluginRef {
                    name: n.to_string(),
                    weight: None,
                })
                .collect(),
            disabled: disabled
                .iter()
                .map(|n| PluginRef {
                    name: n.to_string(),
                    weight: None,
                })
                .collect(),
        }
    }

    #[test]
    fn resolve_table() {
        let defaults = ["A", "B", "C"];
        let all = |_: &str| true;
        let cases = vec![
            (Plugins::default(), vec!["A", "B", "C"]),
            (
                Plugins {
                    score: set(&[], &["B"]),
                    ..Plugins::default()
                },
                vec!["A", "C"],
            ),
            (
                Plugins {
                    multi_point: set(&["D"], &["*"]),
                    ..Plugins::default()
                },
                vec!["D"],
            ),
            (
                Plugins {
                    multi_point: set(&[], &["A"]),
                    score: set(&["A"], &[]),
                    ..Plugins::default()
                },
                vec!["B", "C", "A"],
            ),
        ];
        for (plugins, want) in cases {
            assert_eq!(plugins.resolve(Point::Score, &defaults, &all), want);
        }
        let p = Plugins {
            filter: set(&["X"], &[]),
            ..Plugins::default()
        };
        assert_eq!(
            p.resolve(Point::Filter, &defaults, &|n| n != "X"),
            vec!["A", "B", "C"]
        );
    }
}
