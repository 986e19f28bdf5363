//! Reading back what a certificate says: subject, SANs, usages, expiry, and whether a CA
//! signed it. Used to reuse existing files on `init`, and by `renew` and `check`.

use std::net::IpAddr;

use rudder_component::certs::first_certificate;
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::plan::{LeafSpec, Usage};

/// Reading a certificate failed.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("no CERTIFICATE PEM block")]
    NoPem,
    #[error("malformed certificate: {0}")]
    Parse(String),
    #[error("unsupported extended key usage (neither serverAuth nor clientAuth)")]
    Usage,
}

/// The parts of a certificate this tool cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub common_name: String,
    pub organizations: Vec<String>,
    pub dns_names: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub server_auth: bool,
    pub client_auth: bool,
    pub is_ca: bool,
    pub not_after: OffsetDateTime,
    pub issuer_der: Vec<u8>,
    pub subject_der: Vec<u8>,
    pub public_key_der: Vec<u8>,
}

/// Parse the first certificate of a PEM text.
pub fn inspect(pem: &str) -> Result<CertInfo, InspectError> {
    let der = first_certificate(pem).ok_or(InspectError::NoPem)?;
    let (_, cert) = X509Certificate::from_der(&der).map_err(|e| InspectError::Parse(e.to_string()))?;
    let strings = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.filter_map(|a| a.as_str().ok().map(str::to_string))
            .collect::<Vec<_>>()
    };
    let subject = cert.subject();
    let common_name = strings(&mut subject.iter_common_name())
        .into_iter()
        .next()
        .unwrap_or_default();
    let organizations = strings(&mut subject.iter_organization());
    let (mut dns_names, mut ips) = (Vec::new(), Vec::new());
    let (mut server_auth, mut client_auth) = (false, false);
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(n) => dns_names.push((*n).to_string()),
                        GeneralName::IPAddress(bytes) => {
                            if let Some(ip) = ip_from_bytes(bytes) {
                                ips.push(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                server_auth = eku.server_auth;
                client_auth = eku.client_auth;
            }
            _ => {}
        }
    }
    let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
        .map_err(|e| InspectError::Parse(e.to_string()))?;
    Ok(CertInfo {
        common_name,
        organizations,
        dns_names,
        ips,
        server_auth,
        client_auth,
        is_ca: cert.is_ca(),
        not_after,
        issuer_der: cert.issuer().as_raw().to_vec(),
        subject_der: subject.as_raw().to_vec(),
        public_key_der: cert.public_key().raw.to_vec(),
    })
}

/// Whether `cert_pem` was signed by the CA certificate `ca_pem` (name and signature).
pub fn signed_by(cert_pem: &str, ca_pem: &str) -> bool {
    let (Some(cert_der), Some(ca_der)) = (first_certificate(cert_pem), first_certificate(ca_pem)) else {
        return false;
    };
    let (Ok((_, cert)), Ok((_, ca))) = (
        X509Certificate::from_der(&cert_der),
        X509Certificate::from_der(&ca_der),
    ) else {
        return false;
    };
    cert.issuer().as_raw() == ca.subject().as_raw() && cert.verify_signature(Some(ca.public_key())).is_ok()
}

/// Whether the PKCS#8 key `key_pem` belongs to the certificate.
pub fn key_matches(info: &CertInfo, key_pem: &str) -> bool {
    use rcgen::PublicKeyData;
    rcgen::KeyPair::from_pem(key_pem)
        .map(|k| k.subject_public_key_info() == info.public_key_der)
        .unwrap_or(false)
}

impl CertInfo {
    /// What the certificate was issued for, so `renew` can issue the same again.
    pub fn to_spec(&self, base: &str) -> Result<LeafSpec, InspectError> {
        let usage = match (self.server_auth, self.client_auth) {
            (true, true) => Usage::ServerAndClient,
            (true, false) => Usage::Server,
            (false, true) => Usage::Client,
            (false, false) => return Err(InspectError::Usage),
        };
        Ok(LeafSpec {
            base: base.to_string(),
            ca: crate::plan::CaId::for_leaf(base),
            common_name: self.common_name.clone(),
            organization: self.organizations.first().cloned(),
            usage,
            dns_names: self.dns_names.clone(),
            ips: self.ips.clone(),
        })
    }

    /// Why this certificate does not serve `spec`, if it does not: another subject or usage,
    /// or a name or address missing.
    pub fn mismatch(&self, spec: &LeafSpec) -> Option<String> {
        if self.common_name != spec.common_name {
            return Some(format!(
                "CN is {:?}, want {:?}",
                self.common_name, spec.common_name
            ));
        }
        if self.organizations.first() != spec.organization.as_ref() {
            return Some(format!(
                "O is {:?}, want {:?}",
                self.organizations, spec.organization
            ));
        }
        let want_server = matches!(spec.usage, Usage::Server | Usage::ServerAndClient);
        let want_client = matches!(spec.usage, Usage::Client | Usage::ServerAndClient);
        if (want_server && !self.server_auth) || (want_client && !self.client_auth) {
            return Some(format!("usages are not {:?}", spec.usage));
        }
        if let Some(name) = spec.dns_names.iter().find(|n| !self.dns_names.contains(n)) {
            return Some(format!("DNS name {name} missing from its SANs"));
        }
        if let Some(ip) = spec.ips.iter().find(|ip| !self.ips.contains(ip)) {
            return Some(format!("IP address {ip} missing from its SANs"));
        }
        None
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::{issue_leaf, new_ca};
    use crate::plan::CaId;
    use time::Duration;

    fn spec() -> LeafSpec {
        LeafSpec {
            base: "pki/etcd/server".into(),
            ca: CaId::Etcd,
            common_name: "cp1".into(),
            organization: None,
            usage: Usage::ServerAndClient,
            dns_names: vec!["cp1".into(), "localhost".into()],
            ips: vec!["10.0.0.1".parse().expect("ip"), "::1".parse().expect("ip")],
        }
    }

    #[test]
    fn issued_leaf_reads_back_as_its_spec() {
        let ca = new_ca("etcd-ca").expect("ca");
        let issued = issue_leaf(&ca, &spec(), Duration::days(10)).expect("leaf");
        let info = inspect(&issued.cert_pem).expect("inspect");
        assert_eq!(info.to_spec("pki/etcd/server").expect("spec"), spec());
        assert_eq!(info.mismatch(&spec()), None);
        assert!(!info.is_ca);
        assert!(key_matches(&info, &issued.key_pem));
        assert!(signed_by(&issued.cert_pem, ca.cert_pem()));
        let left = info.not_after - OffsetDateTime::now_utc();
        assert!(left > Duration::days(9) && left <= Duration::days(10), "{left}");

        let other = new_ca("etcd-ca").expect("ca");
        assert!(
            !signed_by(&issued.cert_pem, other.cert_pem()),
            "same name, other key"
        );
        assert!(!key_matches(&info, other.key_pem()));
    }

    #[test]
    fn mismatches_are_explained() {
        let ca = new_ca("etcd-ca").expect("ca");
        let info = inspect(
            &issue_leaf(&ca, &spec(), Duration::days(1))
                .expect("leaf")
                .cert_pem,
        )
        .expect("inspect");
        let mut more = spec();
        more.ips.push("10.0.0.2".parse().expect("ip"));
        assert_eq!(
            info.mismatch(&more).as_deref(),
            Some("IP address 10.0.0.2 missing from its SANs")
        );
        let mut other = spec();
        other.common_name = "cp2".into();
        assert!(info.mismatch(&other).is_some_and(|m| m.contains("CN")));
        let mut org = spec();
        org.organization = Some("system:masters".into());
        assert!(info.mismatch(&org).is_some_and(|m| m.contains("O is")));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(inspect("hello"), Err(InspectError::NoPem)));
        let bogus = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(inspect(bogus).is_err());
    }
}
