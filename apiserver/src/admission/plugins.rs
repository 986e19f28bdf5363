//! Plugin names, upstream's order (`AllOrderedPlugins`), the set enabled by default and the
//! `--enable-admission-plugins` / `--disable-admission-plugins` flags.

/// Every admission plugin upstream knows, in the order upstream runs them. The order of the
/// flags never matters, as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Name {
    AlwaysAdmit,
    NamespaceAutoProvision,
    NamespaceLifecycle,
    NamespaceExists,
    LimitPodHardAntiAffinityTopology,
    LimitRanger,
    ServiceAccount,
    NodeRestriction,
    TaintNodesByCondition,
    AlwaysPullImages,
    ImagePolicyWebhook,
    PodSecurity,
    PodNodeSelector,
    Priority,
    DefaultTolerationSeconds,
    PodTolerationRestriction,
    EventRateLimit,
    ExtendedResourceToleration,
    DefaultStorageClass,
    StorageObjectInUseProtection,
    OwnerReferencesPermissionEnforcement,
    PersistentVolumeClaimResize,
    RuntimeClass,
    CertificateApproval,
    CertificateSigning,
    ClusterTrustBundleAttest,
    CertificateSubjectRestriction,
    DefaultIngressClass,
    DenyServiceExternalIPs,
    PodTopologyLabels,
    MutatingAdmissionPolicy,
    MutatingAdmissionWebhook,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionWebhook,
    ResourceQuota,
    AlwaysDeny,
}

use Name::*;

/// Upstream's order.
pub(crate) const ALL_ORDERED: &[Name] = &[
    AlwaysAdmit,
    NamespaceAutoProvision,
    NamespaceLifecycle,
    NamespaceExists,
    LimitPodHardAntiAffinityTopology,
    LimitRanger,
    ServiceAccount,
    NodeRestriction,
    TaintNodesByCondition,
    AlwaysPullImages,
    ImagePolicyWebhook,
    PodSecurity,
    PodNodeSelector,
    Priority,
    DefaultTolerationSeconds,
    PodTolerationRestriction,
    EventRateLimit,
    ExtendedResourceToleration,
    DefaultStorageClass,
    StorageObjectInUseProtection,
    OwnerReferencesPermissionEnforcement,
    PersistentVolumeClaimResize,
    RuntimeClass,
    CertificateApproval,
    CertificateSigning,
    ClusterTrustBundleAttest,
    CertificateSubjectRestriction,
    DefaultIngressClass,
    DenyServiceExternalIPs,
    PodTopologyLabels,
    MutatingAdmissionPolicy,
    MutatingAdmissionWebhook,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionWebhook,
    ResourceQuota,
    AlwaysDeny,
];

/// The plugins Rudder implements.
pub(crate) const IMPLEMENTED: &[Name] = &[
    AlwaysAdmit,
    NamespaceLifecycle,
    LimitRanger,
    ServiceAccount,
    NodeRestriction,
    TaintNodesByCondition,
    PodSecurity,
    Priority,
    DefaultTolerationSeconds,
    DefaultStorageClass,
    PersistentVolumeClaimResize,
    RuntimeClass,
    MutatingAdmissionWebhook,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionWebhook,
    ResourceQuota,
    AlwaysDeny,
];

/// Enabled without flags: upstream's default-on set (`DefaultOffAdmissionPlugins`'s complement)
/// as far as it is implemented, plus NodeRestriction, which upstream leaves off but kubeadm and
/// the CIS benchmark (1.2.14) turn on: a kubelet may only write its own Node and pods.
pub(crate) const DEFAULT_ENABLED: &[Name] = &[
    NamespaceLifecycle,
    LimitRanger,
    ServiceAccount,
    NodeRestriction,
    TaintNodesByCondition,
    PodSecurity,
    Priority,
    DefaultTolerationSeconds,
    DefaultStorageClass,
    PersistentVolumeClaimResize,
    RuntimeClass,
    MutatingAdmissionWebhook,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionWebhook,
    ResourceQuota,
];

impl Name {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AlwaysAdmit => "AlwaysAdmit",
            NamespaceAutoProvision => "NamespaceAutoProvision",
            NamespaceLifecycle => "NamespaceLifecycle",
            NamespaceExists => "NamespaceExists",
            LimitPodHardAntiAffinityTopology => "LimitPodHardAntiAffinityTopology",
            LimitRanger => "LimitRanger",
            ServiceAccount => "ServiceAccount",
            NodeRestriction => "NodeRestriction",
            TaintNodesByCondition => "TaintNodesByCondition",
            AlwaysPullImages => "AlwaysPullImages",
            ImagePolicyWebhook => "ImagePolicyWebhook",
            PodSecurity => "PodSecurity",
            PodNodeSelector => "PodNodeSelector",
            Priority => "Priority",
            DefaultTolerationSeconds => "DefaultTolerationSeconds",
            PodTolerationRestriction => "PodTolerationRestriction",
            EventRateLimit => "EventRateLimit",
            ExtendedResourceToleration => "ExtendedResourceToleration",
            DefaultStorageClass => "DefaultStorageClass",
            StorageObjectInUseProtection => "StorageObjectInUseProtection",
            OwnerReferencesPermissionEnforcement => "OwnerReferencesPermissionEnforcement",
            PersistentVolumeClaimResize => "PersistentVolumeClaimResize",
            RuntimeClass => "RuntimeClass",
            CertificateApproval => "CertificateApproval",
            CertificateSigning => "CertificateSigning",
            ClusterTrustBundleAttest => "ClusterTrustBundleAttest",
            CertificateSubjectRestriction => "CertificateSubjectRestriction",
            DefaultIngressClass => "DefaultIngressClass",
            DenyServiceExternalIPs => "DenyServiceExternalIPs",
            PodTopologyLabels => "PodTopologyLabels",
            MutatingAdmissionPolicy => "MutatingAdmissionPolicy",
            MutatingAdmissionWebhook => "MutatingAdmissionWebhook",
            ValidatingAdmissionPolicy => "ValidatingAdmissionPolicy",
            ValidatingAdmissionWebhook => "ValidatingAdmissionWebhook",
            ResourceQuota => "ResourceQuota",
            AlwaysDeny => "AlwaysDeny",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Name> {
        ALL_ORDERED.iter().copied().find(|n| n.as_str() == name)
    }
}

/// Why the admission flags do not make a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionFlagError {
    #[error("{flag} plugin {name:?} is unknown")]
    Unknown { flag: &'static str, name: String },
    #[error("{flag} plugin {name:?} is not implemented by Rudder")]
    NotImplemented { flag: &'static str, name: String },
    #[error("{0} plugins were found in both --enable-admission-plugins and --disable-admission-plugins")]
    Both(String),
}

/// The validated admission flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionConfig {
    enable: Vec<Name>,
    disable: Vec<Name>,
}

impl Default for AdmissionConfig {
    /// Upstream's default set (see [`DEFAULT_ENABLED`]).
    fn default() -> Self {
        AdmissionConfig {
            enable: Vec::new(),
            disable: Vec::new(),
        }
    }
}

impl AdmissionConfig {
    /// From `--enable-admission-plugins` and `--disable-admission-plugins`: enabled are the
    /// default set plus `enable`, minus `disable` (upstream's `EnabledPluginNames`).
    pub fn from_flags(enable: &[String], disable: &[String]) -> Result<Self, AdmissionFlagError> {
        let parse = |flag: &'static str, names: &[String], must_exist: bool| {
            names
                .iter()
                .map(|n| n.trim())
                .filter(|n| !n.is_empty())
                .map(|n| match Name::parse(n) {
                    None => Err(AdmissionFlagError::Unknown {
                        flag,
                        name: n.to_string(),
                    }),
                    Some(p) if must_exist && !IMPLEMENTED.contains(&p) => {
                        Err(AdmissionFlagError::NotImplemented {
                            flag,
                            name: n.to_string(),
                        })
                    }
                    Some(p) => Ok(p),
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let enable = parse("enable-admission-plugins", enable, true)?;
        // Disabling a plugin Rudder does not have is harmless (kubeadm-style flags keep working).
        let disable = parse("disable-admission-plugins", disable, false)?;
        let both: Vec<&str> = enable
            .iter()
            .filter(|p| disable.contains(p))
            .map(|p| p.as_str())
            .collect();
        if !both.is_empty() {
            return Err(AdmissionFlagError::Both(both.join(",")));
        }
        Ok(AdmissionConfig { enable, disable })
    }

    /// Turns one plugin off (tests and embedders).
    pub fn disable(mut self, name: &str) -> Self {
        if let Some(p) = Name::parse(name) {
            self.enable.retain(|e| *e != p);
            self.disable.push(p);
        }
        self
    }

    /// Turns one implemented plugin on (tests and embedders).
    pub fn enable(mut self, name: &str) -> Self {
        if let Some(p) = Name::parse(name).filter(|p| IMPLEMENTED.contains(p)) {
            self.disable.retain(|d| *d != p);
            self.enable.push(p);
        }
        self
    }

    /// The enabled plugins, in upstream's order.
    pub(crate) fn enabled(&self) -> Vec<Name> {
        ALL_ORDERED
            .iter()
            .copied()
            .filter(|p| (DEFAULT_ENABLED.contains(p) || self.enable.contains(p)) && !self.disable.contains(p))
            .collect()
    }

    /// The enabled plugin names, in order (for logs).
    pub fn enabled_names(&self) -> Vec<&'static str> {
        self.enabled().into_iter().map(Name::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_name_round_trips_and_appears_once_in_order() {
        for (i, n) in ALL_ORDERED.iter().enumerate() {
            assert_eq!(Name::parse(n.as_str()), Some(*n));
            assert_eq!(ALL_ORDERED.iter().position(|m| m == n), Some(i));
        }
        for n in DEFAULT_ENABLED {
            assert!(IMPLEMENTED.contains(n), "{n:?} on by default but not implemented");
        }
    }

    #[test]
    fn flags_select_plugins_like_upstream() {
        type Case<'a> = (
            &'a [&'a str],
            &'a [&'a str],
            Result<Vec<&'a str>, AdmissionFlagError>,
        );
        let cases: &[Case<'_>] = &[
            (
                &[],
                &[],
                Ok(vec![
                    "NamespaceLifecycle",
                    "LimitRanger",
                    "ServiceAccount",
                    "NodeRestriction",
                    "TaintNodesByCondition",
                    "PodSecurity",
                    "Priority",
                    "DefaultTolerationSeconds",
                    "DefaultStorageClass",
                    "PersistentVolumeClaimResize",
                    "RuntimeClass",
                    "MutatingAdmissionWebhook",
                    "ValidatingAdmissionPolicy",
                    "ValidatingAdmissionWebhook",
                    "ResourceQuota",
                ]),
            ),
            // Flag order does not matter; AlwaysDeny goes last, AlwaysAdmit first.
            (
                &["AlwaysDeny", "AlwaysAdmit"],
                &[
                    "LimitRanger",
                    "ServiceAccount",
                    "NodeRestriction",
                    "TaintNodesByCondition",
                    "PodSecurity",
                    "Priority",
                    "DefaultTolerationSeconds",
                    "DefaultStorageClass",
                    "PersistentVolumeClaimResize",
                    "RuntimeClass",
                    "MutatingAdmissionWebhook",
                    "ValidatingAdmissionPolicy",
                    "ValidatingAdmissionWebhook",
                    "ResourceQuota",
                ],
                Ok(vec!["AlwaysAdmit", "NamespaceLifecycle", "AlwaysDeny"]),
            ),
            (
                &["NoSuchPlugin"],
                &[],
                Err(AdmissionFlagError::Unknown {
                    flag: "enable-admission-plugins",
                    name: "NoSuchPlugin".into(),
                }),
            ),
            (
                &["EventRateLimit"],
                &[],
                Err(AdmissionFlagError::NotImplemented {
                    flag: "enable-admission-plugins",
                    name: "EventRateLimit".into(),
                }),
            ),
            (
                &["PodSecurity"],
                &["PodSecurity"],
                Err(AdmissionFlagError::Both("PodSecurity".into())),
            ),
        ];
        for (enable, disable, want) in cases {
            let got =
                AdmissionConfig::from_flags(&strings(enable), &strings(disable)).map(|c| c.enabled_names());
            assert_eq!(&got, want, "enable {enable:?} disable {disable:?}");
        }
        // Disabling a plugin Rudder lacks is accepted.
        let cfg = AdmissionConfig::from_flags(&[], &strings(&["StorageObjectInUseProtection"])).expect("ok");
        assert_eq!(cfg.enabled_names().len(), DEFAULT_ENABLED.len());
    }
}
