//! Issuing certificates: a CA, client certificates (CN = user, one O per group, as upstream's x509
//! authenticator reads them) and serving certificates. ECDSA P-256 keys, PKCS#8 PEM.
//!
//! rcgen keeps one value per subject attribute type, but a user in several groups needs several O
//! attributes. So the subject Name is encoded here (one RDN per attribute: each O, then CN, the
//! order Go's `pkix.Name` marshals), spliced into the TBSCertificate rcgen made, and signed again
//! with the CA key. The issuer is replaced by the CA certificate's subject bytes too, so a CA whose
//! name rcgen cannot represent still chains.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SigningKey,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};

/// Lifetime of a generated CA.
pub const CA_VALIDITY: Duration = Duration::days(3650);
/// Lifetime of generated client and serving certificates.
pub const LEAF_VALIDITY: Duration = Duration::days(365);
/// `notBefore` is backdated by this against clock skew, as upstream's self-signed certificates.
const BACKDATE: Duration = Duration::hours(1);

/// Issuing a certificate failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CA {cert}: {reason}")]
    InvalidCa { cert: PathBuf, reason: String },
    #[error("invalid host {host:?} for a certificate: {reason}")]
    InvalidHost { host: String, reason: String },
    #[error("generating {what}: {source}")]
    Generate {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error("re-encoding {what}: malformed DER from the certificate generator")]
    Der { what: &'static str },
}

/// The first CERTIFICATE block of a PEM text.
pub fn first_certificate(pem: &str) -> Option<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes()).next()?.ok()
}

/// A CA certificate and its key, able to sign certificates.
#[derive(Clone)]
pub struct CertificateAuthority {
    cert_pem: String,
    key_pem: String,
    /// DER of the CA certificate's subject, used verbatim as the issuer of what it signs.
    subject_der: Vec<u8>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// A new self-signed CA (ECDSA P-256, 10 years).
    pub fn generate(common_name: &str) -> Result<Self, CertError> {
        let key = generate_key("CA key")?;
        let mut params = leaf_params(common_name, &[] as &[&str], CA_VALIDITY)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|source| CertError::Generate { what: "CA", source })?;
        Self::from_pem_named(cert.pem(), key.serialize_pem(), Path::new("<generated CA>"))
    }

    /// Load `ca.crt` and `ca.key` (PKCS#8 PEM), checking that they belong together.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, CertError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| CertError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let cert_pem = read(cert_path)?;
        let key_pem = read(key_path)?;
        Self::from_pem_named(cert_pem, key_pem, cert_path)
    }

    /// From a CA certificate PEM and its PKCS#8 key PEM held in memory.
    pub fn from_pem(cert_pem: String, key_pem: String) -> Result<Self, CertError> {
        Self::from_pem_named(cert_pem, key_pem, Path::new("<in memory CA>"))
    }

    fn from_pem_named(cert_pem: String, key_pem: String, origin: &Path) -> Result<Self, CertError> {
        let invalid = |reason: String| CertError::InvalidCa {
            cert: origin.to_path_buf(),
            reason,
        };
        let der = first_certificate(&cert_pem).ok_or_else(|| invalid("no CERTIFICATE PEM block".into()))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).map_err(|e| invalid(e.to_string()))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| invalid(format!("key: {e}")))?;
        if key.subject_public_key_info() != parsed.public_key().raw {
            return Err(invalid("the key does not match the certificate".into()));
        }
        let subject_der = parsed.subject().as_raw().to_vec();
        Ok(Self {
            cert_pem,
            key_pem,
            subject_der,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    fn key(&self) -> Result<KeyPair, CertError> {
        KeyPair::from_pem(&self.key_pem).map_err(|source| CertError::Generate {
            what: "CA key",
            source,
        })
    }

    /// Sign `params` for `key` and return the certificate DER with our issuer and subject names.
    fn sign(
        &self,
        params: &CertificateParams,
        key: &KeyPair,
        subject: &[u8],
        what: &'static str,
    ) -> Result<Vec<u8>, CertError> {
        let ca_key = self.key()?;
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, ca_key)
            .map_err(|source| CertError::Generate { what, source })?;
        let cert = params
            .signed_by(key, &issuer)
            .map_err(|source| CertError::Generate { what, source })?;
        rewrite_names(cert.der(), &self.subject_der, subject, issuer.key()).ok_or(CertError::Der { what })
    }
}

/// A client certificate (1 year, clientAuth) for user `cn` in `groups`: CN = user, one O per
/// group, as upstream's x509 authenticator reads them. Returns (certificate PEM, PKCS#8 key PEM).
pub fn sign_client_cert<S: AsRef<str>>(
    ca: &CertificateAuthority,
    cn: &str,
    groups: &[S],
) -> Result<(String, String), CertError> {
    let key = generate_key("client key")?;
    let mut params = leaf_params(cn, groups, LEAF_VALIDITY)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    let der = ca.sign(&params, &key, &name_der(cn, groups), "client certificate")?;
    Ok((pem_certificate(&der), key.serialize_pem()))
}

/// A serving certificate (1 year, serverAuth) for `hosts` (DNS names and IP addresses).
/// Returns (certificate PEM followed by the CA certificate, PKCS#8 key PEM).
pub fn sign_serving_cert(
    ca: &CertificateAuthority,
    cn: &str,
    hosts: &[String],
) -> Result<(String, String), CertError> {
    let key = generate_key("serving key")?;
    let mut params = leaf_params(cn, &[] as &[&str], LEAF_VALIDITY)?;
    params.subject_alt_names = hosts.iter().map(|h| san(h)).collect::<Result<_, _>>()?;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let der = ca.sign(
        &params,
        &key,
        &name_der(cn, &[] as &[&str]),
        "serving certificate",
    )?;
    // Like upstream's self-signed apiserver.crt: the leaf, then the CA.
    Ok((
        format!("{}{}", pem_certificate(&der), ca.cert_pem),
        key.serialize_pem(),
    ))
}

pub fn pem_certificate(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn generate_key(what: &'static str) -> Result<KeyPair, CertError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|source| CertError::Generate { what, source })
}

/// Parameters with a random serial, `notBefore` an hour back and the given lifetime. The subject
/// set here is a placeholder: [`rewrite_names`] puts the real one in.
fn leaf_params<S: AsRef<str>>(
    cn: &str,
    groups: &[S],
    validity: Duration,
) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for group in groups {
        params
            .distinguished_name
            .push(DnType::OrganizationName, group.as_ref());
    }
    params.distinguished_name.push(DnType::CommonName, cn);
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial).map_err(|_| {
        CertError::Generate {
            what: "serial number",
            source: rcgen::Error::RingUnspecified,
        }
    })?;
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(params)
}

fn san(host: &str) -> Result<rcgen::SanType, CertError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(rcgen::SanType::IpAddress(ip));
    }
    let name = host
        .to_string()
        .try_into()
        .map_err(|e: rcgen::Error| CertError::InvalidHost {
            host: host.to_string(),
            reason: e.to_string(),
        })?;
    Ok(rcgen::SanType::DnsName(name))
}

// --- DER: names with repeated attributes (see the module documentation) ----------------------

const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

fn name_der<S: AsRef<str>>(cn: &str, groups: &[S]) -> Vec<u8> {
    let attribute = |oid: &[u8], value: &str| {
        let pair = [tlv(0x06, oid), tlv(0x0c, value.as_bytes())].concat();
        tlv(0x31, &tlv(0x30, &pair))
    };
    let mut rdns: Vec<u8> = groups
        .iter()
        .flat_map(|g| attribute(OID_ORGANIZATION, g.as_ref()))
        .collect();
    rdns.extend(attribute(OID_COMMON_NAME, cn));
    tlv(0x30, &rdns)
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// One DER element split off the front of a byte string.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    /// Header and content.
    whole: &'a [u8],
    /// What follows the element.
    rest: &'a [u8],
}

fn read_tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (
            rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            &rest[n..],
        )
    };
    let header = input.len() - rest.len();
    if rest.len() < len {
        return None;
    }
    Some(Tlv {
        tag,
        content: &rest[..len],
        whole: &input[..header + len],
        rest: &rest[len..],
    })
}

fn rewrite_names(cert: &[u8], issuer: &[u8], subject: &[u8], signer: &KeyPair) -> Option<Vec<u8>> {
    let outer = read_tlv(cert).filter(|t| t.tag == 0x30)?;
    let tbs = read_tlv(outer.content).filter(|t| t.tag == 0x30)?;
    let signature_algorithm = read_tlv(tbs.rest)?.whole;
    let mut elements = Vec::new();
    let mut remaining = tbs.content;
    while !remaining.is_empty() {
        let element = read_tlv(remaining)?;
        elements.push((element.tag, element.whole));
        remaining = element.rest;
    }
    // [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
    let offset = usize::from(elements.first()?.0 == 0xa0);
    let (issuer_at, subject_at) = (offset + 2, offset + 4);
    if elements.len() <= subject_at + 1 {
        return None;
    }
    let mut new_tbs = Vec::with_capacity(tbs.content.len() + subject.len());
    for (i, (_, whole)) in elements.iter().enumerate() {
        new_tbs.extend_from_slice(match i {
            i if i == issuer_at => issuer,
            i if i == subject_at => subject,
            _ => whole,
        });
    }
    let tbs_der = tlv(0x30, &new_tbs);
    let signature = signer.sign(&tbs_der).ok()?;
    let bits = [&[0u8][..], &signature].concat();
    Some(tlv(
        0x30,
        &[tbs_der.as_slice(), signature_algorithm, &tlv(0x03, &bits)].concat(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{ClientCa, x509_identity};

    #[test]
    fn client_certificates_carry_every_group() {
        let ca = CertificateAuthority::generate("test-ca").expect("CA");
        let (cert, key) =
            sign_client_cert(&ca, "alice", &["system:masters", "dev team", "ops"]).expect("sign");
        let der = first_certificate(&cert).expect("PEM");
        let (user, groups) = x509_identity(&der).expect("identity");
        assert_eq!(user, "alice");
        assert_eq!(groups, vec!["system:masters", "dev team", "ops"]);
        let client_ca = ClientCa::from_pem(ca.cert_pem().as_bytes()).expect("client CA");
        client_ca
            .verify(std::slice::from_ref(&der))
            .expect("re-signed certificate verifies");
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).expect("parse");
        let key = KeyPair::from_pem(&key).expect("key");
        assert_eq!(key.subject_public_key_info(), parsed.public_key().raw);
        assert_eq!(parsed.issuer().to_string(), "CN=test-ca");

        // No groups at all.
        let (cert, _) = sign_client_cert::<&str>(&ca, "system:kube-scheduler", &[]).expect("sign");
        let der = first_certificate(&cert).expect("PEM");
        assert_eq!(
            x509_identity(&der),
            Some(("system:kube-scheduler".to_string(), vec![]))
        );
        client_ca.verify(&[der]).expect("verifies");

        // A certificate from another CA does not verify.
        let other = CertificateAuthority::generate("other").expect("CA");
        let (cert, _) = sign_client_cert(&other, "mallory", &["system:masters"]).expect("sign");
        client_ca
            .verify(&[first_certificate(&cert).expect("PEM")])
            .expect_err("foreign CA");
    }

    #[test]
    fn long_names_use_long_form_lengths() {
        let ca = CertificateAuthority::generate("test-ca").expect("CA");
        let groups: Vec<String> = (0..20)
            .map(|i| format!("group-number-{i}-{}", "x".repeat(40)))
            .collect();
        let (cert, _) = sign_client_cert(&ca, &"u".repeat(300), &groups).expect("sign");
        let der = first_certificate(&cert).expect("PEM");
        let (user, got) = x509_identity(&der).expect("identity");
        assert_eq!(user.len(), 300);
        assert_eq!(got, groups);
        ClientCa::from_pem(ca.cert_pem().as_bytes())
            .expect("CA")
            .verify(&[der])
            .expect("verifies");
    }

    #[test]
    fn serving_certificates_name_their_hosts() {
        let ca = CertificateAuthority::generate("test-ca").expect("CA");
        let hosts = vec!["localhost".to_string(), "10.0.0.1".to_string(), "::1".to_string()];
        let (chain, key) = sign_serving_cert(&ca, "kube-apiserver", &hosts).expect("sign");
        assert_eq!(
            CertificateDer::pem_slice_iter(chain.as_bytes()).count(),
            2,
            "leaf, then the CA"
        );
        crate::tls::server_config_from_pem(chain.as_bytes(), key.as_bytes(), None).expect("usable by rustls");
        sign_serving_cert(&ca, "x", &["bad host\u{e9}".to_string()]).expect_err("not IA5");
    }

    #[test]
    fn loading_checks_that_key_and_certificate_match() {
        let one = CertificateAuthority::generate("one").expect("CA");
        let two = CertificateAuthority::generate("two").expect("CA");
        let err = CertificateAuthority::from_pem(one.cert_pem().into(), two.key_pem().into())
            .expect_err("mismatch");
        assert!(matches!(err, CertError::InvalidCa { .. }), "{err}");
        CertificateAuthority::from_pem(one.cert_pem().into(), one.key_pem().into()).expect("match");
        assert!(
            !format!("{one:?}").contains("PRIVATE KEY"),
            "key redacted in Debug"
        );
    }
}
