//! The CSR cleaner (`csrcleaner`; upstream `pkg/controller/certificates/cleaner`): every hour
//! it deletes CertificateSigningRequests that are done with: issued and approved more than an
//! hour ago, denied or failed more than an hour ago, pending for more than a day, or whose
//! issued certificate has expired.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams};

use super::ControllerContext;
use super::csr::has_certificate;
use super::util::api::ignore_not_found;
use super::util::worker::wait_for_sync;

const COMPONENT: &str = "csrcleaner";
/// Upstream `approvedExpiration`, `deniedExpiration` (also for Failed) and `pendingExpiration`.
const APPROVED_EXPIRATION: Duration = Duration::from_secs(3600);
const DENIED_EXPIRATION: Duration = Duration::from_secs(3600);
const PENDING_EXPIRATION: Duration = Duration::from_secs(24 * 3600);

/// Upstream `isOlderThan`: set, and more than `d` before `now`.
fn older_than(t: Option<Timestamp>, d: Duration, now: Timestamp) -> bool {
    t.is_some_and(|t| now.as_second() - t.as_second() > d.as_secs() as i64)
}

/// Whether the cleaner deletes this CSR at `now`, and why.
pub fn reason_to_delete(csr: &CertificateSigningRequest, now: Timestamp) -> Option<&'static str> {
    let conditions = csr
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let issued = has_certificate(csr);
    let approved = conditions.iter().find(|c| c.type_ == "Approved");
    if issued && approved.is_some() && certificate_expired(csr, now) {
        return Some("its certificate has expired");
    }
    let updated = |c: &k8s_openapi::api::certificates::v1::CertificateSigningRequestCondition| {
        c.last_update_time.as_ref().map(|t| t.0)
    };
    if issued && approved.is_some_and(|c| older_than(updated(c), APPROVED_EXPIRATION, now)) {
        return Some("it was issued more than an hour ago");
    }
    for (kind, why) in [
        ("Denied", "it was denied more than an hour ago"),
        ("Failed", "it failed more than an hour ago"),
    ] {
        if conditions
            .iter()
            .any(|c| c.type_ == kind && older_than(updated(c), DENIED_EXPIRATION, now))
        {
            return Some(why);
        }
    }
    let created = csr.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if conditions.is_empty() && older_than(created, PENDING_EXPIRATION, now) {
        return Some("it has been pending for more than a day");
    }
    None
}

/// Upstream `isIssuedExpired`: any certificate in the issued PEM past its notAfter.
fn certificate_expired(csr: &CertificateSigningRequest, now: Timestamp) -> bool {
    let Some(pem) = csr.status.as_ref().and_then(|s| s.certificate.as_ref()) else {
        return false;
    };
    let mut rest: &[u8] = &pem.0;
    while let Ok((next, block)) = x509_parser::pem::parse_x509_pem(rest) {
        if let Ok(cert) = block.parse_x509()
            && now.as_second() > cert.validity().not_after.timestamp()
        {
            return true;
        }
        if next.len() >= rest.len() {
            break;
        }
        rest = next;
    }
    false
}

/// Starts the cleaner.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let csrs = ctx.informers.informer::<CertificateSigningRequest>();
    let store = csrs.store();
    let client = ctx.client.clone();
    let period = ctx.config.csr_cleaner_period;
    let shutdown = ctx.shutdown.clone();
    async move {
        if !wait_for_sync(&shutdown, || csrs.has_synced()).await {
            return;
        }
        let api: Api<CertificateSigningRequest> = Api::all(client);
        loop {
            let now = Timestamp::now();
            for csr in store.state() {
                let Some(why) = reason_to_delete(&csr, now) else {
                    continue;
                };
                let name = csr.metadata.name.clone().unwrap_or_default();
                match ignore_not_found(api.delete(&name, &DeleteParams::default()).await.map(|_| ())) {
                    Ok(_) => tracing::info!(controller = COMPONENT, csr = %name, reason = why, "deleted"),
                    Err(error) => {
                        tracing::warn!(controller = COMPONENT, csr = %name, %error, "unable to delete")
                    }
                }
            }
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(period) => {}
            }
        }
    }
    .boxed()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
