//! kube-controller-manager: the control loops that drive cluster state toward the declared state.
//!
//! `main` parses [`options::Options`] into a [`options::Config`] and calls [`run`]; tests build a
//! `Config` (see [`options::Config::for_tests`]) and call [`run`] in-process.

pub mod controllers;
pub mod options;
mod run;
pub mod sa_credentials;

pub use run::{RunError, run};
