//! The error type of patch application and the HTTP status upstream answers with.

/// Why a patch could not be applied.
///
/// [`PatchError::code`] gives the HTTP status the upstream apiserver answers with
/// (`S/apiserver/pkg/endpoints/handlers/patch.go`: `interpretStrategicMergePatchError`,
/// `applyJSPatch`), [`PatchError::reason`] the matching `Status.reason`, and
/// [`PatchError::status_message`] the `Status.message` upstream would write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The object or the patch nests deeper than [`super::MAX_DEPTH`]. 400: upstream's JSON
    /// decoder rejects over-deep input while decoding the body.
    #[error("the patch or the object nests deeper than the maximum of {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// A strategic merge patch (or the object it applies to) is not a JSON object. 400.
    #[error("invalid JSON document")]
    BadJsonDocument,
    /// A `$deleteFromPrimitiveList/<field>` directive is malformed. 400.
    #[error("invalid patch format of primitive list")]
    BadPrimitiveListFormat,
    /// A `$retainKeys` directive is not a list, or the patch sets a field it does not list. 400.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeysFormat,
    /// A `$setElementOrder/<field>` directive key is malformed. 400.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrderFormat,
    /// A list holds lists. 422.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// Any other strategic merge failure: a list element without its merge key, an unknown
    /// `$patch` directive, mixed element types, a `$setElementOrder` list that contradicts the
    /// patch list. Upstream passes these on as plain errors, which become 500 InternalError.
    #[error("{0}")]
    Strategic(String),
    /// A JSON patch body is not an array of operation objects. 400.
    #[error("{0}")]
    JsonPatchDecode(String),
    /// A JSON patch has more operations than upstream allows. 413.
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations {
        /// The limit (10,000 upstream).
        max: usize,
        /// The number of operations in the patch.
        got: usize,
    },
    /// A JSON patch operation failed: missing path, failed `test`, bad index, copy limit. 422.
    #[error("{0}")]
    JsonPatchApply(String),
}

impl PatchError {
    /// The HTTP status code upstream answers with for this error.
    pub fn code(&self) -> u16 {
        match self {
            Self::TooDeep { .. }
            | Self::BadJsonDocument
            | Self::BadPrimitiveListFormat
            | Self::BadRetainKeysFormat
            | Self::BadSetElementOrderFormat
            | Self::JsonPatchDecode(_) => 400,
            Self::TooManyOperations { .. } => 413,
            Self::ListOfLists | Self::JsonPatchApply(_) => 422,
            Self::Strategic(_) => 500,
        }
    }

    /// The `Status.reason` that goes with [`PatchError::code`].
    pub fn reason(&self) -> &'static str {
        match self.code() {
            400 => "BadRequest",
            413 => "RequestEntityTooLarge",
            422 => "Invalid",
            _ => "InternalError",
        }
    }

    /// The `Status.message` upstream writes.
    ///
    /// For 422 upstream builds the status with `NewGenericServerResponse`, which drops the
    /// detail and says only "the server rejected our request due to an error in our request";
    /// kubectl prints that as `The request is invalid: …`. Callers that prefer a helpful
    /// message can use the `Display` text instead.
    pub fn status_message(&self) -> String {
        match self.code() {
            413 => format!("Request entity too large: {self}"),
            422 => "the server rejected our request due to an error in our request".to_owned(),
            500 => format!("Internal error occurred: {self}"),
            _ => self.to_string(),
        }
    }
}
