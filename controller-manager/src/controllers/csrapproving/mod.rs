//! The CSR approver (`csrapproving`; upstream `pkg/controller/certificates/approver`): approves
//! kubelet client certificate requests whose requester may create
//! `certificatesigningrequests/nodeclient` (a joining node, with a bootstrap token) or
//! `certificatesigningrequests/selfnodeclient` (a node renewing its own certificate), as a
//! SubjectAccessReview for the requester recorded in the CSR's spec says.

pub mod plan;

use futures::future::BoxFuture;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestStatus,
};
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};

use super::ControllerContext;
use super::csr;
use super::util::api::{is_conflict, is_not_found};
use super::util::worker::Requeue;

const COMPONENT: &str = "csrapproving";

/// Why a sync did not finish; the key is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error("unable to parse csr {name:?}: {reason}")]
    Parse { name: String, reason: String },
    #[error("recognized csr {name:?} as {tried:?} but subject access review was not approved")]
    NotAllowed { name: String, tried: Vec<&'static str> },
    #[error(transparent)]
    Api(#[from] kube::Error),
}

struct Shared {
    client: kube::Client,
    csrs: Store<CertificateSigningRequest>,
}

/// Starts the approver.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let client = ctx.client.clone();
    csr::run_queue(
        &ctx,
        COMPONENT,
        |csrs| Shared { client, csrs },
        |shared, name| async move { sync(&shared, &name).await },
    )
}

#[tracing::instrument(skip(shared), fields(controller = COMPONENT))]
async fn sync(shared: &Shared, name: &str) -> Result<Requeue, ApproveError> {
    let Some(cached) = shared.csrs.get(&ObjectRef::new(name)) else {
        return Ok(None);
    };
    if !plan::needs_decision(&cached) {
        return Ok(None);
    }
    let request = csr::parse_request(&cached.spec.request.0).map_err(|reason| ApproveError::Parse {
        name: name.to_string(),
        reason,
    })?;
    let mut tried = Vec::new();
    for recognizer in plan::recognize(&cached, &request) {
        tried.push(recognizer.subresource);
        if !authorize(shared, &cached, recognizer.subresource).await? {
            continue;
        }
        let mut approved = (*cached).clone();
        let status = approved
            .status
            .get_or_insert_with(CertificateSigningRequestStatus::default);
        status
            .conditions
            .get_or_insert_with(Vec::new)
            .push(CertificateSigningRequestCondition {
                type_: "Approved".into(),
                status: "True".into(),
                reason: Some("AutoApproved".into()),
                message: Some(recognizer.message.into()),
                ..Default::default()
            });
        let api: Api<CertificateSigningRequest> = Api::all(shared.client.clone());
        return match api
            .replace_subresource("approval", name, &PostParams::default(), &approved)
            .await
        {
            Ok(_) => {
                tracing::info!(csr = name, permission = recognizer.subresource, "approved");
                Ok(None)
            }
            // Gone, or changed meanwhile: the informer brings the new state back to us.
            Err(e) if is_not_found(&e) || is_conflict(&e) => Ok(None),
            Err(e) => Err(e.into()),
        };
    }
    if tried.is_empty() {
        Ok(None)
    } else {
        Err(ApproveError::NotAllowed {
            name: name.to_string(),
            tried,
        })
    }
}

/// Upstream `sarApprover.authorize`: may the CSR's requester create the subresource?
async fn authorize(
    shared: &Shared,
    csr: &CertificateSigningRequest,
    subresource: &str,
) -> Result<bool, kube::Error> {
    let spec = &csr.spec;
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: spec.username.clone(),
            uid: spec.uid.clone(),
            groups: spec.groups.clone(),
            extra: spec.extra.clone(),
            resource_attributes: Some(ResourceAttributes {
                group: Some("certificates.k8s.io".into()),
                resource: Some("certificatesigningrequests".into()),
                verb: Some("create".into()),
                subresource: Some(subresource.into()),
                version: Some("*".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SubjectAccessReview> = Api::all(shared.client.clone());
    let answer = api.create(&PostParams::default(), &review).await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}
