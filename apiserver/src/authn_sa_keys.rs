//! Service-account signing and verification keys (`--service-account-signing-key-file`,
//! `--service-account-key-file`): PEM files holding PKCS#8 private keys (ECDSA P-256 or RSA),
//! PKCS#1 RSA private keys, SPKI public keys or certificates. When no signing key is given, an
//! ECDSA P-256 key is generated into the certificate directory (`sa.key`, `sa.pub`, as kubeadm
//! names them), like the rest of the development PKI.

use std::path::{Path, PathBuf};

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};

/// Loading or generating a key failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("generating a service-account key: {0}")]
    Generate(String),
}

/// A key that signs tokens.
pub(crate) enum SigningKey {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.alg())
    }
}

impl SigningKey {
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            SigningKey::Es256(_) => "ES256",
            SigningKey::Rs256(_) => "RS256",
        }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        match self {
            SigningKey::Es256(key) => key
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| e.to_string()),
            SigningKey::Rs256(key) => {
                let mut out = vec![0; key.public().modulus_len()];
                key.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out)
                    .map_err(|e| e.to_string())?;
                Ok(out)
            }
        }
    }

    pub(crate) fn public(&self) -> PublicKey {
        match self {
            SigningKey::Es256(key) => PublicKey::Es256(key.public_key().as_ref().to_vec()),
            SigningKey::Rs256(key) => PublicKey::Rs256(key.public().as_ref().to_vec()),
        }
    }
}

/// A key that verifies tokens: the raw EC point, or the DER `RSAPublicKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    Es256(Vec<u8>),
    Rs256(Vec<u8>),
}

impl PublicKey {
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            PublicKey::Es256(_) => "ES256",
            PublicKey::Rs256(_) => "RS256",
        }
    }

    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let (alg, key): (&dyn signature::VerificationAlgorithm, &[u8]) = match self {
            PublicKey::Es256(k) => (&signature::ECDSA_P256_SHA256_FIXED, k),
            PublicKey::Rs256(k) => (&signature::RSA_PKCS1_2048_8192_SHA256, k),
        };
        signature::UnparsedPublicKey::new(alg, key)
            .verify(message, sig)
            .is_ok()
    }

    /// The key id in token headers: a digest of the key, so verifiers pick the right key.
    pub(crate) fn key_id(&self) -> String {
        let bytes = match self {
            PublicKey::Es256(k) | PublicKey::Rs256(k) => k,
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    }
}

fn pem_blocks(path: &Path) -> Result<Vec<(String, Vec<u8>)>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let body: String = lines
            .by_ref()
            .take_while(|l| l.trim() != end)
            .map(str::trim)
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| KeyError::Parse {
                path: path.to_path_buf(),
                reason: format!("{label}: {e}"),
            })?;
        blocks.push((label.to_string(), der));
    }
    Ok(blocks)
}

fn parse_private(label: &str, der: &[u8]) -> Result<SigningKey, String> {
    let rng = SystemRandom::new();
    match label {
        "PRIVATE KEY" => EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map(SigningKey::Es256)
            .or_else(|_| RsaKeyPair::from_pkcs8(der).map(SigningKey::Rs256))
            .map_err(|e| format!("unsupported private key (ECDSA P-256 or RSA expected): {e}")),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(der)
            .map(SigningKey::Rs256)
            .map_err(|e| e.to_string()),
        "EC PRIVATE KEY" => {
            Err("SEC1 EC keys are not supported; convert with `openssl pkcs8 -topk8 -nocrypt`".into())
        }
        other => Err(format!("no private key (found {other})")),
    }
}

fn parse_public(der: &[u8]) -> Result<PublicKey, String> {
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der).map_err(|e| e.to_string())?;
    spki_key(&spki)
}

fn spki_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<PublicKey, String> {
    let raw = spki.subject_public_key.data.to_vec();
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.10045.2.1" => Ok(PublicKey::Es256(raw)),
        "1.2.840.113549.1.1.1" => Ok(PublicKey::Rs256(raw)),
        other => Err(format!("unsupported public key algorithm {other}")),
    }
}

/// The signing key in a PEM file.
pub(crate) fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let parse_err = |reason: String| KeyError::Parse {
        path: path.to_path_buf(),
        reason,
    };
    let blocks = pem_blocks(path)?;
    let (label, der) = blocks
        .iter()
        .find(|(l, _)| l.contains("PRIVATE KEY"))
        .ok_or_else(|| parse_err("no PEM private key".into()))?;
    parse_private(label, der).map_err(parse_err)
}

/// Every verification key in a PEM file (public keys, private keys, certificates).
pub(crate) fn load_public_keys(path: &Path) -> Result<Vec<PublicKey>, KeyError> {
    let parse_err = |reason: String| KeyError::Parse {
        path: path.to_path_buf(),
        reason,
    };
    let mut keys = Vec::new();
    for (label, der) in pem_blocks(path)? {
        let key = match label.as_str() {
            "PUBLIC KEY" => parse_public(&der).map_err(parse_err)?,
            "CERTIFICATE" => {
                let (_, cert) =
                    x509_parser::parse_x509_certificate(&der).map_err(|e| parse_err(e.to_string()))?;
                spki_key(cert.public_key()).map_err(parse_err)?
            }
            l if l.contains("PRIVATE KEY") => parse_private(l, &der).map_err(parse_err)?.public(),
            _ => continue,
        };
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(parse_err("no public or private key found".into()));
    }
    Ok(keys)
}

/// `sa.key` in `dir`, created (ECDSA P-256, PKCS#8, mode 0600) with `sa.pub` when missing.
pub(crate) fn ensure_generated(dir: &Path) -> Result<PathBuf, KeyError> {
    let key_path = dir.join("sa.key");
    if key_path.exists() {
        return Ok(key_path);
    }
    let key = rcgen::KeyPair::generate().map_err(|e| KeyError::Generate(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write_file(&dir.join("sa.pub"), key.public_key_pem().as_bytes(), 0o644)?;
    write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    Ok(key_path)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_and_its_public_half_verifies() {
        let dir = tempfile::tempdir().expect("dir");
        let key_path = ensure_generated(dir.path()).expect("generate");
        assert_eq!(ensure_generated(dir.path()).expect("reuse"), key_path);
        let key = load_signing_key(&key_path).expect("load");
        assert_eq!(key.alg(), "ES256");
        let public = load_public_keys(&dir.path().join("sa.pub")).expect("pub");
        assert_eq!(public, vec![key.public()]);
        let sig = key.sign(b"message").expect("sign");
        assert!(public[0].verify(b"message", &sig));
        assert!(!public[0].verify(b"other", &sig));
        // The private key file verifies too.
        assert_eq!(
            load_public_keys(&key_path).expect("from private"),
            vec![key.public()]
        );
    }
}
