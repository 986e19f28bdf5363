//! `rudder-pki check`: every certificate's expiry, as `kubeadm certs check-expiration` lists it.

use std::path::Path;

use time::OffsetDateTime;
use time::macros::format_description;

use crate::duration::short_human;
use crate::error::PkiError;
use crate::fsutil;
use crate::inspect::inspect;
use crate::kubeconfig;
use crate::plan::CaId;
use crate::renew::find_leaves;

/// One row of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub expires: OffsetDateTime,
    /// The signing CA's file base name; empty for the CAs themselves.
    pub authority: String,
}

/// Leaves and kubeconfigs first, then the CAs, as kubeadm prints them.
pub fn rows(out: &Path) -> Result<(Vec<Row>, Vec<Row>), PkiError> {
    let found = find_leaves(out)?;
    let expiry = |path: &Path, pem: &str| {
        inspect(pem)
            .map(|i| i.not_after)
            .map_err(|source| PkiError::Inspect {
                path: path.to_path_buf(),
                source,
            })
    };
    let short = |id: CaId| id.base().trim_start_matches("pki/").to_string();
    let mut leaves = Vec::new();
    for file in &found.kubeconfigs {
        let path = out.join(file);
        let (cert, _) =
            kubeconfig::credentials(&fsutil::read(&path)?).map_err(|source| PkiError::Kubeconfig {
                path: path.clone(),
                source,
            })?;
        leaves.push(Row {
            name: file.clone(),
            expires: expiry(&path, &cert)?,
            authority: short(CaId::Kubernetes),
        });
    }
    for (base, id) in &found.certs {
        let path = out.join(format!("{base}.crt"));
        leaves.push(Row {
            name: base.trim_start_matches("pki/").to_string(),
            expires: expiry(&path, &fsutil::read(&path)?)?,
            authority: short(*id),
        });
    }
    let mut cas = Vec::new();
    for id in CaId::ALL {
        let path = out.join(format!("{}.crt", id.base()));
        if path.exists() {
            cas.push(Row {
                name: short(id),
                expires: expiry(&path, &fsutil::read(&path)?)?,
                authority: String::new(),
            });
        }
    }
    if leaves.is_empty() && cas.is_empty() {
        return Err(PkiError::Empty(out.to_path_buf()));
    }
    Ok((leaves, cas))
}

pub fn render(leaves: &[Row], cas: &[Row], now: OffsetDateTime) -> String {
    let format = format_description!("[month repr:short] [day], [year] [hour]:[minute] UTC");
    let when = |t: OffsetDateTime| t.format(&format).unwrap_or_else(|_| t.to_string());
    let width = leaves
        .iter()
        .chain(cas)
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max("CERTIFICATE AUTHORITY".len());
    let mut out = format!(
        "{:<width$}   {:<22}   {:<14}   CERTIFICATE AUTHORITY\n",
        "CERTIFICATE", "EXPIRES", "RESIDUAL TIME"
    );
    for r in leaves {
        out.push_str(&format!(
            "{:<width$}   {:<22}   {:<14}   {}\n",
            r.name,
            when(r.expires),
            short_human(r.expires - now),
            r.authority
        ));
    }
    out.push_str(&format!(
        "\n{:<width$}   {:<22}   RESIDUAL TIME\n",
        "CERTIFICATE AUTHORITY", "EXPIRES"
    ));
    for r in cas {
        out.push_str(&format!(
            "{:<width$}   {:<22}   {}\n",
            r.name,
            when(r.expires),
            short_human(r.expires - now)
        ));
    }
    out
}
