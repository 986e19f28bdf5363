//! The encryption providers of upstream's EncryptionConfiguration, with upstream's stored format:
//! `k8s:enc:<provider>:v1:<key name>:` followed by the provider's payload.
//! - aescbc: a random 16-byte IV, then AES-CBC with PKCS#7 padding (no authentication, as
//!   upstream; upstream recommends secretbox or aesgcm instead);
//! - aesgcm: a random 12-byte nonce, then AES-GCM sealed with the storage key as associated
//!   data (so a value cannot be moved to another key);
//! - secretbox: a random 24-byte nonce, then XSalsa20-Poly1305;
//! - identity: the plain value.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use rand::RngCore;

/// What every encrypted value starts with; identity refuses to read such values.
pub(crate) const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProviderKind {
    AesCbc,
    AesGcm,
    Secretbox,
    Identity,
}

impl ProviderKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ProviderKind::AesCbc => "aescbc",
            ProviderKind::AesGcm => "aesgcm",
            ProviderKind::Secretbox => "secretbox",
            ProviderKind::Identity => "identity",
        }
    }
}

/// One key of one provider (or identity).
pub(crate) struct Provider {
    kind: ProviderKind,
    prefix: Vec<u8>,
    key: Vec<u8>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("prefix", &String::from_utf8_lossy(&self.prefix))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum CryptError {
    #[error("identity transformer tried to read encrypted data")]
    EncryptedForIdentity,
    #[error("no matching prefix found")]
    NoMatchingPrefix,
    #[error("{0}: the data is too short")]
    Short(&'static str),
    #[error("{0}: decryption failed (wrong key, or the data was altered)")]
    Open(&'static str),
    #[error("{0}: encryption failed")]
    Seal(&'static str),
}

impl Provider {
    pub(crate) fn identity() -> Provider {
        Provider {
            kind: ProviderKind::Identity,
            prefix: Vec::new(),
            key: Vec::new(),
        }
    }

    /// A provider for one named key, checking the key's length as upstream does.
    pub(crate) fn new(kind: ProviderKind, name: &str, key: &[u8]) -> Result<Provider, String> {
        if name.is_empty() || name.contains(':') {
            return Err(format!(
                "name: Invalid value: {name:?}: must be non-empty and without ':'"
            ));
        }
        let sizes: &[usize] = match kind {
            ProviderKind::AesCbc | ProviderKind::AesGcm => &[16, 24, 32],
            ProviderKind::Secretbox => &[32],
            ProviderKind::Identity => &[0],
        };
        if !sizes.contains(&key.len()) {
            return Err(format!(
                "secret: Invalid value: {} bytes: {} keys are {} bytes",
                key.len(),
                kind.name(),
                sizes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Provider {
            kind,
            prefix: format!("k8s:enc:{}:v1:{name}:", kind.name()).into_bytes(),
            key: key.to_vec(),
        })
    }

    #[cfg(test)]
    pub(crate) fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Whether `stored` is in the form this provider writes.
    pub(crate) fn writes(&self, stored: &[u8]) -> bool {
        match self.kind {
            ProviderKind::Identity => !stored.starts_with(ENCRYPTED_PREFIX),
            _ => stored.starts_with(&self.prefix),
        }
    }

    /// The stored form of `plain` written under `storage_key`.
    pub(crate) fn seal(&self, plain: &[u8], storage_key: &str) -> Result<Vec<u8>, CryptError> {
        let name = self.kind.name();
        let mut out = self.prefix.clone();
        match self.kind {
            ProviderKind::Identity => out.extend_from_slice(plain),
            ProviderKind::AesCbc => {
                let iv = random::<16>();
                out.extend_from_slice(&iv);
                out.extend(cbc_encrypt(&self.key, &iv, plain).ok_or(CryptError::Seal(name))?);
            }
            ProviderKind::AesGcm => {
                let nonce = random::<12>();
                out.extend_from_slice(&nonce);
                out.extend(
                    gcm(&self.key, &nonce, plain, storage_key.as_bytes(), true)
                        .ok_or(CryptError::Seal(name))?,
                );
            }
            ProviderKind::Secretbox => {
                let nonce = random::<24>();
                out.extend_from_slice(&nonce);
                let cipher = crypto_secretbox::XSalsa20Poly1305::new_from_slice(&self.key)
                    .map_err(|_| CryptError::Seal(name))?;
                out.extend(
                    cipher
                        .encrypt(&nonce.into(), plain)
                        .map_err(|_| CryptError::Seal(name))?,
                );
            }
        }
        Ok(out)
    }

    /// The plain value of `stored` (which starts with this provider's prefix).
    pub(crate) fn open(&self, stored: &[u8], storage_key: &str) -> Result<Vec<u8>, CryptError> {
        let payload = &stored[self.prefix.len()..];
        let name = self.kind.name();
        match self.kind {
            ProviderKind::Identity if stored.starts_with(ENCRYPTED_PREFIX) => {
                Err(CryptError::EncryptedForIdentity)
            }
            ProviderKind::Identity => Ok(stored.to_vec()),
            ProviderKind::AesCbc => {
                if payload.len() < 32 || !payload.len().is_multiple_of(16) {
                    return Err(CryptError::Short(name));
                }
                let (iv, data) = payload.split_at(16);
                cbc_decrypt(&self.key, iv, data).ok_or(CryptError::Open(name))
            }
            ProviderKind::AesGcm => {
                if payload.len() < 12 + 16 {
                    return Err(CryptError::Short(name));
                }
                let (nonce, data) = payload.split_at(12);
                gcm(&self.key, nonce, data, storage_key.as_bytes(), false).ok_or(CryptError::Open(name))
            }
            ProviderKind::Secretbox => {
                if payload.len() < 24 + 16 {
                    return Err(CryptError::Short(name));
                }
                let (nonce, data) = payload.split_at(24);
                let cipher = crypto_secretbox::XSalsa20Poly1305::new_from_slice(&self.key)
                    .map_err(|_| CryptError::Open(name))?;
                let nonce = crypto_secretbox::Nonce::from_slice(nonce);
                cipher.decrypt(nonce, data).map_err(|_| CryptError::Open(name))
            }
        }
    }
}

/// Reads a stored value with the providers of its resource: the first provider whose prefix
/// the value carries opens it; identity reads values that carry no encryption prefix.
pub(crate) fn open_with(
    providers: &[Provider],
    stored: &[u8],
    storage_key: &str,
) -> Result<Vec<u8>, CryptError> {
    for p in providers {
        if p.kind == ProviderKind::Identity {
            if !stored.starts_with(ENCRYPTED_PREFIX) {
                return Ok(stored.to_vec());
            }
        } else if stored.starts_with(&p.prefix) {
            return p.open(stored, storage_key);
        }
    }
    Err(CryptError::NoMatchingPrefix)
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

fn cbc_encrypt(key: &[u8], iv: &[u8; 16], plain: &[u8]) -> Option<Vec<u8>> {
    Some(match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .encrypt_padded_vec_mut::<Pkcs7>(plain),
        24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, iv)
            .ok()?
            .encrypt_padded_vec_mut::<Pkcs7>(plain),
        _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .encrypt_padded_vec_mut::<Pkcs7>(plain),
    })
}

fn cbc_decrypt(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok(),
    }
}

/// AES-GCM seal (`encrypt`) or open with associated data `aad`; `None` when opening fails.
fn gcm(key: &[u8], nonce: &[u8], data: &[u8], aad: &[u8], encrypt: bool) -> Option<Vec<u8>> {
    type Aes192Gcm = aes_gcm::AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>;
    fn run<C: Aead + KeyInit>(
        key: &[u8],
        nonce: &[u8],
        msg: &[u8],
        aad: &[u8],
        encrypt: bool,
    ) -> Option<Vec<u8>> {
        let cipher = C::new_from_slice(key).ok()?;
        let nonce = aes_gcm::Nonce::<C::NonceSize>::from_slice(nonce);
        let payload = Payload { msg, aad };
        if encrypt {
            cipher.encrypt(nonce, payload).ok()
        } else {
            cipher.decrypt(nonce, payload).ok()
        }
    }
    match key.len() {
        16 => run::<aes_gcm::Aes128Gcm>(key, nonce, data, aad, encrypt),
        24 => run::<Aes192Gcm>(key, nonce, data, aad, encrypt),
        _ => run::<aes_gcm::Aes256Gcm>(key, nonce, data, aad, encrypt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Provider> {
        vec![
            Provider::new(ProviderKind::AesCbc, "cbc16", &[1; 16]).unwrap(),
            Provider::new(ProviderKind::AesCbc, "cbc32", &[2; 32]).unwrap(),
            Provider::new(ProviderKind::AesGcm, "gcm24", &[3; 24]).unwrap(),
            Provider::new(ProviderKind::AesGcm, "gcm32", &[4; 32]).unwrap(),
            Provider::new(ProviderKind::Secretbox, "sb", &[5; 32]).unwrap(),
        ]
    }

    #[test]
    fn every_provider_round_trips_and_hides_the_plaintext() {
        let plain = br#"{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}"#;
        let providers = all();
        for p in &providers {
            let stored = p.seal(plain, "/secrets/default/s").unwrap();
            assert!(stored.starts_with(p.prefix()), "{p:?}");
            assert!(
                !stored.windows(8).any(|w| w == b"aHVudGVy"),
                "{p:?} leaks the plaintext"
            );
            assert_eq!(
                open_with(&providers, &stored, "/secrets/default/s").unwrap(),
                plain,
                "{p:?}"
            );
            // A fresh IV/nonce every time.
            assert_ne!(stored, p.seal(plain, "/secrets/default/s").unwrap());
        }
    }

    #[test]
    fn aesgcm_binds_the_value_to_its_key_and_tampering_is_caught() {
        let gcm = Provider::new(ProviderKind::AesGcm, "k", &[9; 32]).unwrap();
        let stored = gcm.seal(b"value", "/secrets/a/b").unwrap();
        assert_eq!(
            gcm.open(&stored, "/secrets/a/other"),
            Err(CryptError::Open("aesgcm"))
        );
        let sb = Provider::new(ProviderKind::Secretbox, "k", &[9; 32]).unwrap();
        let mut stored = sb.seal(b"value", "/x").unwrap();
        *stored.last_mut().unwrap() ^= 1;
        assert_eq!(sb.open(&stored, "/x"), Err(CryptError::Open("secretbox")));
    }

    #[test]
    fn identity_reads_plain_data_only_and_unknown_prefixes_fail() {
        let with_identity = vec![
            Provider::new(ProviderKind::AesCbc, "new", &[1; 32]).unwrap(),
            Provider::identity(),
        ];
        assert_eq!(open_with(&with_identity, b"{}", "/k").unwrap(), b"{}");
        let old = Provider::new(ProviderKind::AesCbc, "old", &[7; 32])
            .unwrap()
            .seal(b"{}", "/k")
            .unwrap();
        assert_eq!(
            open_with(&with_identity, &old, "/k"),
            Err(CryptError::NoMatchingPrefix)
        );
        let without = vec![Provider::new(ProviderKind::AesCbc, "new", &[1; 32]).unwrap()];
        assert_eq!(
            open_with(&without, b"{}", "/k"),
            Err(CryptError::NoMatchingPrefix)
        );
        assert_eq!(
            Provider::identity().open(&old, "/k"),
            Err(CryptError::EncryptedForIdentity)
        );
    }

    #[test]
    fn key_sizes_and_names_are_checked() {
        assert!(Provider::new(ProviderKind::Secretbox, "k", &[0; 16]).is_err());
        assert!(Provider::new(ProviderKind::AesCbc, "k", &[0; 20]).is_err());
        assert!(Provider::new(ProviderKind::AesCbc, "a:b", &[0; 32]).is_err());
    }
}
