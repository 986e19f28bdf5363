//! Upstream `pkg/controller/certificates/authority` with the signer's
//! `PermissiveSigningPolicy`: the certificate keeps the request's subject, subject alternative
//! names and public key; its usages are the CSR's `spec.usages`; every other requested
//! extension is dropped; it is no CA; `notBefore` is backdated 5 minutes; `notAfter` is the TTL
//! on (not backdated for certificates shorter than 8 hours) and never past the CA's own.

use std::path::Path;

use rcgen::{ExtendedKeyUsagePurpose as Eku, IsCa, Issuer, KeyPair, KeyUsagePurpose as Ku, SerialNumber};
use time::{Duration, OffsetDateTime};

/// The signer's backdate (upstream `Backdate: 5 * time.Minute`).
pub const BACKDATE: Duration = Duration::minutes(5);
/// Certificates shorter than this are not backdated at the end (upstream `Short: 8 * time.Hour`).
pub const SHORT: Duration = Duration::hours(8);
/// The shortest duration a CSR's `expirationSeconds` gets (upstream: twice the backdate).
pub const MIN_DURATION: Duration = Duration::minutes(10);

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("reading {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the signing CA: {0}")]
    Ca(String),
    #[error("unrecognized usage values: {0:?}")]
    Usages(Vec<String>),
    #[error("the signer has expired: NotAfter={0}")]
    Expired(OffsetDateTime),
    #[error("unable to verify or use the certificate request: {0}")]
    Request(String),
    /// The certificate generator keeps one value per attribute type: signing would silently
    /// drop all but one (of several O, that is, groups). Retried, never signed wrong.
    #[error("subjects with several {0} attributes cannot be signed yet")]
    RepeatedAttribute(String),
    #[error("failed to sign certificate: {0}")]
    Sign(String),
}

/// The CA a `csrsigning` controller signs with (`--cluster-signing-cert-file`/`-key-file`).
pub struct CaSigner {
    cert_pem: String,
    key_pem: String,
    not_after: OffsetDateTime,
}

impl std::fmt::Debug for CaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaSigner")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl CaSigner {
    pub fn load(cert: &Path, key: &Path) -> Result<Self, SignError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| SignError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        Self::from_pem(read(cert)?, read(key)?)
    }

    pub fn from_pem(cert_pem: String, key_pem: String) -> Result<Self, SignError> {
        let (_, block) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| SignError::Ca(e.to_string()))?;
        let cert = block.parse_x509().map_err(|e| SignError::Ca(e.to_string()))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| SignError::Ca(format!("key: {e}")))?;
        if rcgen::PublicKeyData::subject_public_key_info(&key) != cert.public_key().raw {
            return Err(SignError::Ca("the key does not match the certificate".into()));
        }
        let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
            .map_err(|e| SignError::Ca(e.to_string()))?;
        Ok(Self {
            cert_pem,
            key_pem,
            not_after,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Signs the PEM request for `usages`, valid for `ttl` from `now`; returns the PEM.
    pub fn sign(
        &self,
        request_pem: &str,
        usages: &[String],
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<String, SignError> {
        let (key_usages, extended) = key_usages(usages)?;
        check_subject(request_pem)?;
        let (not_before, not_after) = boundaries(now, ttl, self.not_after)?;
        // Verifies the request's signature (upstream `cr.CheckSignature()`).
        let request = rcgen::CertificateSigningRequestParams::from_pem(request_pem)
            .map_err(|e| SignError::Request(e.to_string()))?;
        let mut params = request.params;
        params.key_usages = key_usages;
        params.extended_key_usages = extended;
        params.custom_extensions.clear();
        params.is_ca = IsCa::ExplicitNoCa;
        params.not_before = not_before;
        params.not_after = not_after;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        let ca_key = KeyPair::from_pem(&self.key_pem).map_err(|e| SignError::Ca(e.to_string()))?;
        let issuer =
            Issuer::from_ca_cert_pem(&self.cert_pem, ca_key).map_err(|e| SignError::Ca(e.to_string()))?;
        let cert = params
            .signed_by(&request.public_key, &issuer)
            .map_err(|e| SignError::Sign(e.to_string()))?;
        Ok(cert.pem())
    }
}

/// Refuses subjects with an attribute type more than once (see [`SignError::RepeatedAttribute`]).
fn check_subject(request_pem: &str) -> Result<(), SignError> {
    use x509_parser::prelude::FromDer;
    let bad = |e: String| SignError::Request(e);
    let (_, block) =
        x509_parser::pem::parse_x509_pem(request_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&block.contents)
        .map_err(|e| bad(e.to_string()))?;
    let mut seen = std::collections::HashSet::new();
    for attribute in csr.certification_request_info.subject.iter_attributes() {
        let oid = attribute.attr_type().to_id_string();
        if !seen.insert(oid.clone()) {
            let name = match oid.as_str() {
                "2.5.4.10" => "O".to_string(),
                "2.5.4.11" => "OU".to_string(),
                "2.5.4.3" => "CN".to_string(),
                _ => oid,
            };
            return Err(SignError::RepeatedAttribute(name));
        }
    }
    Ok(())
}

/// A random positive 128-bit serial number (upstream: `rand.Int(rand.Reader, 1<<128)`).
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

/// Upstream `signer.duration`: the CSR's `expirationSeconds` when shorter than the default,
/// never under 10 minutes.
pub fn duration(default: Duration, expiration_seconds: Option<i32>) -> Duration {
    let Some(seconds) = expiration_seconds else {
        return default;
    };
    let requested = Duration::seconds(i64::from(seconds));
    if requested > default {
        default
    } else if requested < MIN_DURATION {
        MIN_DURATION
    } else {
        requested
    }
}

/// `PermissiveSigningPolicy.apply`'s validity window.
pub fn boundaries(
    now: OffsetDateTime,
    ttl: Duration,
    signer_not_after: OffsetDateTime,
) -> Result<(OffsetDateTime, OffsetDateTime), SignError> {
    let not_before = now - BACKDATE;
    let mut not_after = if ttl < SHORT {
        now + ttl
    } else {
        now + ttl - BACKDATE
    };
    if not_after >= signer_not_after {
        not_after = signer_not_after;
    }
    if not_before >= signer_not_after || now >= signer_not_after {
        return Err(SignError::Expired(signer_not_after));
    }
    Ok((not_before, not_after))
}

/// Go's extended key usages in `x509.ExtKeyUsage` order (the order upstream sorts them in).
fn extended_usages() -> Vec<(&'static [&'static str], Eku)> {
    vec![
        (&["any"], Eku::Any),
        (&["server auth"], Eku::ServerAuth),
        (&["client auth"], Eku::ClientAuth),
        (&["code signing"], Eku::CodeSigning),
        (&["email protection", "s/mime"], Eku::EmailProtection),
        (&["ipsec end system"], Eku::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 5])),
        (&["ipsec tunnel"], Eku::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 6])),
        (&["ipsec user"], Eku::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 7])),
        (&["timestamping"], Eku::TimeStamping),
        (&["ocsp signing"], Eku::OcspSigning),
        (
            &["microsoft sgc"],
            Eku::Other(vec![1, 3, 6, 1, 4, 1, 311, 10, 3, 3]),
        ),
        (&["netscape sgc"], Eku::Other(vec![2, 16, 840, 1, 113730, 4, 1])),
    ]
}

/// Upstream `keyUsagesFromStrings`.
pub fn key_usages(usages: &[String]) -> Result<(Vec<Ku>, Vec<Eku>), SignError> {
    let key_usage = |u: &str| {
        Some(match u {
            "signing" | "digital signature" => Ku::DigitalSignature,
            "content commitment" => Ku::ContentCommitment,
            "key encipherment" => Ku::KeyEncipherment,
            "key agreement" => Ku::KeyAgreement,
            "data encipherment" => Ku::DataEncipherment,
            "cert sign" => Ku::KeyCertSign,
            "crl sign" => Ku::CrlSign,
            "encipher only" => Ku::EncipherOnly,
            "decipher only" => Ku::DecipherOnly,
            _ => return None,
        })
    };
    let extended_table = extended_usages();
    let mut keys: Vec<Ku> = Vec::new();
    let mut unrecognized = Vec::new();
    for usage in usages {
        if let Some(k) = key_usage(usage) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        } else if !extended_table
            .iter()
            .any(|(names, _)| names.contains(&usage.as_str()))
        {
            unrecognized.push(usage.clone());
        }
    }
    if !unrecognized.is_empty() {
        return Err(SignError::Usages(unrecognized));
    }
    let extended = extended_table
        .into_iter()
        .filter(|(names, _)| usages.iter().any(|u| names.contains(&u.as_str())))
        .map(|(_, eku)| eku)
        .collect();
    Ok((keys, extended))
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
