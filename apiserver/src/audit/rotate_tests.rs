use super::*;

fn at(unix_millis: i128) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(unix_millis * 1_000_000).unwrap()
}

/// 2026-11-22T16:35:01.123Z
const NOW_MS: i128 = 1_795_365_301_123;
const DAY_MS: i128 = 86_400_000;

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn backups_are_named_as_lumberjack_names_them() {
    assert_eq!(timestamp(at(NOW_MS)), "2026-11-22T16-35-01.123");
    assert_eq!(
        backup_path(Path::new("/var/log/audit.log"), at(NOW_MS)),
        Path::new("/var/log/audit-2026-11-22T16-35-01.123.log")
    );
    assert_eq!(
        backup_path(Path::new("/var/log/audit"), at(NOW_MS)),
        Path::new("/var/log/audit-2026-11-22T16-35-01.123")
    );
    assert!(is_timestamp("2026-11-22T16-35-01.123"));
    assert!(!is_timestamp("2026-11-22T16:35:01.123"));
    assert!(!is_timestamp("latest"));
}

#[test]
fn a_full_file_is_renamed_and_a_new_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let rotation = Rotation {
        max_size_mb: 1,
        ..Default::default()
    };
    let mut file = RotatingFile::open(&path, rotation).unwrap();
    let line = [b'x'; 100 * 1024];
    for _ in 0..11 {
        file.write_all(&line).unwrap();
    }
    let names = names(dir.path());
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[1], "audit.log");
    assert!(
        names[0].starts_with("audit-") && names[0].ends_with(".log"),
        "{names:?}"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 100 * 1024);
    assert_eq!(
        std::fs::metadata(dir.path().join(&names[0])).unwrap().len(),
        1000 * 1024
    );
}

#[test]
fn an_existing_file_is_appended_to_and_counts_toward_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, vec![b'o'; 1024 * 1024 - 10]).unwrap();
    let mut file = RotatingFile::open(
        &path,
        Rotation {
            max_size_mb: 1,
            ..Default::default()
        },
    )
    .unwrap();
    file.write_all(b"0123456789").unwrap();
    assert_eq!(names(dir.path()), ["audit.log"]);
    file.write_all(b"!").unwrap();
    assert_eq!(names(dir.path()).len(), 2);
    assert_eq!(std::fs::read(&path).unwrap(), b"!");
}

#[test]
fn a_write_larger_than_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = RotatingFile::open(
        &dir.path().join("a.log"),
        Rotation {
            max_size_mb: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let err = file.write(&vec![b'x'; 1024 * 1024 + 1]).unwrap_err();
    assert!(err.to_string().contains("exceeds maximum file size"), "{err}");
}

fn seed_backups(dir: &Path, days_ago: &[i128]) {
    for days in days_ago {
        let name = format!("audit-{}.log", timestamp(at(NOW_MS - days * DAY_MS)));
        std::fs::write(dir.join(name), b"old").unwrap();
    }
    std::fs::write(dir.join("unrelated.log"), b"keep").unwrap();
    std::fs::write(dir.join("audit-notatime.log"), b"keep").unwrap();
}

#[test]
fn only_the_newest_maxbackup_backups_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    seed_backups(dir.path(), &[1, 2, 3, 4]);
    let path = dir.path().join("audit.log");
    std::fs::write(&path, b"current").unwrap();
    let mut file = RotatingFile::open(
        &path,
        Rotation {
            max_backups: 2,
            ..Default::default()
        },
    )
    .unwrap();
    file.rotate(at(NOW_MS)).unwrap();
    assert_eq!(
        names(dir.path()),
        [
            format!("audit-{}.log", timestamp(at(NOW_MS - DAY_MS))),
            format!("audit-{}.log", timestamp(at(NOW_MS))),
            "audit-notatime.log".to_string(),
            "audit.log".to_string(),
            "unrelated.log".to_string(),
        ]
    );
}

#[test]
fn backups_older_than_maxage_days_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    seed_backups(dir.path(), &[1, 6, 8, 30]);
    let path = dir.path().join("audit.log");
    let mut file = RotatingFile::open(
        &path,
        Rotation {
            max_age_days: 7,
            ..Default::default()
        },
    )
    .unwrap();
    file.rotate(at(NOW_MS)).unwrap();
    let kept: Vec<String> = names(dir.path())
        .into_iter()
        .filter(|n| n.starts_with("audit-2"))
        .collect();
    assert_eq!(
        kept,
        [
            format!("audit-{}.log", timestamp(at(NOW_MS - 6 * DAY_MS))),
            format!("audit-{}.log", timestamp(at(NOW_MS - DAY_MS))),
            format!("audit-{}.log", timestamp(at(NOW_MS))),
        ]
    );
}

#[test]
fn without_limits_every_backup_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    seed_backups(dir.path(), &[1, 400]);
    let path = dir.path().join("audit.log");
    let mut file = RotatingFile::open(&path, Rotation::default()).unwrap();
    file.rotate(at(NOW_MS)).unwrap();
    assert_eq!(names(dir.path()).len(), 6);
}
