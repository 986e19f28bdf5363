//! A profile: the plugins of one `schedulerName` at each extension point, and the runner that
//! calls them in order (upstream `frameworkImpl`).

use std::sync::Arc;

use crate::config::file::ProfileConfig;
use crate::config::plugins::Point;
use crate::framework::{
    CycleState, Diagnosis, FilterPlugin, Handle, NodeInfo, PodInfo, PostFilterPlugin, PostFilterResult,
    PreFilterPlugin, PreScorePlugin, ScorePlugin, Snapshot, Status,
};
use crate::plugins::registry::{DEFAULT_PLUGINS, PluginDeps, build, default_weight};

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile {profile:?}: unknown plugin {plugin:?}")]
    UnknownPlugin { profile: String, plugin: String },
}

pub struct Profile {
    pub scheduler_name: String,
    pub percentage_of_nodes_to_score: Option<u32>,
    pub pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    pub filter: Vec<Arc<dyn FilterPlugin>>,
    pub post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    pub pre_score: Vec<Arc<dyn PreScorePlugin>>,
    pub score: Vec<(Arc<dyn ScorePlugin>, i64)>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |v: Vec<&'static str>| v.join(",");
        f.debug_struct("Profile")
            .field("scheduler_name", &self.scheduler_name)
            .field("filter", &names(self.filter.iter().map(|p| p.name()).collect()))
            .field(
                "score",
                &names(self.score.iter().map(|(p, _)| p.name()).collect()),
            )
            .finish()
    }
}

impl Profile {
    /// Builds a profile from its configuration (defaults when the config says nothing).
    pub fn new(cfg: &ProfileConfig, deps: &PluginDeps) -> Result<Profile, ProfileError> {
        let mut instances = std::collections::HashMap::new();
        let mut get = |name: &str| -> Result<bool, ProfileError> {
            if !instances.contains_key(name) {
                let r = build(name, deps).ok_or_else(|| ProfileError::UnknownPlugin {
                    profile: cfg.name().to_string(),
                    plugin: name.to_string(),
                })?;
                instances.insert(name.to_string(), r);
            }
            Ok(true)
        };
        // Instantiate every referenced plugin once, so all points share one instance.
        let plugins = &cfg.plugins;
        for set in [
            &plugins.multi_point,
            &plugins.pre_filter,
            &plugins.filter,
            &plugins.post_filter,
            &plugins.pre_score,
            &plugins.score,
        ] {
            for e in &set.enabled {
                get(&e.name)?;
            }
        }
        for name in DEFAULT_PLUGINS {
            get(name)?;
        }
        let implements = |point: Point, name: &str| {
            instances.get(name).is_some_and(|r| match point {
                Point::PreFilter => r.pre_filter.is_some(),
                Point::Filter => r.filter.is_some(),
                Point::PostFilter => r.post_filter.is_some(),
                Point::PreScore => r.pre_score.is_some(),
                Point::Score => r.score.is_some(),
            })
        };
        let names = |point: Point| {
            let defaults: Vec<&str> = DEFAULT_PLUGINS
                .iter()
                .copied()
                .filter(|n| implements(point, n))
                .collect();
            plugins.resolve(point, &defaults, &|n| implements(point, n))
        };
        let pick = |point: Point| {
            names(point)
                .into_iter()
                .filter_map(|n| instances.get(&n).map(|r| (n, r)))
                .collect::<Vec<_>>()
        };
        Ok(Profile {
            scheduler_name: cfg.name().to_string(),
            percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score,
            pre_filter: pick(Point::PreFilter)
                .into_iter()
                .filter_map(|(_, r)| r.pre_filter.clone())
                .collect(),
            filter: pick(Point::Filter)
                .into_iter()
                .filter_map(|(_, r)| r.filter.clone())
                .collect(),
            post_filter: pick(Point::PostFilter)
                .into_iter()
                .filter_map(|(_, r)| r.post_filter.clone())
                .collect(),
            pre_score: pick(Point::PreScore)
                .into_iter()
                .filter_map(|(_, r)| r.pre_score.clone())
                .collect(),
            score: pick(Point::Score)
                .into_iter()
                .filter_map(|(n, r)| {
                    let w = plugins.weight(&n).unwrap_or_else(|| default_weight(&n));
                    r.score.clone().map(|s| (s, w))
                })
                .collect(),
        })
    }

    /// The default profile with upstream's default plugins.
    pub fn default_profile(deps: &PluginDeps) -> Profile {
        match Profile::new(&ProfileConfig::default(), deps) {
            Ok(p) => p,
            // The defaults are all registered; this arm only keeps the signature infallible.
            Err(_) => Profile {
                scheduler_name: crate::config::file::DEFAULT_SCHEDULER_NAME.into(),
                percentage_of_nodes_to_score: None,
                pre_filter: Vec::new(),
                filter: Vec::new(),
                post_filter: Vec::new(),
                pre_score: Vec::new(),
                score: Vec::new(),
            },
        }
    }

    /// Runs PreFilter plugins; a rejection or error stops the cycle.
    pub fn run_pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        for p in &self.pre_filter {
            let s = p.pre_filter(state, pod, snapshot);
            if s.is_skip() {
                state.skip_filter.insert(p.name());
            } else if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs PostFilter plugins until one succeeds (upstream: the first success wins).
    pub fn run_post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        d: &Diagnosis,
    ) -> Option<PostFilterResult> {
        let mut last = None;
        for p in &self.post_filter {
            let r = p.post_filter(state, pod, snapshot, d, self);
            if r.status.is_success() {
                return Some(r);
            }
            last = Some(r);
        }
        last
    }

    /// Runs PreScore plugins; those that skip are not scored.
    pub fn run_pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        feasible: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        for p in &self.pre_score {
            let s = p.pre_score(state, pod, feasible, snapshot);
            if s.is_skip() {
                state.skip_score.insert(p.name());
            } else if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Score, NormalizeScore and weights: the weighted total per feasible node.
    pub fn run_score(&self, state: &CycleState, pod: &PodInfo, feasible: &[Arc<NodeInfo>]) -> Vec<i64> {
        let mut totals = vec![0i64; feasible.len()];
        let mut scores = vec![0i64; feasible.len()];
        for (p, weight) in &self.score {
            if state.skip_score.contains(p.name()) {
                continue;
            }
            for (s, n) in scores.iter_mut().zip(feasible) {
                *s = p.score(state, pod, n);
            }
            p.normalize(state, pod, feasible, &mut scores);
            for (t, s) in totals.iter_mut().zip(&scores) {
                *t += s * weight;
            }
        }
        totals
    }
}

impl Handle for Profile {
    fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for p in &self.filter {
            if state.skip_filter.contains(p.name()) {
                continue;
            }
            let s = p.filter(state, pod, node);
            if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    fn run_remove_pod(&self, state: &mut CycleState, pod: &PodInfo, removed: &Arc<PodInfo>, node: &NodeInfo) {
        for p in &self.pre_filter {
            if !state.skip_filter.contains(p.name()) {
                p.remove_pod(state, pod, removed, node);
            }
        }
    }

    fn run_add_pod(&self, state: &mut CycleState, pod: &PodInfo, added: &Arc<PodInfo>, node: &NodeInfo) {
        for p in &self.pre_filter {
            if !state.skip_filter.contains(p.name()) {
                p.add_pod(state, pod, added, node);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_has_upstream_plugins_and_weights() {
        let p = Profile::default_profile(&PluginDeps::default());
        let filters: Vec<_> = p.filter.iter().map(|f| f.name()).collect();
        assert_eq!(
            filters,
            vec![
                "NodeUnschedulable",
                "NodeName",
                "TaintToleration",
                "NodeAffinity",
                "NodePorts",
                "NodeResourcesFit",
                "VolumeBinding",
                "PodTopologySpread",
                "InterPodAffinity"
            ]
        );
        let scores: Vec<_> = p.score.iter().map(|(s, w)| (s.name(), *w)).collect();
        assert_eq!(
            scores,
            vec![
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 1),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2),
                ("NodeResourcesBalancedAllocation", 1),
                ("ImageLocality", 1)
            ]
        );
        assert_eq!(p.post_filter.len(), 1);
    }

    #[test]
    fn config_disables_and_reweights() {
        let cfg: ProfileConfig = serde_json::from_value(serde_json::json!({
            "schedulerName": "custom",
            "plugins": {"score": {"disabled": [{"name": "*"}], "enabled": [{"name": "ImageLocality", "weight": 7}]},
                        "postFilter": {"disabled": [{"name": "DefaultPreemption"}]}}
        })).expect("cfg");
        let p = Profile::new(&cfg, &PluginDeps::default()).expect("profile");
        assert_eq!(p.scheduler_name, "custom");
        let scores: Vec<_> = p.score.iter().map(|(s, w)| (s.name(), *w)).collect();
        assert_eq!(scores, vec![("ImageLocality", 7)]);
        assert!(p.post_filter.is_empty());
        let bad: ProfileConfig = serde_json::from_value(
            serde_json::json!({"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}),
        )
        .expect("cfg");
        assert!(Profile::new(&bad, &PluginDeps::default()).is_err());
    }
}
