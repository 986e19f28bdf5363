//! `--config`: a `kubescheduler.config.k8s.io/v1` KubeSchedulerConfiguration (YAML or JSON).
//! Parsed for its profiles, percentageOfNodesToScore, leader election and kubeconfig.

use std::path::Path;

use serde::Deserialize;

use super::plugins::Plugins;

pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("reading scheduler config {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("decoding scheduler config: {0}")]
    Decode(String),
    #[error("invalid scheduler config: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileConfig {
    #[serde(default)]
    pub scheduler_name: Option<String>,
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<u32>,
    #[serde(default)]
    pub plugins: Plugins,
}

impl ProfileConfig {
    pub fn name(&self) -> &str {
        self.scheduler_name.as_deref().unwrap_or(DEFAULT_SCHEDULER_NAME)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderElectionConfig {
    #[serde(default)]
    pub leader_elect: Option<bool>,
    #[serde(default)]
    pub resource_name: Option<String>,
    #[serde(default)]
    pub resource_namespace: Option<String>,
}

/// `clientConnection`: upstream defaults qps 50, burst 100.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientConnection {
    #[serde(default)]
    pub kubeconfig: Option<String>,
    #[serde(default = "default_qps")]
    pub qps: f32,
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_qps() -> f32 {
    50.0
}

fn default_burst() -> u32 {
    100
}

impl Default for ClientConnection {
    fn default() -> Self {
        ClientConnection {
            kubeconfig: None,
            qps: default_qps(),
            burst: default_burst(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeSchedulerConfiguration {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<u32>,
    #[serde(default)]
    pub profiles: Vec<ProfileConfig>,
    #[serde(default)]
    pub leader_election: LeaderElectionConfig,
    #[serde(default)]
    pub client_connection: ClientConnection,
}

impl KubeSchedulerConfiguration {
    pub fn parse(text: &str) -> Result<Self, ConfigFileError> {
        let cfg: KubeSchedulerConfiguration =
            serde_saphyr::from_str(text).map_err(|e| ConfigFileError::Decode(e.to_string()))?;
        if let Some(kind) = cfg.kind.as_deref()
            && kind != "KubeSchedulerConfiguration"
        {
            return Err(ConfigFileError::Invalid(format!("unexpected kind {kind:?}")));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &cfg.profiles {
            if !seen.insert(p.name().to_string()) {
                return Err(ConfigFileError::Invalid(format!(
                    "duplicate profile {:?}",
                    p.name()
                )));
            }
        }
        if cfg.percentage_of_nodes_to_score.is_some_and(|p| p > 100) {
            return Err(ConfigFileError::Invalid(
                "percentageOfNodesToScore must be in 0..=100".into(),
            ));
        }
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The profiles to run: the configured ones, or the single default profile.
    pub fn effective_profiles(&self) -> Vec<ProfileConfig> {
        if self.profiles.is_empty() {
            vec![ProfileConfig::default()]
        } else {
            self.profiles.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_profiles() {
        let cfg = KubeSchedulerConfiguration::parse(
            r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
leaderElection:
  leaderElect: false
profiles:
- schedulerName: default-scheduler
- schedulerName: no-scoring
  plugins:
    score:
      disabled:
      - name: "*"
    filter:
      disabled:
      - name: NodeResourcesFit
    multiPoint:
      enabled:
      - name: ImageLocality
        weight: 5
"#,
        )
        .expect("parse");
        assert_eq!(cfg.percentage_of_nodes_to_score, Some(30));
        assert_eq!(cfg.leader_election.leader_elect, Some(false));
        assert_eq!(cfg.profiles.len(), 2);
        assert_eq!(cfg.profiles[1].name(), "no-scoring");
        assert_eq!(cfg.profiles[1].plugins.score.disabled[0].name, "*");
        assert_eq!(cfg.profiles[1].plugins.weight("ImageLocality"), Some(5));
    }

    #[test]
    fn rejects_bad_files() {
        assert!(KubeSchedulerConfiguration::parse("kind: Pod\n").is_err());
        assert!(
            KubeSchedulerConfiguration::parse("profiles:\n- {}\n- schedulerName: default-scheduler\n")
                .is_err()
        );
        assert!(KubeSchedulerConfiguration::parse("profiles: 3").is_err());
        assert_eq!(
            KubeSchedulerConfiguration::parse("{}")
                .expect("empty")
                .effective_profiles()
                .len(),
            1
        );
    }
}
