//! Stock kubectl for tests: the versioned binaries (`kubectl.1.27` … `kubectl.1.33`) that
//! google-cloud-sdk installs beside the `kubectl` on PATH.

use std::path::PathBuf;

/// `$(dirname $(readlink -f $(which kubectl)))/kubectl.<version>`, if both exist.
pub fn find_kubectl(version: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let kubectl = std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())?;
    let real = std::fs::canonicalize(kubectl).ok()?;
    let versioned = real.parent()?.join(format!("kubectl.{version}"));
    versioned.is_file().then_some(versioned)
}

/// [`find_kubectl`] for a test that needs it: panics naming what is missing.
pub fn kubectl_binary(version: &str) -> PathBuf {
    find_kubectl(version).unwrap_or_else(|| {
        panic!("kubectl.{version} beside the kubectl on PATH is missing (google-cloud-sdk's versioned kubectl binaries)")
    })
}
