//! Building requests and CSR objects for the controllers' unit tests.

use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestSpec,
    CertificateSigningRequestStatus,
};

/// A PEM request for `cn` in `org` with DNS/IP `sans`, and its key (PKCS#8 PEM).
pub(crate) fn request_pem(cn: &str, org: Option<&str>, sans: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(org) = org {
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, org);
    }
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    let csr = params.serialize_request(&key).expect("csr");
    (csr.pem().expect("pem"), key.serialize_pem())
}

pub(crate) fn csr(signer: &str, username: &str, request: &str, usages: &[&str]) -> CertificateSigningRequest {
    CertificateSigningRequest {
        metadata: kube::api::ObjectMeta {
            name: Some("csr-1".into()),
            ..Default::default()
        },
        spec: CertificateSigningRequestSpec {
            request: ByteString(request.as_bytes().to_vec()),
            signer_name: signer.into(),
            usages: Some(usages.iter().map(|u| u.to_string()).collect()),
            username: Some(username.into()),
            ..Default::default()
        },
        status: None,
    }
}

pub(crate) fn condition(kind: &str, updated: Option<&str>) -> CertificateSigningRequestCondition {
    CertificateSigningRequestCondition {
        type_: kind.into(),
        status: "True".into(),
        last_update_time: updated
            .map(|t| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t.parse().expect("time"))),
        ..Default::default()
    }
}

pub(crate) fn with_status(
    mut csr: CertificateSigningRequest,
    conditions: Vec<CertificateSigningRequestCondition>,
    certificate: Option<&str>,
) -> CertificateSigningRequest {
    csr.status = Some(CertificateSigningRequestStatus {
        conditions: Some(conditions),
        certificate: certificate.map(|c| ByteString(c.as_bytes().to_vec())),
    });
    csr
}
