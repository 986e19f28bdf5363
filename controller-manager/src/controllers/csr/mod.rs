//! What the CertificateSigningRequest controllers (`csrapproving`, `csrsigning`, `csrcleaner`)
//! share: the well-known signer names, parsing a request's PEM, upstream's checks of what a
//! kubelet may ask for (`pkg/apis/certificates/helpers.go`), and condition lookups.

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::runtime::reflector::Store;
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::ControllerContext;
use super::util::worker::{Requeue, forward, run_workers, wait_for_sync};

pub const KUBE_APISERVER_CLIENT: &str = "kubernetes.io/kube-apiserver-client";
pub const KUBE_APISERVER_CLIENT_KUBELET: &str = "kubernetes.io/kube-apiserver-client-kubelet";
pub const KUBELET_SERVING: &str = "kubernetes.io/kubelet-serving";
pub const LEGACY_UNKNOWN: &str = "kubernetes.io/legacy-unknown";

/// The upstream controllers' shared service account (and client name).
pub const CONTROLLER_NAME: &str = "certificate-controller";

/// The parts of a PKCS#10 request the controllers look at (Go's `x509.CertificateRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The last CN, as Go's `pkix.Name.CommonName`.
    pub common_name: String,
    pub organizations: Vec<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: usize,
    pub email_addresses: usize,
    pub uris: usize,
    /// The DER of the request.
    pub der: Vec<u8>,
}

/// Upstream `ParseCSR`: the first PEM block must be a CERTIFICATE REQUEST.
pub fn parse_request(pem: &[u8]) -> Result<Request, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|_| "PEM block type must be CERTIFICATE REQUEST".to_string())?;
    if block.label != "CERTIFICATE REQUEST" {
        return Err("PEM block type must be CERTIFICATE REQUEST".into());
    }
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&block.contents)
        .map_err(|e| format!("parsing the certificate request: {e}"))?;
    let info = &csr.certification_request_info;
    let strings = |iter: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        iter.filter_map(|a| a.as_str().ok().map(str::to_string))
            .collect::<Vec<_>>()
    };
    let mut request = Request {
        common_name: strings(&mut info.subject.iter_common_name())
            .pop()
            .unwrap_or_default(),
        organizations: strings(&mut info.subject.iter_organization()),
        der: block.contents.clone(),
        ..Request::default()
    };
    for extension in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = extension {
            for name in &san.general_names {
                match name {
                    GeneralName::DNSName(d) => request.dns_names.push(d.to_string()),
                    GeneralName::IPAddress(_) => request.ip_addresses += 1,
                    GeneralName::RFC822Name(_) => request.email_addresses += 1,
                    GeneralName::URI(_) => request.uris += 1,
                    _ => {}
                }
            }
        }
    }
    Ok(request)
}

fn usage_set(usages: &[String]) -> std::collections::BTreeSet<&str> {
    usages.iter().map(String::as_str).collect()
}

fn usages_are(usages: &[String], one_of: &[&[&str]]) -> bool {
    let set = usage_set(usages);
    one_of
        .iter()
        .any(|allowed| set == allowed.iter().copied().collect())
}

/// Upstream `ValidateKubeletClientCSR`.
pub fn validate_kubelet_client(req: &Request, usages: &[String]) -> Result<(), String> {
    if req.organizations != ["system:nodes"] {
        return Err("subject organization is not system:nodes".into());
    }
    if !req.dns_names.is_empty() {
        return Err("DNS subjectAltNames are not allowed".into());
    }
    if req.email_addresses > 0 {
        return Err("Email subjectAltNames are not allowed".into());
    }
    if req.ip_addresses > 0 {
        return Err("IP subjectAltNames are not allowed".into());
    }
    if req.uris > 0 {
        return Err("URI subjectAltNames are not allowed".into());
    }
    if !req.common_name.starts_with("system:node:") {
        return Err("subject common name does not begin with system:node:".into());
    }
    if !usages_are(
        usages,
        &[
            &["client auth", "digital signature", "key encipherment"],
            &["client auth", "digital signature"],
        ],
    ) {
        return Err(r#"usages did not match ["client auth" "digital signature" "key encipherment"]"#.into());
    }
    Ok(())
}

/// Upstream `ValidateKubeletServingCSR`.
pub fn validate_kubelet_serving(req: &Request, usages: &[String]) -> Result<(), String> {
    if req.organizations != ["system:nodes"] {
        return Err("subject organization is not system:nodes".into());
    }
    if req.dns_names.is_empty() && req.ip_addresses == 0 {
        return Err("DNS or IP subjectAltName is required".into());
    }
    if req.email_addresses > 0 {
        return Err("Email subjectAltNames are not allowed".into());
    }
    if req.uris > 0 {
        return Err("URI subjectAltNames are not allowed".into());
    }
    if !usages_are(
        usages,
        &[
            &["digital signature", "key encipherment", "server auth"],
            &["digital signature", "server auth"],
        ],
    ) {
        return Err(r#"usages did not match ["digital signature" "key encipherment" "server auth"]"#.into());
    }
    if !req.common_name.starts_with("system:node:") {
        return Err("subject common name does not begin with system:node:".into());
    }
    Ok(())
}

/// Upstream `validAPIServerClientUsages`.
pub fn validate_apiserver_client_usages(usages: &[String]) -> Result<(), String> {
    let mut client_auth = false;
    for usage in usages {
        match usage.as_str() {
            "digital signature" | "key encipherment" => {}
            "client auth" => client_auth = true,
            other => return Err(format!("invalid usage for client certificate: {other}")),
        }
    }
    if !client_auth {
        return Err("missing required usage for client certificate: client auth".into());
    }
    Ok(())
}

/// Whether a condition of `kind` with status True is present.
pub fn has_true_condition(csr: &CertificateSigningRequest, kind: &str) -> bool {
    csr.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == kind && c.status == "True"))
}

/// Upstream `GetCertApprovalCondition`: (approved, denied), by presence as upstream checks.
pub fn approval(csr: &CertificateSigningRequest) -> (bool, bool) {
    let conditions = csr.status.as_ref().and_then(|s| s.conditions.as_ref());
    let has = |kind: &str| conditions.is_some_and(|c| c.iter().any(|c| c.type_ == kind));
    (has("Approved"), has("Denied"))
}

/// Upstream `IsCertificateRequestApproved`.
pub fn is_approved(csr: &CertificateSigningRequest) -> bool {
    let (approved, denied) = approval(csr);
    approved && !denied
}

/// Whether a certificate was issued.
pub fn has_certificate(csr: &CertificateSigningRequest) -> bool {
    csr.status
        .as_ref()
        .and_then(|s| s.certificate.as_ref())
        .is_some_and(|c| !c.0.is_empty())
}

/// Workers per CSR controller (upstream's `ConcurrentCSRSyncs`-like default of 5).
const WORKERS: usize = 5;

/// The CSR controllers' loop: every CSR (at start, then on each change) goes by name through a
/// rate-limited queue to `sync`, which gets the state `make` builds from the CSR cache.
pub fn run_queue<S, F, Fut, E>(
    ctx: &ControllerContext,
    component: &'static str,
    make: impl FnOnce(Store<CertificateSigningRequest>) -> S,
    sync: F,
) -> BoxFuture<'static, ()>
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Requeue, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let csrs = ctx.informers.informer::<CertificateSigningRequest>();
    let queue: WorkQueue<String> = WorkQueue::with_rate_limiter(component, RateLimiter::default_controller());
    {
        let queue = queue.clone();
        forward(csrs.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Change::Applied(csr) = change {
                queue.add(csr.metadata.name.clone().unwrap_or_default());
            }
        });
    }
    let store = csrs.store();
    let shared = Arc::new(make(store.clone()));
    let shutdown = ctx.shutdown.clone();
    async move {
        if !wait_for_sync(&shutdown, || csrs.has_synced()).await {
            return;
        }
        for csr in store.state() {
            queue.add(csr.metadata.name.clone().unwrap_or_default());
        }
        run_workers(component, queue, WORKERS, shutdown, move |name| {
            sync.clone()(shared.clone(), name)
        })
        .await;
    }
    .boxed()
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
