//! `rudder-pki init`: write whatever of the planned tree is missing, and check that what is
//! already there fits (kubeadm reuses existing files the same way, so re-running with another
//! worker only adds that worker's kubeconfig).

use std::collections::HashMap;
use std::path::Path;

use rudder_component::certs::CertificateAuthority;

use crate::error::PkiError;
use crate::fsutil::{self, PUBLIC, SECRET};
use crate::inspect::{inspect, key_matches, signed_by};
use crate::inventory::ClusterSpec;
use crate::issue::{issue_leaf, new_ca, new_service_account_key};
use crate::kubeconfig;
use crate::plan::{CaId, KubeconfigSpec, LeafSpec, Usage, plan};

/// Lay out the cluster's PKI under `out`. Returns one line per file: generated or reused.
pub fn init(out: &Path, spec: &ClusterSpec) -> Result<Vec<String>, PkiError> {
    let mut log = Vec::new();
    let mut cas = HashMap::new();
    for id in CaId::ALL {
        cas.insert(id, ensure_ca(out, id, &mut log)?);
    }
    ensure_service_account_key(out, &mut log)?;
    let plan = plan(spec);
    for leaf in &plan.leaves {
        ensure_leaf(out, &cas[&leaf.ca], leaf, spec, &mut log)?;
    }
    for kc in &plan.kubeconfigs {
        ensure_kubeconfig(out, &cas[&CaId::Kubernetes], kc, spec, &mut log)?;
    }
    Ok(log)
}

/// Both files of a pair, if both exist; an error if only one does.
pub(crate) fn existing_pair(out: &Path, base: &str) -> Result<Option<(String, String)>, PkiError> {
    let (crt, key) = (out.join(format!("{base}.crt")), out.join(format!("{base}.key")));
    match (crt.exists(), key.exists()) {
        (true, true) => Ok(Some((fsutil::read(&crt)?, fsutil::read(&key)?))),
        (false, false) => Ok(None),
        (true, false) => Err(PkiError::HalfPair {
            present: crt,
            missing: key,
        }),
        (false, true) => Err(PkiError::HalfPair {
            present: key,
            missing: crt,
        }),
    }
}

pub(crate) fn load_ca(out: &Path, id: CaId) -> Result<Option<CertificateAuthority>, PkiError> {
    let base = id.base();
    let Some((cert, key)) = existing_pair(out, base)? else {
        return Ok(None);
    };
    let ca = CertificateAuthority::from_pem(cert, key).map_err(|e| PkiError::Mismatch {
        path: out.join(format!("{base}.crt")),
        reason: e.to_string(),
    })?;
    Ok(Some(ca))
}

fn ensure_ca(out: &Path, id: CaId, log: &mut Vec<String>) -> Result<CertificateAuthority, PkiError> {
    let base = id.base();
    if let Some(ca) = load_ca(out, id)? {
        log.push(format!(
            "[certs] Using the existing {base:?} certificate authority"
        ));
        return Ok(ca);
    }
    let ca = new_ca(id.common_name())?;
    fsutil::write(&out.join(format!("{base}.key")), ca.key_pem(), SECRET)?;
    fsutil::write(&out.join(format!("{base}.crt")), ca.cert_pem(), PUBLIC)?;
    log.push(format!("[certs] Generating {base:?} certificate authority"));
    Ok(ca)
}

fn ensure_service_account_key(out: &Path, log: &mut Vec<String>) -> Result<(), PkiError> {
    let (key, public) = (out.join("pki/sa.key"), out.join("pki/sa.pub"));
    match (key.exists(), public.exists()) {
        (true, true) => {
            log.push("[certs] Using the existing \"sa\" key".into());
            Ok(())
        }
        (false, false) => {
            let (private_pem, public_pem) = new_service_account_key()?;
            fsutil::write(&key, &private_pem, SECRET)?;
            fsutil::write(&public, &public_pem, PUBLIC)?;
            log.push("[certs] Generating \"sa\" key and public key".into());
            Ok(())
        }
        (true, false) => Err(PkiError::HalfPair {
            present: key,
            missing: public,
        }),
        (false, true) => Err(PkiError::HalfPair {
            present: public,
            missing: key,
        }),
    }
}

/// An existing certificate is reused only if its CA signed it, its key matches and it says
/// what the plan says (a new control-plane address must not be silently missing).
fn check_existing(
    path: &Path,
    ca: &CertificateAuthority,
    spec: &LeafSpec,
    cert: &str,
    key: &str,
    ca_path: &Path,
) -> Result<(), PkiError> {
    let info = inspect(cert).map_err(|source| PkiError::Inspect {
        path: path.to_path_buf(),
        source,
    })?;
    if !signed_by(cert, ca.cert_pem()) {
        return Err(PkiError::NotSignedBy {
            path: path.to_path_buf(),
            ca: ca_path.to_path_buf(),
        });
    }
    if !key_matches(&info, key) {
        return Err(PkiError::KeyMismatch {
            path: path.to_path_buf(),
        });
    }
    if let Some(reason) = info.mismatch(spec) {
        return Err(PkiError::Mismatch {
            path: path.to_path_buf(),
            reason,
        });
    }
    Ok(())
}

fn ensure_leaf(
    out: &Path,
    ca: &CertificateAuthority,
    leaf: &LeafSpec,
    spec: &ClusterSpec,
    log: &mut Vec<String>,
) -> Result<(), PkiError> {
    let base = &leaf.base;
    let crt = out.join(format!("{base}.crt"));
    let ca_path = out.join(format!("{}.crt", leaf.ca.base()));
    if let Some((cert, key)) = existing_pair(out, base)? {
        check_existing(&crt, ca, leaf, &cert, &key, &ca_path)?;
        log.push(format!("[certs] Using the existing {base:?} certificate and key"));
        return Ok(());
    }
    let issued = issue_leaf(ca, leaf, spec.cert_validity)?;
    fsutil::write(&out.join(format!("{base}.key")), &issued.key_pem, SECRET)?;
    fsutil::write(&crt, &issued.cert_pem, PUBLIC)?;
    let sans = leaf
        .dns_names
        .iter()
        .cloned()
        .chain(leaf.ips.iter().map(ToString::to_string))
        .collect::<Vec<_>>();
    if sans.is_empty() {
        log.push(format!("[certs] Generating {base:?} certificate and key"));
    } else {
        log.push(format!(
            "[certs] Generating {base:?} certificate and key, signed for [{}]",
            sans.join(" ")
        ));
    }
    Ok(())
}

/// The client certificate a kubeconfig embeds, as a leaf.
pub(crate) fn kubeconfig_leaf(kc: &KubeconfigSpec) -> LeafSpec {
    LeafSpec {
        base: kc.file.clone(),
        ca: CaId::Kubernetes,
        common_name: kc.common_name.clone(),
        organization: kc.organization.clone(),
        usage: Usage::Client,
        dns_names: Vec::new(),
        ips: Vec::new(),
    }
}

fn ensure_kubeconfig(
    out: &Path,
    ca: &CertificateAuthority,
    kc: &KubeconfigSpec,
    spec: &ClusterSpec,
    log: &mut Vec<String>,
) -> Result<(), PkiError> {
    let path = out.join(&kc.file);
    let leaf = kubeconfig_leaf(kc);
    if path.exists() {
        let text = fsutil::read(&path)?;
        let (cert, key) = kubeconfig::credentials(&text).map_err(|source| PkiError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
        check_existing(&path, ca, &leaf, &cert, &key, &out.join("pki/ca.crt"))?;
        if !text.contains(&format!("server: {}\n", kc.server)) {
            return Err(PkiError::Mismatch {
                path,
                reason: format!("its server is not {}", kc.server),
            });
        }
        log.push(format!(
            "[kubeconfig] Using existing kubeconfig file: {:?}",
            kc.file
        ));
        return Ok(());
    }
    let issued = issue_leaf(ca, &leaf, spec.cert_validity)?;
    let text = kubeconfig::render(
        &spec.cluster_name,
        &kc.server,
        ca.cert_pem(),
        &kc.user,
        &issued.cert_pem,
        &issued.key_pem,
    );
    fsutil::write(&path, &text, SECRET)?;
    log.push(format!("[kubeconfig] Writing {:?} kubeconfig file", kc.file));
    Ok(())
}
