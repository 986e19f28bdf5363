//! Command-line flags, named as upstream's kube-apiserver flags, and the validated `Config`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(name = "kube-apiserver", about = "Rudder's Kubernetes API server", version)]
pub struct Options {
    /// The port on which to serve HTTPS with authentication and authorization.
    #[arg(long = "secure-port", default_value_t = 6443)]
    pub secure_port: u16,

    /// The IP address on which to listen for the --secure-port port.
    #[arg(long = "bind-address", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,

    /// The IP address on which to advertise the apiserver to members of the cluster.
    #[arg(long = "advertise-address")]
    pub advertise_address: Option<IpAddr>,

    /// The directory where generated TLS certificates and the admin kubeconfig are kept.
    #[arg(long = "cert-dir", default_value = "/var/run/kubernetes")]
    pub cert_dir: PathBuf,

    /// File containing the default x509 certificate for HTTPS (CA cert, if any, concatenated after).
    #[arg(long = "tls-cert-file")]
    pub tls_cert_file: Option<PathBuf>,

    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long = "tls-private-key-file")]
    pub tls_private_key_file: Option<PathBuf>,

    /// Client certificates signed by one of these authorities authenticate as their CN and O.
    #[arg(long = "client-ca-file")]
    pub client_ca_file: Option<PathBuf>,

    /// A CSV file of bearer tokens: token,user,uid,"group1,group2".
    #[arg(long = "token-auth-file")]
    pub token_auth_file: Option<PathBuf>,

    /// Enables anonymous requests to the secure port: requests without credentials are then
    /// `system:anonymous` in `system:unauthenticated` and authorized like any other user. Off by
    /// default (upstream's default is true; the CIS benchmark asks for false).
    #[arg(long = "anonymous-auth", default_value_t = false, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub anonymous_auth: bool,

    /// Enable to allow Secrets of type `bootstrap.kubernetes.io/token` in kube-system to be used
    /// for TLS bootstrapping authentication.
    #[arg(long = "enable-bootstrap-token-auth", default_value_t = false, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub enable_bootstrap_token_auth: bool,

    /// Ordered list of plug-ins to do authorization on the secure port: AlwaysAllow, AlwaysDeny,
    /// Node, RBAC.
    #[arg(
        long = "authorization-mode",
        default_value = "Node,RBAC",
        value_delimiter = ','
    )]
    pub authorization_mode: Vec<String>,

    /// Files of PEM keys (public or private, or certificates) that verify service-account
    /// tokens. The signing key always verifies too.
    #[arg(long = "service-account-key-file")]
    pub service_account_key_file: Vec<PathBuf>,

    /// The private key (PKCS#8 ECDSA P-256 or RSA, or PKCS#1 RSA) that signs service-account
    /// tokens. Without it, `sa.key` in --cert-dir is used, generated when missing.
    #[arg(long = "service-account-signing-key-file")]
    pub service_account_signing_key_file: Option<PathBuf>,

    /// Issuer of service-account tokens (`iss`). The first signs new tokens; every one given is
    /// accepted.
    #[arg(long = "service-account-issuer")]
    pub service_account_issuer: Vec<String>,

    /// Audiences the API accepts tokens for; defaults to the service-account issuers.
    #[arg(long = "api-audiences", value_delimiter = ',')]
    pub api_audiences: Vec<String>,

    /// etcd servers to connect to (scheme://ip:port), comma separated. Without it the embedded
    /// store in --data-dir is used.
    #[arg(long = "etcd-servers", value_delimiter = ',')]
    pub etcd_servers: Vec<String>,

    /// The prefix to prepend to all resource paths in etcd.
    #[arg(long = "etcd-prefix", default_value = "/registry")]
    pub etcd_prefix: String,

    /// If set, all requests coming to the apiserver will be logged to this file ('-' means
    /// standard out), in the format of audit.k8s.io/v1 Events, one JSON object per line.
    #[arg(long = "audit-log-path")]
    pub audit_log_path: Option<PathBuf>,

    /// Path to the file that defines the audit policy configuration.
    #[arg(long = "audit-policy-file")]
    pub audit_policy_file: Option<PathBuf>,

    /// The maximum number of days to retain old audit log files based on the timestamp encoded
    /// in their filename.
    #[arg(long = "audit-log-maxage", default_value_t = 0)]
    pub audit_log_maxage: u32,

    /// The maximum number of old audit log files to retain.
    #[arg(long = "audit-log-maxbackup", default_value_t = 0)]
    pub audit_log_maxbackup: u32,

    /// The maximum size in megabytes of the audit log file before it gets rotated (0: 100).
    #[arg(long = "audit-log-maxsize", default_value_t = 0)]
    pub audit_log_maxsize: u32,

    /// The file with the configuration for encryption providers (EncryptionConfiguration) that
    /// decides how resources are encrypted in storage.
    #[arg(long = "encryption-provider-config")]
    pub encryption_provider_config: Option<PathBuf>,

    /// SSL Certificate Authority file used to secure etcd communication (https:// servers).
    #[arg(long = "etcd-cafile")]
    pub etcd_cafile: Option<PathBuf>,

    /// SSL certification file used to secure etcd communication.
    #[arg(long = "etcd-certfile")]
    pub etcd_certfile: Option<PathBuf>,

    /// SSL key file used to secure etcd communication.
    #[arg(long = "etcd-keyfile")]
    pub etcd_keyfile: Option<PathBuf>,

    /// Directory of the embedded store (used when --etcd-servers is not set).
    #[arg(long = "data-dir", default_value = "/var/lib/rudder/apiserver")]
    pub data_dir: PathBuf,

    /// A CIDR notation IP range from which to assign service cluster IPs.
    #[arg(long = "service-cluster-ip-range", default_value = "10.0.0.0/24")]
    pub service_cluster_ip_range: String,

    /// A port range to reserve for services with NodePort visibility.
    #[arg(long = "service-node-port-range", default_value = "30000-32767")]
    pub service_node_port_range: String,

    /// Admission plugins to enable besides the default set (NamespaceLifecycle, LimitRanger,
    /// ServiceAccount, NodeRestriction, TaintNodesByCondition, PodSecurity, Priority,
    /// DefaultTolerationSeconds, DefaultStorageClass, PersistentVolumeClaimResize, RuntimeClass,
    /// ResourceQuota). The order does not matter: plugins always run in upstream's order.
    #[arg(long = "enable-admission-plugins", value_delimiter = ',')]
    pub enable_admission_plugins: Vec<String>,

    /// Admission plugins to disable, even if in the default set.
    #[arg(long = "disable-admission-plugins", value_delimiter = ',')]
    pub disable_admission_plugins: Vec<String>,

    /// Log verbosity, as upstream's -v.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,

    #[command(flatten)]
    pub kubelet: KubeletClientOptions,
}

/// How the apiserver reaches kubelets (logs, exec, attach, port-forward, nodes/proxy); the
/// flags are upstream's.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KubeletClientOptions {
    /// Path to a client cert file for TLS to kubelets.
    #[arg(long = "kubelet-client-certificate")]
    pub client_certificate: Option<PathBuf>,

    /// Path to a client key file for TLS to kubelets.
    #[arg(long = "kubelet-client-key")]
    pub client_key: Option<PathBuf>,

    /// Path to a cert file for the certificate authority of kubelets' serving certificates.
    /// Without it the kubelet's certificate is not verified, as upstream.
    #[arg(long = "kubelet-certificate-authority")]
    pub certificate_authority: Option<PathBuf>,

    /// The preferred NodeAddressTypes to use for kubelet connections. (Upstream's default
    /// starts with Hostname; kubeadm's InternalIP-first order is the default here, since node
    /// names need not resolve.)
    #[arg(
        long = "kubelet-preferred-address-types",
        value_delimiter = ',',
        default_value = "InternalIP,ExternalIP,Hostname,InternalDNS,ExternalDNS"
    )]
    pub preferred_address_types: Vec<String>,
}

/// The validated kubelet client settings.
#[derive(Debug, Clone)]
pub struct KubeletClientConfig {
    /// Client certificate and key files; `None` authenticates with the generated CA's
    /// `kube-apiserver-kubelet-client` certificate when the PKI is generated, else not at all.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    pub certificate_authority: Option<PathBuf>,
    pub preferred_address_types: Vec<String>,
}

impl Default for KubeletClientConfig {
    fn default() -> Self {
        KubeletClientConfig {
            client_cert: None,
            certificate_authority: None,
            preferred_address_types: [
                "InternalIP",
                "ExternalIP",
                "Hostname",
                "InternalDNS",
                "ExternalDNS",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl KubeletClientOptions {
    pub fn into_config(self) -> Result<KubeletClientConfig, ConfigError> {
        let client_cert = match (self.client_certificate, self.client_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(ConfigError::PartialKubeletClientCert),
        };
        const TYPES: [&str; 5] = [
            "Hostname",
            "InternalIP",
            "ExternalIP",
            "InternalDNS",
            "ExternalDNS",
        ];
        if let Some(bad) = self
            .preferred_address_types
            .iter()
            .find(|t| !TYPES.contains(&t.as_str()))
        {
            return Err(ConfigError::AddressType(bad.clone()));
        }
        Ok(KubeletClientConfig {
            client_cert,
            certificate_authority: self.certificate_authority,
            preferred_address_types: self.preferred_address_types,
        })
    }
}

/// Why the flags do not make a working configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--tls-cert-file and --tls-private-key-file must be given together")]
    PartialTls,
    #[error("invalid --service-cluster-ip-range {0:?}: expected an IPv4 CIDR such as 10.0.0.0/24")]
    ServiceRange(String),
    #[error("invalid --service-node-port-range {0:?}: expected a range such as 30000-32767")]
    NodePortRange(String),
    #[error("--kubelet-client-certificate and --kubelet-client-key must be given together")]
    PartialKubeletClientCert,
    #[error("--kubelet-preferred-address-types: unknown address type {0:?}")]
    AddressType(String),
    #[error("{0}")]
    EtcdTls(&'static str),
    #[error(transparent)]
    AuthorizationMode(#[from] crate::authz::ModeError),
    #[error(transparent)]
    Admission(#[from] crate::admission::AdmissionFlagError),
}

/// Authentication and authorization settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub anonymous_auth: bool,
    /// `--enable-bootstrap-token-auth`: bootstrap token Secrets authenticate joining nodes.
    pub enable_bootstrap_token_auth: bool,
    pub authorization_modes: Vec<crate::authz::Mode>,
    pub service_account_key_files: Vec<PathBuf>,
    /// `None`: `sa.key` in the certificate directory, generated when missing.
    pub service_account_signing_key_file: Option<PathBuf>,
    pub service_account_issuers: Vec<String>,
    pub api_audiences: Vec<String>,
    /// The admission plugins (`--enable-admission-plugins`, `--disable-admission-plugins`).
    pub admission: crate::admission::AdmissionConfig,
    /// `--audit-log-path` and `--audit-policy-file`: auditing needs both.
    pub audit_log_path: Option<PathBuf>,
    pub audit_policy_file: Option<PathBuf>,
    /// `--audit-log-maxage`, `--audit-log-maxbackup`, `--audit-log-maxsize`.
    pub audit_log_rotation: crate::AuditLogRotation,
}

impl Default for AuthConfig {
    /// The defaults of the flags: no anonymous requests, Node and RBAC authorization, a
    /// generated service-account key and kubeadm's issuer. Admission is the one exception:
    /// a server embedded in-process (tests) runs without the plugins that need a
    /// controller-manager's help: ServiceAccount and TaintNodesByCondition (as upstream's
    /// integration-test framework), DefaultTolerationSeconds (taint-eviction tests expect
    /// untolerating pods to go at once) and ResourceQuota (refuses while no controller has
    /// counted a quota's status). The flags (`Options::into_config`) give the full default set;
    /// a test enables a plugin with `AdmissionConfig::enable`.
    fn default() -> Self {
        Self {
            anonymous_auth: false,
            enable_bootstrap_token_auth: false,
            authorization_modes: vec![crate::authz::Mode::Node, crate::authz::Mode::Rbac],
            service_account_key_files: Vec::new(),
            service_account_signing_key_file: None,
            service_account_issuers: vec![crate::authn_sa::DEFAULT_ISSUER.to_string()],
            api_audiences: Vec::new(),
            audit_log_path: None,
            audit_policy_file: None,
            audit_log_rotation: crate::AuditLogRotation::default(),
            admission: crate::admission::AdmissionConfig::default()
                .disable("ServiceAccount")
                .disable("TaintNodesByCondition")
                .disable("DefaultTolerationSeconds")
                .disable("ResourceQuota"),
        }
    }
}

/// Where TLS material comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// Generated and kept in --cert-dir (with an admin kubeconfig).
    Generated,
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
}

/// Where state is kept.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    Embedded {
        dir: PathBuf,
    },
    Etcd {
        servers: Vec<String>,
        prefix: String,
        /// TLS to etcd (`--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`).
        tls: Option<rudder_store::etcd::EtcdTls>,
    },
}

/// A validated configuration: what `run` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind_address: IpAddr,
    pub secure_port: u16,
    pub advertise_address: Option<IpAddr>,
    pub cert_dir: PathBuf,
    pub tls: TlsSource,
    pub client_ca_file: Option<PathBuf>,
    pub token_auth_file: Option<PathBuf>,
    pub auth: AuthConfig,
    pub store: StoreConfig,
    /// Network address and prefix length of the service IP range.
    pub service_range: (std::net::Ipv4Addr, u8),
    pub node_port_range: (u16, u16),
    /// `--encryption-provider-config`: encryption at rest, when given.
    pub encryption_provider_config: Option<PathBuf>,
}

/// The etcd TLS flags: a CA to trust etcd with, and optionally a client certificate and key
/// (both or neither). Unlike upstream, no system roots: etcd's CA is always a private one.
fn etcd_tls(
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<rudder_store::etcd::EtcdTls>, ConfigError> {
    match (ca, cert.is_some() == key.is_some()) {
        (_, false) => Err(ConfigError::EtcdTls(
            "--etcd-certfile and --etcd-keyfile go together",
        )),
        (None, _) if cert.is_some() => Err(ConfigError::EtcdTls(
            "--etcd-certfile needs --etcd-cafile (the CA that signed etcd's serving certificate)",
        )),
        (None, _) => Ok(None),
        (Some(ca_file), true) => Ok(Some(rudder_store::etcd::EtcdTls {
            ca_file,
            client_cert_file: cert,
            client_key_file: key,
        })),
    }
}

impl Options {
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let tls = match (self.tls_cert_file, self.tls_private_key_file) {
            (Some(cert), Some(key)) => TlsSource::Files { cert, key },
            (None, None) => TlsSource::Generated,
            _ => return Err(ConfigError::PartialTls),
        };
        let store = if self.etcd_servers.is_empty() {
            StoreConfig::Embedded { dir: self.data_dir }
        } else {
            StoreConfig::Etcd {
                servers: self.etcd_servers,
                prefix: self.etcd_prefix,
                tls: etcd_tls(self.etcd_cafile, self.etcd_certfile, self.etcd_keyfile)?,
            }
        };
        let range = &self.service_cluster_ip_range;
        let service_range = range
            .split_once('/')
            .and_then(|(ip, len)| {
                Some((
                    ip.parse().ok()?,
                    len.parse::<u8>().ok().filter(|l| (8..=30).contains(l))?,
                ))
            })
            .ok_or_else(|| ConfigError::ServiceRange(range.clone()))?;
        let ports = &self.service_node_port_range;
        let node_port_range = ports
            .split_once('-')
            .and_then(|(lo, hi)| Some((lo.parse().ok()?, hi.parse().ok()?)))
            .filter(|(lo, hi): &(u16, u16)| lo <= hi)
            .ok_or_else(|| ConfigError::NodePortRange(ports.clone()))?;
        let issuers = if self.service_account_issuer.is_empty() {
            AuthConfig::default().service_account_issuers
        } else {
            self.service_account_issuer
        };
        let auth = AuthConfig {
            anonymous_auth: self.anonymous_auth,
            enable_bootstrap_token_auth: self.enable_bootstrap_token_auth,
            authorization_modes: crate::authz::parse_modes(&self.authorization_mode)?,
            service_account_key_files: self.service_account_key_file,
            service_account_signing_key_file: self.service_account_signing_key_file,
            service_account_issuers: issuers,
            api_audiences: self.api_audiences,
            admission: crate::admission::AdmissionConfig::from_flags(
                &self.enable_admission_plugins,
                &self.disable_admission_plugins,
            )?,
            audit_log_path: self.audit_log_path,
            audit_policy_file: self.audit_policy_file,
            audit_log_rotation: crate::AuditLogRotation {
                max_age_days: self.audit_log_maxage,
                max_backups: self.audit_log_maxbackup,
                max_size_mb: self.audit_log_maxsize,
            },
        };
        Ok(Config {
            bind_address: self.bind_address,
            secure_port: self.secure_port,
            advertise_address: self.advertise_address,
            cert_dir: self.cert_dir,
            tls,
            client_ca_file: self.client_ca_file,
            token_auth_file: self.token_auth_file,
            auth,
            store,
            service_range,
            node_port_range,
            encryption_provider_config: self.encryption_provider_config,
        })
    }
}
