//! rudder-pki: the certificates, keys and kubeconfigs a cluster needs, in kubeadm's layout
//! (`/etc/kubernetes/pki/...`, `admin.conf`, ...), and their renewal before expiry.

pub mod check;
pub mod cli;
pub mod duration;
pub mod error;
pub mod fsutil;
pub mod init;
pub mod inspect;
pub mod inventory;
pub mod issue;
pub mod kubeconfig;
pub mod plan;
pub mod renew;
pub mod token;

use time::OffsetDateTime;

pub use cli::{Action, Options};
pub use error::PkiError;

/// Do what `action` says; returns what to print.
pub fn run(action: Action) -> Result<String, PkiError> {
    match action {
        Action::Init { out, spec } => {
            let mut lines = init::init(&out, &spec)?;
            lines.push(format!("[certs] The cluster PKI is in {}", out.display()));
            Ok(lines.join("\n") + "\n")
        }
        Action::Renew {
            out,
            within,
            validity,
        } => {
            let now = OffsetDateTime::now_utc();
            let done = renew::renew(&out, within, validity, now)?;
            let mut text = String::new();
            for r in &done {
                let residual = duration::short_human(r.was - now);
                if r.renewed {
                    text.push_str(&format!("{} renewed (had {residual} left)\n", r.file));
                } else {
                    text.push_str(&format!("{} kept ({residual} left)\n", r.file));
                }
            }
            let n = done.iter().filter(|r| r.renewed).count();
            text.push_str(&format!("{n} of {} certificates renewed\n", done.len()));
            Ok(text)
        }
        Action::Token { out, ttl, group } => {
            let token = token::create(&out, ttl, &group, OffsetDateTime::now_utc())?;
            Ok(format!(
                "[bootstrap-token] Using token: {token}\n\
                 [bootstrap-token] {} (Secret and RBAC bindings: kubectl apply -f it)\n\
                 [kubeconfig] {} (for each worker's kubelet --bootstrap-kubeconfig)\n",
                out.join(token::MANIFEST).display(),
                out.join(token::KUBECONFIG).display(),
            ))
        }
        Action::Check { out } => {
            let (leaves, cas) = check::rows(&out)?;
            Ok(check::render(&leaves, &cas, OffsetDateTime::now_utc()))
        }
    }
}
