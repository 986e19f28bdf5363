//! Label and field selectors with upstream's syntax, matching rules and error messages
//! (`apimachinery/pkg/labels`, `apimachinery/pkg/fields`).
//!
//! A parse error's `Display` is the message the apiserver puts in its 400 BadRequest Status
//! (`ApiError::bad_request(err.to_string())`). Unsupported field-selector fields are the
//! caller's check: walk [`FieldSelector::requirements`] (or use [`FieldSelector::transform`]
//! with the kind's conversion) and answer `ApiError::field_label_not_supported`.

mod field_values;
mod fields;
mod label_parser;
mod labels;

#[cfg(test)]
mod field_tests;
#[cfg(test)]
mod label_tests;

pub use field_values::{field_value, selectable_field_value};
pub use fields::{
    FieldOperator, FieldRequirement, FieldSelector, FieldSelectorError, default_field_label_conversion,
    escape_value, unescape_value,
};
pub use labels::{LabelSelector, LabelSelectorError, Operator, Requirement};
