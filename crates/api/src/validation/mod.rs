//! Validation building blocks, mirroring upstream's `apimachinery/pkg/util/validation` (name and
//! label rules), `util/validation/field` (field paths and errors) and `api/validation` (object
//! metadata). Per-kind validation is built on top of these elsewhere; a list of [`FieldError`]s
//! becomes a 422 `Invalid` Status through [`crate::status::ApiError::invalid`].

mod field;
mod label_selector;
mod names;
mod object_meta;
#[cfg(test)]
mod object_meta_tests;
mod quote;

pub use field::{BadValue, FieldError, FieldErrorType, FieldPath, aggregate_message, go_string_slice};
pub use label_selector::validate_label_selector;
pub use names::{
    DNS1035_LABEL_MAX_LENGTH, DNS1123_LABEL_MAX_LENGTH, DNS1123_SUBDOMAIN_MAX_LENGTH, LABEL_VALUE_MAX_LENGTH,
    NameValidator, QUALIFIED_NAME_MAX_LENGTH, empty_error, inclusive_range_error, is_dns1035_label,
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value, max_len_error,
    name_is_dns_label, name_is_dns_subdomain, name_is_dns1035_label, regex_error, validate_path_segment_name,
};
pub use object_meta::{
    FIELD_IMMUTABLE_ERROR_MSG, IS_NEGATIVE_ERROR_MSG, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES,
    validate_annotations, validate_finalizers, validate_immutable_field, validate_label_name,
    validate_labels, validate_managed_fields, validate_object_meta, validate_object_meta_update,
    validate_owner_references,
};
pub use quote::{go_format_float, go_quote, go_time_string};
