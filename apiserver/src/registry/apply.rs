//! Server-side apply (`PATCH` with `application/apply-patch+yaml`): the applied configuration is
//! merged into the live object by field ownership (`rudder_api::apply`), then written like any
//! update; an absent object is created.

use std::sync::Arc;

use rudder_api::apply::{ApplyOptions, ApplySchema, apply_with, reset_fields_for, validate_patch_options};
use rudder_api::status::ApiError;
use serde_json::Value;

use super::watch_cache::CachedObject;
use super::write::WriteOptions;
use super::{Registry, Resource, object};

/// What the client asked of one apply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApplyRequest<'a> {
    pub(crate) field_manager: &'a str,
    pub(crate) force: bool,
    pub(crate) status: bool,
    pub(crate) dry_run: bool,
    /// Who applies, for admission.
    pub(crate) requester: &'a crate::admission::Requester,
}

impl Registry {
    /// Applies a configuration; returns the object and whether it was created.
    pub(crate) async fn apply(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        applied: &Value,
        req: ApplyRequest<'_>,
    ) -> Result<(Arc<CachedObject>, bool), ApiError> {
        let errors = validate_patch_options(req.field_manager, true, req.force);
        if !errors.is_empty() {
            return Err(ApiError::invalid("meta.k8s.io", "PatchOptions", "", &errors));
        }
        if let Some(body_name) = object::name(applied).filter(|n| *n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let schema = ApplySchema::for_kind(res.info.group, res.info.kind);
        let subresource = if req.status { "status" } else { "" };
        let has_status = res.info.subresource("status").is_some();
        let now = object::now_rfc3339();
        let opts = ApplyOptions {
            manager: req.field_manager,
            force: req.force,
            now: &now,
            subresource,
            reset_fields: reset_fields_for(subresource, has_status),
        };
        let merge =
            |live: Option<&Value>| apply_with(live, applied, &schema, &opts).map_err(|e| e.to_api_error());
        match self.get(res, namespace, name).await {
            Ok(_) => {}
            Err(e) if e.code() == 404 && !req.status => {
                let created = merge(None)?;
                let untracked = WriteOptions {
                    dry_run: req.dry_run,
                    requester: req.requester.clone(),
                    ..Default::default()
                };
                return match self.create(res, namespace, created, &untracked).await {
                    Ok(obj) => Ok((obj, true)),
                    // Created meanwhile by someone else: apply over it instead.
                    Err(e) if e.code() == 409 => self.apply_existing(res, namespace, name, &merge, req).await,
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
        self.apply_existing(res, namespace, name, &merge, req).await
    }

    async fn apply_existing(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        merge: &impl Fn(Option<&Value>) -> Result<Value, ApiError>,
        req: ApplyRequest<'_>,
    ) -> Result<(Arc<CachedObject>, bool), ApiError> {
        // Apply records its own ownership.
        let untracked = WriteOptions {
            dry_run: req.dry_run,
            requester: req.requester.clone(),
            ..Default::default()
        };
        let obj = self
            .guaranteed_write(res, namespace, name, None, req.status, &untracked, |live| {
                merge(Some(live))
            })
            .await?;
        Ok((obj, false))
    }
}
