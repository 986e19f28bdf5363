//! `rudder-pki renew`: re-issue every leaf certificate (and kubeconfig credential) that expires
//! within a window, with the same subject, names and usages, signed by the same CA; the CAs and
//! the service-account key stay. Like `kubeadm certs renew`, the new certificate gets a new key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rudder_component::certs::CertificateAuthority;
use time::{Duration, OffsetDateTime};

use crate::error::PkiError;
use crate::fsutil::{self, PUBLIC, SECRET};
use crate::init::{existing_pair, load_ca};
use crate::inspect::{CertInfo, inspect, signed_by};
use crate::issue::issue_leaf;
use crate::kubeconfig;
use crate::plan::CaId;

/// What `renew` did with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    /// Path relative to the output directory (`pki/apiserver.crt`, `admin.conf`).
    pub file: String,
    pub renewed: bool,
    /// Expiry before renewal.
    pub was: OffsetDateTime,
}

/// Leaves and kubeconfigs under `out`, with the CA that must have signed each.
pub(crate) struct Found {
    pub(crate) certs: Vec<(String, CaId)>,
    pub(crate) kubeconfigs: Vec<String>,
}

pub(crate) fn find_leaves(out: &Path) -> Result<Found, PkiError> {
    let ca_files: Vec<String> = CaId::ALL.iter().map(|c| format!("{}.crt", c.base())).collect();
    let mut certs = Vec::new();
    for rel in fsutil::find(out, ".crt")? {
        let rel = rel.to_string_lossy().into_owned();
        if ca_files.contains(&rel) {
            continue;
        }
        let base = rel.trim_end_matches(".crt").to_string();
        let ca = CaId::for_leaf(&base);
        certs.push((base, ca));
    }
    let kubeconfigs = fsutil::find(out, ".conf")?
        .into_iter()
        .filter(|p| p.components().count() == 1)
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    Ok(Found { certs, kubeconfigs })
}

pub fn renew(
    out: &Path,
    within: Duration,
    validity: Duration,
    now: OffsetDateTime,
) -> Result<Vec<Renewal>, PkiError> {
    let found = find_leaves(out)?;
    if found.certs.is_empty() && found.kubeconfigs.is_empty() {
        return Err(PkiError::Empty(out.to_path_buf()));
    }
    let mut cas: HashMap<CaId, CertificateAuthority> = HashMap::new();
    let mut ca = |id: CaId| -> Result<CertificateAuthority, PkiError> {
        if let Some(ca) = cas.get(&id) {
            return Ok(ca.clone());
        }
        let ca =
            load_ca(out, id)?.ok_or_else(|| PkiError::MissingCa(out.join(format!("{}.crt", id.base()))))?;
        cas.insert(id, ca.clone());
        Ok(ca)
    };
    let mut done = Vec::new();
    for (base, id) in &found.certs {
        let crt = out.join(format!("{base}.crt"));
        let Some((cert, _key)) = existing_pair(out, base)? else {
            continue;
        };
        let info = read_info(&crt, &cert)?;
        if info.is_ca {
            continue;
        }
        let renewed = info.not_after - now <= within;
        if renewed {
            let ca = ca(*id)?;
            check_signed(&crt, &cert, &ca, out, *id)?;
            let spec = info.to_spec(base).map_err(|source| PkiError::Inspect {
                path: crt.clone(),
                source,
            })?;
            let issued = issue_leaf(&ca, &spec, validity)?;
            fsutil::write(&out.join(format!("{base}.key")), &issued.key_pem, SECRET)?;
            fsutil::write(&crt, &issued.cert_pem, PUBLIC)?;
        }
        done.push(Renewal {
            file: format!("{base}.crt"),
            renewed,
            was: info.not_after,
        });
    }
    for file in &found.kubeconfigs {
        let path = out.join(file);
        let text = fsutil::read(&path)?;
        let (cert, _key) = kubeconfig::credentials(&text).map_err(|source| PkiError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
        let info = read_info(&path, &cert)?;
        let renewed = info.not_after - now <= within;
        if renewed {
            let ca = ca(CaId::Kubernetes)?;
            check_signed(&path, &cert, &ca, out, CaId::Kubernetes)?;
            let spec = info.to_spec(file).map_err(|source| PkiError::Inspect {
                path: path.clone(),
                source,
            })?;
            let issued = issue_leaf(&ca, &spec, validity)?;
            let text = kubeconfig::replace_credentials(&text, &issued.cert_pem, &issued.key_pem);
            fsutil::write(&path, &text, SECRET)?;
        }
        done.push(Renewal {
            file: file.clone(),
            renewed,
            was: info.not_after,
        });
    }
    Ok(done)
}

fn read_info(path: &Path, pem: &str) -> Result<CertInfo, PkiError> {
    inspect(pem).map_err(|source| PkiError::Inspect {
        path: path.to_path_buf(),
        source,
    })
}

/// Re-signing with a CA that did not sign the old certificate would silently change who
/// trusts it; refuse instead.
fn check_signed(
    path: &Path,
    pem: &str,
    ca: &CertificateAuthority,
    out: &Path,
    id: CaId,
) -> Result<(), PkiError> {
    if signed_by(pem, ca.cert_pem()) {
        Ok(())
    } else {
        Err(PkiError::NotSignedBy {
            path: path.to_path_buf(),
            ca: out.join(PathBuf::from(format!("{}.crt", id.base()))),
        })
    }
}
