//! Upstream `pkg/controller/certificates/approver/sarapprove.go`, the decision half: which
//! permission a kubelet client CSR needs for automatic approval.

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;

use crate::controllers::csr::{self, Request};

/// A kind of request the approver recognises, the `certificatesigningrequests/<subresource>`
/// create permission its requester needs, and the approval message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recognizer {
    pub subresource: &'static str,
    pub message: &'static str,
}

pub const SELF_NODE_CLIENT: Recognizer = Recognizer {
    subresource: "selfnodeclient",
    message: "Auto approving self kubelet client certificate after SubjectAccessReview.",
};
pub const NODE_CLIENT: Recognizer = Recognizer {
    subresource: "nodeclient",
    message: "Auto approving kubelet client certificate after SubjectAccessReview.",
};

/// Whether the approver looks at this CSR at all: no certificate yet, neither approved nor
/// denied.
pub fn needs_decision(csr: &CertificateSigningRequest) -> bool {
    let (approved, denied) = csr::approval(csr);
    !csr::has_certificate(csr) && !approved && !denied
}

/// Upstream `isNodeClientCert`.
fn is_node_client(csr: &CertificateSigningRequest, req: &Request) -> bool {
    csr.spec.signer_name == csr::KUBE_APISERVER_CLIENT_KUBELET
        && csr::validate_kubelet_client(req, csr.spec.usages.as_deref().unwrap_or_default()).is_ok()
}

/// Upstream `isSelfNodeClientCert`: a node renewing its own certificate.
fn is_self_node_client(csr: &CertificateSigningRequest, req: &Request) -> bool {
    csr.spec.username.as_deref() == Some(req.common_name.as_str()) && is_node_client(csr, req)
}

/// The recognizers that match, in upstream's order (self first); each is tried with a
/// SubjectAccessReview until one is allowed.
pub fn recognize(csr: &CertificateSigningRequest, req: &Request) -> Vec<Recognizer> {
    let mut out = Vec::new();
    if is_self_node_client(csr, req) {
        out.push(SELF_NODE_CLIENT);
    }
    if is_node_client(csr, req) {
        out.push(NODE_CLIENT);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::csr::testing::{condition, csr, request_pem, with_status};

    const CLIENT: &[&str] = &["digital signature", "client auth"];
    /// (what, signer, requester, request PEM, usages, recognizers)
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [&'a str], Vec<Recognizer>);

    #[test]
    fn recognize_table() {
        let (node_pem, _) = request_pem("system:node:n1", Some("system:nodes"), &[]);
        let (other_pem, _) = request_pem("alice", Some("devs"), &[]);
        let cases: Vec<Case<'_>> = vec![
            (
                "bootstrap",
                csr::KUBE_APISERVER_CLIENT_KUBELET,
                "system:bootstrap:abcdef",
                &node_pem,
                CLIENT,
                vec![NODE_CLIENT],
            ),
            (
                "renewal",
                csr::KUBE_APISERVER_CLIENT_KUBELET,
                "system:node:n1",
                &node_pem,
                CLIENT,
                vec![SELF_NODE_CLIENT, NODE_CLIENT],
            ),
            (
                "other node renewing",
                csr::KUBE_APISERVER_CLIENT_KUBELET,
                "system:node:n2",
                &node_pem,
                CLIENT,
                vec![NODE_CLIENT],
            ),
            (
                "wrong signer",
                csr::KUBE_APISERVER_CLIENT,
                "system:node:n1",
                &node_pem,
                CLIENT,
                vec![],
            ),
            (
                "serving usages",
                csr::KUBE_APISERVER_CLIENT_KUBELET,
                "system:node:n1",
                &node_pem,
                &["digital signature", "server auth"],
                vec![],
            ),
            (
                "not a node subject",
                csr::KUBE_APISERVER_CLIENT_KUBELET,
                "alice",
                &other_pem,
                CLIENT,
                vec![],
            ),
        ];
        for (what, signer, user, pem, usages, want) in cases {
            let object = csr(signer, user, pem, usages);
            let req = crate::controllers::csr::parse_request(pem.as_bytes()).expect("parse");
            assert_eq!(recognize(&object, &req), want, "{what}");
        }
    }

    #[test]
    fn decided_or_issued_requests_are_left_alone() {
        let (pem, _) = request_pem("system:node:n1", Some("system:nodes"), &[]);
        let fresh = csr(csr::KUBE_APISERVER_CLIENT_KUBELET, "system:node:n1", &pem, CLIENT);
        assert!(needs_decision(&fresh));
        for decided in [
            with_status(fresh.clone(), vec![condition("Approved", None)], None),
            with_status(fresh.clone(), vec![condition("Denied", None)], None),
            with_status(fresh.clone(), vec![], Some("-----BEGIN CERTIFICATE-----")),
        ] {
            assert!(!needs_decision(&decided));
        }
        assert!(needs_decision(&with_status(
            fresh,
            vec![condition("Failed", None)],
            None
        )));
    }
}
