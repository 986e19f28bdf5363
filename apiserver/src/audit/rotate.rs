//! The audit log file with upstream's rotation (`--audit-log-maxsize`, `--audit-log-maxbackup`,
//! `--audit-log-maxage`). Upstream writes through lumberjack, and we keep its on-disk behaviour so
//! log shippers configured for upstream work unchanged: a full file is renamed to
//! `<name>-<UTC time as 2006-01-02T15-04-05.000><ext>` beside it and a new one started; then the
//! oldest backups beyond `maxbackup` and those older than `maxage` days are removed. A size of 0
//! means lumberjack's default of 100 MB; 0 backups or days means no limit.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

/// lumberjack's size limit when `--audit-log-maxsize` is 0.
const DEFAULT_MAX_SIZE_MB: u64 = 100;

/// The rotation flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// `--audit-log-maxage`: days to keep backups, by the time in their name. 0: forever.
    pub max_age_days: u32,
    /// `--audit-log-maxbackup`: backups to keep. 0: all.
    pub max_backups: u32,
    /// `--audit-log-maxsize`: megabytes before the file is rotated. 0: 100.
    pub max_size_mb: u32,
}

impl Rotation {
    fn max_bytes(&self) -> u64 {
        let mb = match self.max_size_mb {
            0 => DEFAULT_MAX_SIZE_MB,
            mb => u64::from(mb),
        };
        mb * 1024 * 1024
    }
}

/// An append-only log file that rotates itself.
pub(super) struct RotatingFile {
    path: PathBuf,
    rotation: Rotation,
    file: File,
    size: u64,
}

impl RotatingFile {
    /// Opens (appending to) or creates the file at `path`.
    pub(super) fn open(path: &Path, rotation: Rotation) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            rotation,
            file,
            size,
        })
    }

    fn rotate(&mut self, now: OffsetDateTime) -> io::Result<()> {
        let backup = backup_path(&self.path, now);
        std::fs::rename(&self.path, &backup)?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        for old in self.expired_backups(now)? {
            if let Err(err) = std::fs::remove_file(&old) {
                tracing::warn!(file = %old.display(), error = %err, "removing an old audit log");
            }
        }
        Ok(())
    }

    /// The backups `--audit-log-maxbackup` and `--audit-log-maxage` no longer keep.
    fn expired_backups(&self, now: OffsetDateTime) -> io::Result<Vec<PathBuf>> {
        let (dir, prefix, ext) = name_parts(&self.path);
        let mut backups: Vec<(String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let stamp = name
                .strip_prefix(&format!("{prefix}-"))
                .and_then(|rest| rest.strip_suffix(ext.as_str()));
            if let Some(stamp) = stamp.filter(|s| is_timestamp(s)) {
                backups.push((stamp.to_string(), entry.path()));
            }
        }
        // The stamp's fixed-width format sorts by time: newest first.
        backups.sort_by(|a, b| b.0.cmp(&a.0));
        let mut expired = Vec::new();
        if self.rotation.max_backups > 0 {
            let keep = self.rotation.max_backups as usize;
            expired.extend(backups.drain(keep.min(backups.len())..).map(|(_, path)| path));
        }
        if self.rotation.max_age_days > 0 {
            let cutoff = timestamp(now - time::Duration::days(i64::from(self.rotation.max_age_days)));
            expired.extend(
                backups
                    .into_iter()
                    .filter(|(stamp, _)| *stamp < cutoff)
                    .map(|(_, path)| path),
            );
        }
        Ok(expired)
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let max = self.rotation.max_bytes();
        let len = buf.len() as u64;
        if len > max {
            return Err(io::Error::other(format!(
                "write length {len} exceeds maximum file size {max}"
            )));
        }
        if self.size + len > max {
            self.rotate(OffsetDateTime::now_utc())?;
        }
        let written = self.file.write(buf)?;
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `(directory, file name without extension, extension with its dot)`.
fn name_parts(path: &Path) -> (PathBuf, String, String) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let stem = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (dir, stem, ext)
}

fn backup_path(path: &Path, now: OffsetDateTime) -> PathBuf {
    let (dir, stem, ext) = name_parts(path);
    dir.join(format!("{stem}-{}{ext}", timestamp(now)))
}

/// lumberjack's backup time format, `2006-01-02T15-04-05.000`, in UTC.
fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}-{:02}-{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

fn is_timestamp(s: &str) -> bool {
    const SHAPE: &str = "0000-00-00T00-00-00.000";
    s.len() == SHAPE.len()
        && s.bytes().zip(SHAPE.bytes()).all(|(c, shape)| {
            if shape == b'0' {
                c.is_ascii_digit()
            } else {
                c == shape
            }
        })
}

#[cfg(test)]
#[path = "rotate_tests.rs"]
mod tests;
