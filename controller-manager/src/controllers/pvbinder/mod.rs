//! The persistent volume binder (upstream `pkg/controller/volume/persistentvolume`): static
//! binding of claims to volumes, and reclaiming released volumes.

pub(crate) mod matching;
pub(crate) mod plan;
