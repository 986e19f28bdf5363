//! `--encryption-provider-config`: upstream's EncryptionConfiguration
//! (apiserver.config.k8s.io/v1), read from YAML or JSON, turned into the storage prefixes to
//! encrypt and each prefix's ordered providers.

use std::path::Path;

use base64::Engine;
use serde::Deserialize;

use super::providers::{Provider, ProviderKind};

#[derive(Debug, thiserror::Error)]
pub(crate) enum EncryptionConfigError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EncryptionConfiguration {
    kind: Option<String>,
    api_version: Option<String>,
    #[serde(default)]
    resources: Vec<ResourceConfiguration>,
}

#[derive(Debug, Deserialize)]
struct ResourceConfiguration {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    providers: Vec<ProviderConfiguration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderConfiguration {
    aescbc: Option<KeysConfig>,
    aesgcm: Option<KeysConfig>,
    secretbox: Option<KeysConfig>,
    identity: Option<serde_json::Value>,
    kms: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct KeysConfig {
    #[serde(default)]
    keys: Vec<KeyConfig>,
}

#[derive(Debug, Deserialize)]
struct KeyConfig {
    name: String,
    secret: String,
}

/// Which resources one rule covers, as upstream matches them: `secrets` (core),
/// `deployments.apps`, `*.apps` (a whole group), `*.` (the core group), `*.*` (everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourceMatch {
    Exact { group: String, plural: String },
    Group(String),
    All,
}

impl ResourceMatch {
    fn parse(text: &str) -> ResourceMatch {
        match text {
            "*.*" => ResourceMatch::All,
            _ => match text.split_once('.') {
                Some(("*", group)) => ResourceMatch::Group(group.to_string()),
                Some((plural, group)) => ResourceMatch::Exact {
                    group: group.to_string(),
                    plural: plural.to_string(),
                },
                None => ResourceMatch::Exact {
                    group: String::new(),
                    plural: text.to_string(),
                },
            },
        }
    }

    pub(crate) fn matches(&self, group: &str, plural: &str) -> bool {
        match self {
            ResourceMatch::All => true,
            ResourceMatch::Group(g) => g == group,
            ResourceMatch::Exact { group: g, plural: p } => g == group && p == plural,
        }
    }
}

/// One rule: the resources it covers and its providers, the first of which encrypts.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) resources: Vec<ResourceMatch>,
    pub(crate) providers: Vec<Provider>,
}

/// Reads and validates the file.
pub(crate) fn load(path: &Path) -> Result<Vec<Rule>, EncryptionConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| EncryptionConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text).map_err(|message| EncryptionConfigError::Invalid {
        path: path.display().to_string(),
        message,
    })
}

pub(crate) fn parse(text: &str) -> Result<Vec<Rule>, String> {
    let config: EncryptionConfiguration = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    if config.kind.as_deref() != Some("EncryptionConfiguration") {
        return Err(format!(
            "kind is {:?}, not EncryptionConfiguration",
            config.kind.unwrap_or_default()
        ));
    }
    if !matches!(config.api_version.as_deref(), Some("apiserver.config.k8s.io/v1")) {
        return Err(format!(
            "apiVersion is {:?}, not apiserver.config.k8s.io/v1",
            config.api_version.unwrap_or_default()
        ));
    }
    if config.resources.is_empty() {
        return Err("resources: Required value: at least one resource rule".into());
    }
    config
        .resources
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            if rule.resources.is_empty() {
                return Err(format!("resources[{i}].resources: Required value"));
            }
            if rule.providers.is_empty() {
                return Err(format!("resources[{i}].providers: Required value"));
            }
            let providers = rule
                .providers
                .into_iter()
                .enumerate()
                .map(|(j, p)| provider(p).map_err(|e| format!("resources[{i}].providers[{j}]: {e}")))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect();
            Ok(Rule {
                resources: rule.resources.iter().map(|r| ResourceMatch::parse(r)).collect(),
                providers,
            })
        })
        .collect()
}

/// One provider entry: a provider per key (in order), or identity.
fn provider(p: ProviderConfiguration) -> Result<Vec<Provider>, String> {
    let set = [
        p.aescbc.is_some(),
        p.aesgcm.is_some(),
        p.secretbox.is_some(),
        p.identity.is_some(),
        p.kms.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err("exactly one provider type must be given".into());
    }
    if p.kms.is_some() {
        return Err("kms providers are not supported by Rudder".into());
    }
    if p.identity.is_some() {
        return Ok(vec![Provider::identity()]);
    }
    let (kind, keys) = match (p.aescbc, p.aesgcm, p.secretbox) {
        (Some(k), _, _) => (ProviderKind::AesCbc, k),
        (_, Some(k), _) => (ProviderKind::AesGcm, k),
        (_, _, Some(k)) => (ProviderKind::Secretbox, k),
        _ => unreachable!("one provider type is set"),
    };
    if keys.keys.is_empty() {
        return Err(format!("{}.keys: Required value", kind.name()));
    }
    keys.keys
        .into_iter()
        .enumerate()
        .map(|(k, key)| {
            let secret = base64::engine::general_purpose::STANDARD
                .decode(key.secret.trim())
                .map_err(|e| format!("{}.keys[{k}].secret: Invalid value: not base64: {e}", kind.name()))?;
            Provider::new(kind, &key.name, &secret).map_err(|e| format!("{}.keys[{k}]: {e}", kind.name()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "abcdefghijklmnopqrstuvwxyz012345": 32 bytes.
    const KEY32: &str = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=";

    #[test]
    fn upstream_example_parses() {
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(KEY32)
                .unwrap()
                .len(),
            32
        );
        let yaml = format!(
            "apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets, configmaps]
    providers:
      - aescbc:
          keys:
            - name: key2
              secret: {KEY32}
            - name: key1
              secret: {KEY32}
      - identity: {{}}
  - resources: ['*.apps']
    providers:
      - secretbox:
          keys: [{{name: sb, secret: {KEY32}}}]
"
        );
        let rules = parse(&yaml).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].providers.len(), 3, "two aescbc keys and identity");
        assert_eq!(rules[0].providers[0].prefix(), b"k8s:enc:aescbc:v1:key2:");
        assert!(rules[0].resources[0].matches("", "secrets"));
        assert!(!rules[0].resources[0].matches("apps", "secrets"));
        assert!(rules[1].resources[0].matches("apps", "deployments"));
        assert!(ResourceMatch::parse("*.*").matches("batch", "jobs"));
    }

    #[test]
    fn bad_files_name_the_problem() {
        let err = parse("kind: Other\napiVersion: apiserver.config.k8s.io/v1\nresources: []").unwrap_err();
        assert!(err.contains("EncryptionConfiguration"), "{err}");
        let two = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: k, secret: c2hvcnQ=}]}\n";
        let err = parse(two).unwrap_err();
        assert!(err.contains("providers[0]") && err.contains("key"), "{err}");
        let kms = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - kms: {name: x}\n";
        assert!(parse(kms).unwrap_err().contains("kms"));
    }
}
