//! Unknown and duplicate fields in request bodies (`fieldValidation`).

/// `fieldValidation`: what to do about unknown and duplicate fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    /// Dropped silently.
    Ignore,
    /// Dropped, with a `Warning` header each (upstream's default).
    Warn,
    /// The request fails with 400.
    Strict,
}
