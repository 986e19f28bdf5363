//! Writing files with the modes kubeadm uses (keys and kubeconfigs 0600, certificates 0644),
//! atomically (temporary file + rename) so an interrupted run never leaves half a key.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A file operation failed.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {source}")]
pub struct FsError {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

pub const SECRET: u32 = 0o600;
pub const PUBLIC: u32 = 0o644;

fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FsError + 'a {
    move |source| FsError {
        op,
        path: path.to_path_buf(),
        source,
    }
}

pub fn write(path: &Path, contents: &str, mode: u32) -> Result<(), FsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err("creating", dir))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err("creating", &tmp))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(err("writing", &tmp))?;
    // The umask may have narrowed the mode at creation; set it exactly.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(err("chmod", &tmp))?;
    std::fs::rename(&tmp, path).map_err(err("renaming into", path))
}

pub fn read(path: &Path) -> Result<String, FsError> {
    std::fs::read_to_string(path).map_err(err("reading", path))
}

/// Every regular file under `dir` whose name ends with `suffix`, sorted, as paths relative to
/// `dir`.
pub fn find(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, FsError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).map_err(err("listing", &current))? {
            let entry = entry.map_err(err("listing", &current))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(err("stat", &path))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && path.to_string_lossy().ends_with(suffix)
                && let Ok(rel) = path.strip_prefix(dir)
            {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_exact_and_find_is_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(&dir.path().join("a/b/x.key"), "k", SECRET).expect("write");
        write(&dir.path().join("a/y.crt"), "c", PUBLIC).expect("write");
        write(&dir.path().join("z.crt"), "c", PUBLIC).expect("write");
        let mode = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .expect("stat")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("a/b/x.key"), 0o600);
        assert_eq!(mode("a/y.crt"), 0o644);
        let found = find(dir.path(), ".crt").expect("find");
        assert_eq!(found, vec![PathBuf::from("a/y.crt"), PathBuf::from("z.crt")]);
        assert_eq!(read(&dir.path().join("a/b/x.key")).expect("read"), "k");
        assert!(read(&dir.path().join("nope")).is_err());
    }
}
