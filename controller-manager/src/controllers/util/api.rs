//! Classifying API errors the way controllers branch on them (upstream `apierrors.IsNotFound`...).

/// The HTTP status code of an API error, if it is one.
pub fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// 404: the object is already gone.
pub fn is_not_found(e: &kube::Error) -> bool {
    status_code(e) == Some(404)
}

/// 409: a precondition (resourceVersion, uid) failed or the object exists.
pub fn is_conflict(e: &kube::Error) -> bool {
    status_code(e) == Some(409)
}

/// 403 because the namespace is being terminated (upstream `apierrors.HasStatusCause(err,
/// NamespaceTerminatingCause)`): controllers drop such a create instead of retrying it. Any other
/// 403 (RBAC not yet bound, say) is an error to retry.
pub fn is_namespace_terminating(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(status) => {
            status.code == 403
                && status
                    .details
                    .as_ref()
                    .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
        }
        _ => false,
    }
}

/// Ok, or the object was already gone.
pub fn ignore_not_found<T>(r: Result<T, kube::Error>) -> Result<Option<T>, kube::Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{Status, StatusCause, StatusDetails};

    fn forbidden(cause: Option<&str>) -> kube::Error {
        let mut status = Status::failure("forbidden", "Forbidden").with_code(403);
        if let Some(reason) = cause {
            status = status.with_details(StatusDetails {
                causes: vec![StatusCause {
                    reason: reason.to_string(),
                    message: "namespace ns is being terminated".to_string(),
                    field: "metadata.namespace".to_string(),
                }],
                name: "ns".to_string(),
                group: String::new(),
                kind: "pods".to_string(),
                uid: String::new(),
                retry_after_seconds: 0,
            });
        }
        kube::Error::Api(status.boxed())
    }

    #[test]
    fn only_the_terminating_cause_counts_as_namespace_terminating() {
        assert!(is_namespace_terminating(&forbidden(Some("NamespaceTerminating"))));
        assert!(
            !is_namespace_terminating(&forbidden(None)),
            "an RBAC 403 is retried"
        );
        assert!(!is_namespace_terminating(&forbidden(Some("FieldValueInvalid"))));
        assert_eq!(status_code(&forbidden(None)), Some(403));
    }
}
