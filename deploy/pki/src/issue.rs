//! Making keys and certificates: CAs through `rudder_component::certs`, leaves here because
//! they need kubeadm's usages (etcd's server+client pair) and a configurable lifetime.
//! ECDSA P-256 keys in PKCS#8 PEM (kubeadm's `encryptionAlgorithm: ECDSA-P256`).

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber,
};
use rudder_component::certs::{CertError, CertificateAuthority};
use time::{Duration, OffsetDateTime};

use crate::plan::{LeafSpec, Usage};

/// `notBefore` is backdated by this against clock skew between machines.
const BACKDATE: Duration = Duration::minutes(5);

/// Making a key or certificate failed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Ca(#[from] CertError),
    #[error("{what}: {source}")]
    Rcgen {
        what: String,
        #[source]
        source: rcgen::Error,
    },
    #[error("{name:?} is not a valid DNS name for a certificate")]
    BadDnsName { name: String },
    #[error("random number generator failed")]
    Random,
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A new self-signed CA (10 years, as kubeadm).
pub fn new_ca(common_name: &str) -> Result<CertificateAuthority, IssueError> {
    Ok(CertificateAuthority::generate(common_name)?)
}

/// A leaf for `spec`, signed by `ca`, valid for `validity` from now.
pub fn issue_leaf(
    ca: &CertificateAuthority,
    spec: &LeafSpec,
    validity: Duration,
) -> Result<Issued, IssueError> {
    let rcgen_err = |source| IssueError::Rcgen {
        what: spec.base.clone(),
        source,
    };
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(rcgen_err)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    // Go's pkix.Name marshals O before CN; upstream's x509 authenticator reads both.
    if let Some(org) = &spec.organization {
        params
            .distinguished_name
            .push(DnType::OrganizationName, org.as_str());
    }
    params
        .distinguished_name
        .push(DnType::CommonName, spec.common_name.as_str());
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    params.serial_number = Some(random_serial()?);
    params.key_usages = match spec.usage {
        Usage::Client => vec![KeyUsagePurpose::DigitalSignature],
        Usage::Server | Usage::ServerAndClient => vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ],
    };
    params.extended_key_usages = match spec.usage {
        Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
        Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        Usage::ServerAndClient => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    };
    params.use_authority_key_identifier_extension = true;
    for name in &spec.dns_names {
        let ia5 = name
            .clone()
            .try_into()
            .map_err(|_| IssueError::BadDnsName { name: name.clone() })?;
        params.subject_alt_names.push(SanType::DnsName(ia5));
    }
    params
        .subject_alt_names
        .extend(spec.ips.iter().map(|ip| SanType::IpAddress(*ip)));

    let ca_key = KeyPair::from_pem(ca.key_pem()).map_err(rcgen_err)?;
    let issuer = Issuer::from_ca_cert_pem(ca.cert_pem(), ca_key).map_err(rcgen_err)?;
    let cert = params.signed_by(&key, &issuer).map_err(rcgen_err)?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The service-account signing key pair: `sa.key` (PKCS#8) and `sa.pub` (SubjectPublicKeyInfo),
/// the two PEM forms upstream's `keyutil` reads.
pub fn new_service_account_key() -> Result<(String, String), IssueError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|source| IssueError::Rcgen {
        what: "pki/sa.key".into(),
        source,
    })?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}

fn random_serial() -> Result<SerialNumber, IssueError> {
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
        .map_err(|_| IssueError::Random)?;
    // Positive, and never a leading zero byte that would make the DER encoding shorter.
    serial[0] = (serial[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&serial))
}
