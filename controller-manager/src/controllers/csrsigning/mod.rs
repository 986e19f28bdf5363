//! The CSR signer (`csrsigning`; upstream `pkg/controller/certificates/signer`): issues the
//! certificate of every approved, not failed CSR for the `kubernetes.io/kube-apiserver-client`,
//! `kube-apiserver-client-kubelet`, `kubelet-serving` and `legacy-unknown` signers with the
//! cluster CA (`--cluster-signing-cert-file`, `--cluster-signing-key-file`), valid for
//! `--cluster-signing-duration` or the CSR's shorter `spec.expirationSeconds`. A request the
//! signer's rules refuse gets a `Failed` condition (`SignerValidationFailure`) instead.

pub mod sign;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};

use self::sign::{CaSigner, SignError};
use super::ControllerContext;
use super::csr;
use super::util::api::{is_conflict, is_not_found};
use super::util::worker::Requeue;

const COMPONENT: &str = "csrsigning";

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("unable to parse csr {name:?}: {reason}")]
    Parse { name: String, reason: String },
    #[error("error auto signing csr {name:?}: {source}")]
    Sign {
        name: String,
        #[source]
        source: SignError,
    },
    #[error(transparent)]
    Api(#[from] kube::Error),
}

/// What the signer's rules say about a request (upstream `isRequestForSignerFn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognition {
    /// Not one of our signers: leave it to another.
    Ignore,
    Sign,
    /// Ours, but not allowed: mark it Failed.
    Refuse(String),
}

/// Upstream's per-signer checks.
pub fn recognize(signer: &str, req: &csr::Request, usages: &[String]) -> Recognition {
    let verdict = match signer {
        csr::KUBE_APISERVER_CLIENT_KUBELET => csr::validate_kubelet_client(req, usages),
        csr::KUBELET_SERVING => csr::validate_kubelet_serving(req, usages),
        csr::KUBE_APISERVER_CLIENT => csr::validate_apiserver_client_usages(usages),
        csr::LEGACY_UNKNOWN => Ok(()),
        _ => return Recognition::Ignore,
    };
    match verdict {
        Ok(()) => Recognition::Sign,
        Err(reason) => Recognition::Refuse(reason),
    }
}

struct Shared {
    client: kube::Client,
    csrs: Store<CertificateSigningRequest>,
    ca: CaSigner,
    default_duration: time::Duration,
}

/// Starts the signer; without a readable signing CA it logs why and does nothing, as upstream
/// skips it when no signing files are configured.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let config = &ctx.config;
    let (Some(cert), Some(key)) = (
        &config.cluster_signing_cert_file,
        &config.cluster_signing_key_file,
    ) else {
        tracing::warn!(
            controller = COMPONENT,
            "no --cluster-signing-cert-file/--cluster-signing-key-file; not started"
        );
        return async {}.boxed();
    };
    let ca = match CaSigner::load(cert, key) {
        Ok(ca) => ca,
        Err(error) => {
            tracing::warn!(controller = COMPONENT, %error, "cannot load the signing CA; not started");
            return async {}.boxed();
        }
    };
    let default_duration =
        time::Duration::try_from(config.cluster_signing_duration).unwrap_or(time::Duration::MAX);
    let client = ctx.client.clone();
    csr::run_queue(
        &ctx,
        COMPONENT,
        |csrs| Shared {
            client,
            csrs,
            ca,
            default_duration,
        },
        |shared, name| async move { sync(&shared, &name).await },
    )
}

#[tracing::instrument(skip(shared), fields(controller = COMPONENT))]
async fn sync(shared: &Shared, name: &str) -> Result<Requeue, SigningError> {
    let Some(cached) = shared.csrs.get(&ObjectRef::new(name)) else {
        return Ok(None);
    };
    if csr::has_certificate(&cached)
        || !csr::is_approved(&cached)
        || csr::has_true_condition(&cached, "Failed")
    {
        return Ok(None);
    }
    let request = csr::parse_request(&cached.spec.request.0).map_err(|reason| SigningError::Parse {
        name: name.to_string(),
        reason,
    })?;
    let usages = cached.spec.usages.clone().unwrap_or_default();
    let mut updated = (*cached).clone();
    let status = updated
        .status
        .get_or_insert_with(CertificateSigningRequestStatus::default);
    match recognize(&cached.spec.signer_name, &request, &usages) {
        Recognition::Ignore => return Ok(None),
        Recognition::Refuse(message) => {
            tracing::info!(csr = name, %message, "refusing to sign");
            status
                .conditions
                .get_or_insert_with(Vec::new)
                .push(CertificateSigningRequestCondition {
                    type_: "Failed".into(),
                    status: "True".into(),
                    reason: Some("SignerValidationFailure".into()),
                    message: Some(message),
                    last_update_time: Some(Time(k8s_openapi::jiff::Timestamp::now())),
                    ..Default::default()
                });
        }
        Recognition::Sign => {
            let ttl = sign::duration(shared.default_duration, cached.spec.expiration_seconds);
            let pem = String::from_utf8_lossy(&cached.spec.request.0).into_owned();
            let certificate = shared
                .ca
                .sign(&pem, &usages, ttl, time::OffsetDateTime::now_utc())
                .map_err(|source| SigningError::Sign {
                    name: name.to_string(),
                    source,
                })?;
            status.certificate = Some(ByteString(certificate.into_bytes()));
        }
    }
    let api: Api<CertificateSigningRequest> = Api::all(shared.client.clone());
    match api.replace_status(name, &PostParams::default(), &updated).await {
        Ok(_) => {
            let signed = updated.status.as_ref().is_some_and(|s| s.certificate.is_some());
            tracing::info!(csr = name, signed, "status written");
            Ok(None)
        }
        Err(e) if is_not_found(&e) || is_conflict(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
