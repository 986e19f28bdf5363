//! The per-resource behaviour plugged into the one generic store: upstream's `RESTCreateStrategy`
//! / `RESTUpdateStrategy` in small. Everything else (metadata, preconditions, finalizers, status
//! split, watch) is generic.

use rudder_api::validation::FieldError;
use serde_json::Value;

/// What a write looks like to a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteKind {
    Create,
    Update,
    /// A write through the `status` subresource.
    StatusUpdate,
}

pub(crate) trait Strategy: Send + Sync + 'static {
    /// A body upstream could not even decode into its Go type (for example a secret's `data`
    /// value that is not base64). Returns the decoder's message; the request then fails with
    /// 400 BadRequest `<Kind> in version "<version>" cannot be handled as a <Kind>: <message>`.
    /// Checked before defaulting.
    fn decode_error(&self, _obj: &Value) -> Option<String> {
        None
    }

    /// Upstream defaulting (what `kubectl get -o yaml` shows for fields the user left out). Runs
    /// on every create and update, like upstream's decode-time defaulting.
    fn default(&self, _obj: &mut Value) {}

    /// Resets or fills fields on create (for example a new pod's `status.phase: Pending`).
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Fills fields from the requesting user on create (a CertificateSigningRequest's
    /// `spec.username`, as upstream's strategies read the user from the request context).
    fn prepare_for_create_as(&self, _obj: &mut Value, _user: &crate::authn::UserInfo) {}

    /// Adjusts an update given the stored object (for example keeps immutable derived fields).
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// Normalizes the object after validation, just before it is stored (upstream's
    /// `Canonicalize`; runs once the final name of a `generateName` create is known).
    fn canonicalize(&self, _obj: &mut Value) {}

    /// Kind-specific validation; metadata is validated generically. `old` is set on updates.
    fn validate(&self, _obj: &Value, _old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        Vec::new()
    }

    /// How names of this resource are validated (DNS-1123 subdomain unless upstream says
    /// otherwise).
    fn name_validator(&self) -> rudder_api::validation::NameValidator {
        rudder_api::validation::name_is_dns_subdomain
    }

    /// The field schema of a kind the built-in OpenAPI does not describe (custom resources),
    /// for pruning and `fieldValidation`.
    fn field_schema(&self) -> Option<super::fields::SchemaRef<'static>> {
        None
    }

    /// Whether `metadata.generation` tracks changes of the desired state.
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Called when a DELETE finds no reason to wait; returning true keeps the object (marked
    /// for deletion) instead, as namespaces do while their content is removed.
    fn begin_delete(&self, _obj: &mut Value) -> bool {
        false
    }

    /// Whether an object marked for deletion, with no finalizers left, may now be removed.
    fn can_remove(&self, _obj: &Value) -> bool {
        true
    }

    /// Whether a DELETE may be graceful: returns the grace period to wait before the object
    /// goes, or `None` to delete at once (pods bound to a node wait for their kubelet).
    fn graceful_delete_seconds(&self, _obj: &Value, _requested: Option<i64>) -> Option<i64> {
        None
    }
}

/// The strategy of resources with no special behaviour.
#[derive(Debug)]
pub(crate) struct Plain {
    pub(crate) generation: bool,
}

impl Strategy for Plain {
    fn tracks_generation(&self) -> bool {
        self.generation
    }
}
