//! The kubelet's key and its certificate request.

use std::path::Path;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData};

use super::{BootstrapError, write_private};

/// Upstream `keyutil.LoadOrGenerateKeyFile`: the pending key if one was made before (so a
/// restart waits for the same request), else a new ECDSA P-256 key written with mode 0600.
pub(super) fn load_or_generate_key(path: &Path) -> Result<String, BootstrapError> {
    if let Ok(pem) = std::fs::read_to_string(path)
        && KeyPair::from_pem(&pem).is_ok()
    {
        return Ok(pem);
    }
    let key = KeyPair::generate().map_err(|e| BootstrapError::Key(e.to_string()))?;
    let pem = key.serialize_pem();
    write_private(path, pem.as_bytes())?;
    Ok(pem)
}

/// The PEM request for `system:node:<node>` in `system:nodes`, signed with the key.
pub fn request_pem(key_pem: &str, node: &str) -> Result<String, BootstrapError> {
    let key = KeyPair::from_pem(key_pem).map_err(|e| BootstrapError::Key(e.to_string()))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "system:nodes");
    params
        .distinguished_name
        .push(DnType::CommonName, format!("system:node:{node}"));
    params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|e| BootstrapError::Key(e.to_string()))
}

/// Upstream `digestedName`: `node-csr-` and a digest of the public key and the subject, so the
/// same key asks under the same name after a restart.
pub fn csr_name(key_pem: &str, node: &str) -> Result<String, BootstrapError> {
    let key = KeyPair::from_pem(key_pem).map_err(|e| BootstrapError::Key(e.to_string()))?;
    let mut input = b"key:".to_vec();
    input.extend_from_slice(&key.subject_public_key_info());
    input.extend_from_slice(format!("subject:O=system:nodes,CN=system:node:{node}").as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA256, &input);
    let hex: String = digest.as_ref()[..20].iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("node-csr-{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_reused_and_names_follow_the_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("kubelet-client.key.tmp");
        let first = load_or_generate_key(&path).expect("generate");
        assert_eq!(
            load_or_generate_key(&path).expect("load"),
            first,
            "a pending key is reused"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let name = csr_name(&first, "n1").expect("name");
        assert!(name.starts_with("node-csr-") && name.len() == "node-csr-".len() + 40);
        assert_eq!(csr_name(&first, "n1").expect("name"), name);
        assert_ne!(csr_name(&first, "n2").expect("name"), name);
        std::fs::write(&path, "garbage").expect("write");
        assert_ne!(load_or_generate_key(&path).expect("regenerate"), first);
    }

    #[test]
    fn request_names_the_node() {
        let key = KeyPair::generate().expect("key").serialize_pem();
        let pem = request_pem(&key, "worker-1").expect("request");
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        assert_eq!(block.label, "CERTIFICATE REQUEST");
        use x509_parser::prelude::FromDer;
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&block.contents)
                .expect("csr");
        let subject = &csr.certification_request_info.subject;
        assert_eq!(subject.to_string(), "O=system:nodes, CN=system:node:worker-1");
    }
}
