//! The systemd units in `deploy/systemd/`: `systemd-analyze verify` finds nothing to say about
//! any of them, and (with the binaries built, `make deploy-lint`) every flag they pass exists.

use std::path::{Path, PathBuf};
use std::process::Command;

const UNITS: [&str; 6] = [
    "etcd.service",
    "kube-apiserver.service",
    "kube-controller-manager.service",
    "kube-scheduler.service",
    "kubelet.service",
    "kube-proxy.service",
];

fn units_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd")
}

fn have_systemd_analyze() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run `systemd-analyze verify` on copies of `units` in which `/usr/local/bin/` (where the
/// installer puts our binaries) points at executable stubs, so the check is about the unit files
/// and not about whether this build machine has the binaries installed. Returns everything it
/// printed; empty means no warning.
fn verify(units: &[(&str, String)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let mut paths = Vec::new();
    for (name, text) in units {
        for token in text.split_whitespace() {
            if let Some((_, program)) = token.split_once("/usr/local/bin/") {
                let stub = bin.join(program);
                std::fs::write(&stub, "#!/bin/sh\nexit 0\n").expect("stub");
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            }
        }
        let rewritten = text.replace("/usr/local/bin/", &format!("{}/", bin.display()));
        let path = dir.path().join(name);
        std::fs::write(&path, rewritten).expect("write unit");
        paths.push(path);
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
        .expect("systemd-analyze");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.trim().is_empty(), text)
}

fn read_units() -> Vec<(&'static str, String)> {
    UNITS
        .iter()
        .map(|name| {
            let text =
                std::fs::read_to_string(units_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            (*name, text)
        })
        .collect()
}

#[test]
fn the_unit_set_is_complete() {
    let mut found: Vec<String> = std::fs::read_dir(units_dir())
        .expect("deploy/systemd")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".service"))
        .collect();
    found.sort();
    let mut want: Vec<String> = UNITS.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want, "a new unit must be added to UNITS so it is verified");
}

#[test]
fn systemd_analyze_verify_every_unit_without_warnings() {
    if !have_systemd_analyze() {
        eprintln!(
            "\n!!!!! SKIPPED: systemd-analyze is not installed; the units in deploy/systemd were NOT verified !!!!!\n"
        );
        return;
    }
    for (name, text) in read_units() {
        let (clean, output) = verify(&[(name, text)]);
        assert!(clean, "systemd-analyze verify {name}:\n{output}");
    }
}

#[test]
fn the_verifier_does_report_a_bad_unit() {
    if !have_systemd_analyze() {
        eprintln!("\n!!!!! SKIPPED: systemd-analyze is not installed !!!!!\n");
        return;
    }
    let bad = "[Unit]\nDescription=x\n[Service]\nExecStart=/usr/local/bin/x\nRestartt=always\n";
    let (clean, output) = verify(&[("bad.service", bad.to_string())]);
    assert!(!clean, "a misspelt key must be reported");
    assert!(output.contains("Restartt"), "{output}");
    let bad = "[Service]\nExecStart=/usr/local/bin/x\nRestart=sometimes\n";
    assert!(!verify(&[("bad2.service", bad.to_string())]).0);
}

#[test]
fn hardening_where_it_is_harmless() {
    for (name, text) in read_units() {
        let has = |directive: &str| text.lines().any(|l| l.trim() == directive);
        let control_plane = !matches!(name, "kubelet.service" | "kube-proxy.service");
        for directive in [
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            "NoNewPrivileges=yes",
            "ProtectHome=yes",
        ] {
            assert_eq!(has(directive), control_plane, "{name}: {directive}");
        }
        assert!(
            text.lines()
                .any(|l| l.starts_with("Restart=always") || l.starts_with("Restart=on-failure")),
            "{name}: restart policy"
        );
        assert!(
            text.lines().any(|l| l.starts_with("RestartSec=")),
            "{name}: RestartSec"
        );
        // etcd, kube-apiserver and the kubelet send READY=1 (as upstream's do); the others do not,
        // and a notify unit whose binary never notifies would time out.
        let notifies = ["etcd.service", "kube-apiserver.service", "kubelet.service"].contains(&name);
        assert_eq!(has("Type=notify"), notifies, "{name}: Type");
    }
    let kubelet = &read_units()[4].1;
    assert!(kubelet.contains("Requires=containerd.service"));
    assert!(kubelet.contains("After=network-online.target containerd.service"));
}

/// `--flag` names in the unit's ExecStart.
fn flags(text: &str) -> (String, Vec<String>) {
    let joined = text.replace("\\\n", " ");
    let exec = joined
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let mut tokens = exec.split_whitespace();
    let program = tokens.next().expect("program").to_string();
    let flags = tokens
        .filter(|t| t.starts_with("--"))
        .map(|t| t.split('=').next().unwrap_or(t).to_string())
        .collect();
    (program, flags)
}

/// The flags that `help` does not list (a flag is listed when it is followed by a non-name
/// character: `--kubeconfig` is not satisfied by `--kubeconfig-dir`).
fn unlisted(flags: &[String], help: &str) -> Vec<String> {
    flags
        .iter()
        .filter(|flag| {
            !help.match_indices(flag.as_str()).any(|(i, _)| {
                let next = help[i + flag.len()..].chars().next();
                !matches!(next, Some(c) if c.is_ascii_alphanumeric() || c == '-')
            })
        })
        .cloned()
        .collect()
}

#[test]
fn the_flag_check_finds_unknown_and_prefix_only_flags() {
    let unit = "[Service]\nExecStart=/usr/local/bin/x \\\n    --kubeconfig=/a \\\n    --v=2 --bogus\n";
    let (program, flags) = flags(unit);
    assert_eq!(program, "/usr/local/bin/x");
    assert_eq!(flags, ["--kubeconfig", "--v", "--bogus"]);
    let help = "  --kubeconfig-dir <DIR>\n  -v, --v <VERBOSITY>\n";
    assert_eq!(unlisted(&flags, help), ["--kubeconfig", "--bogus"]);
}

/// Where the workspace's binaries are: `RUDDER_BIN_DIR`, else target/debug.
fn bin_dir() -> PathBuf {
    std::env::var_os("RUDDER_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug"))
}

#[test]
#[ignore = "needs the component binaries built: `make deploy-lint` builds them and runs this"]
fn every_flag_in_the_units_exists_in_the_binaries() {
    let mut missing = Vec::new();
    for (name, text) in read_units() {
        let (program, flags) = flags(&text);
        let binary = match program.strip_prefix("/usr/local/bin/") {
            Some(b) => bin_dir().join(b),
            None => PathBuf::from(&program),
        };
        let out = Command::new(&binary)
            .arg("--help")
            .output()
            .unwrap_or_else(|e| panic!("{name}: running {}: {e}", binary.display()));
        let help = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for flag in unlisted(&flags, &help) {
            missing.push(format!("{name}: {flag}"));
        }
    }
    assert!(
        missing.is_empty(),
        "flags the binaries do not accept:\n{}",
        missing.join("\n")
    );
}
