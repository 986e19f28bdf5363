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

/// Ok, or the object was already gone.
pub fn ignore_not_found<T>(r: Result<T, kube::Error>) -> Result<Option<T>, kube::Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}
