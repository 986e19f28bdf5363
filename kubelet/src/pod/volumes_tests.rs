use super::*;

#[test]
fn atomic_writer_swaps_and_removes() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("v");
    let mut files = Files::from([
        ("a".into(), (b"1".to_vec(), 0o644)),
        ("sub/b".into(), (b"2".to_vec(), 0o600)),
    ]);
    assert!(write_atomic(&dir, &files).unwrap());
    assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
    assert_eq!(std::fs::read_to_string(dir.join("sub/b")).unwrap(), "2");
    assert!(!write_atomic(&dir, &files).unwrap(), "unchanged: no write");
    files.insert("a".into(), (b"new".to_vec(), 0o644));
    files.remove("sub/b");
    assert!(write_atomic(&dir, &files).unwrap());
    assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "new");
    assert!(!dir.join("sub").exists());
    let stamps = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("..1"))
        .count();
    assert_eq!(stamps, 1, "old timestamped dir removed");
}
