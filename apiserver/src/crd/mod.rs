//! Custom resources done as upstream's apiextensions-apiserver does them: structural schemas
//! (validation, defaulting, pruning), version conversion with strategy `None`, and validation of
//! CustomResourceDefinitions themselves.

mod cel;
mod cel_definition;
mod cel_eval;
mod cel_ratchet;
mod defaults;
pub(crate) mod definition;
mod fieldschema;
mod format;
pub(crate) mod naming;
pub(crate) mod schema;
pub(crate) mod strategy;
#[cfg(test)]
mod tests;
pub(crate) mod validate;
