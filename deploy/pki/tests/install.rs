//! deploy/install.sh against its `dir` transport (each machine's root is a directory): what lands
//! on which machine, with which modes, and which systemctl commands each machine gets. The same
//! script drives real machines over ssh or nspawn machines over nsenter (`make vm-e2e`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const PKI: &str = env!("CARGO_BIN_EXE_rudder-pki");

fn install_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../install.sh")
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    pki: PathBuf,
    inventory: PathBuf,
}

fn setup(workers: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    for b in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
    ] {
        let p = bin.join(b);
        std::fs::write(&p, format!("#!/bin/sh\necho {b}\n")).expect("stub");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::copy(PKI, bin.join("rudder-pki")).expect("copy rudder-pki");
    let m = |n: &str| root.join("machines").join(n).display().to_string();
    let inventory = root.join("inventory");
    std::fs::write(
        &inventory,
        format!(
            "# test inventory\nTRANSPORT=dir\nCLUSTER_CIDR=10.200.0.0/16\n\
             control-plane cp1 10.77.0.11 {}\ncontrol-plane cp2 10.77.0.12 {}\n\
             control-plane cp3 10.77.0.13 {}   # comment\n{workers}",
            m("cp1"),
            m("cp2"),
            m("cp3")
        ),
    )
    .expect("inventory");
    Setup {
        pki: root.join("pki"),
        _dir: dir,
        root,
        bin,
        inventory,
    }
}

fn run(s: &Setup, extra: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(install_sh())
        .args(["--bin-dir", s.bin.to_str().expect("utf8")])
        .args(["--pki-dir", s.pki.to_str().expect("utf8")])
        .args(extra)
        .arg(&s.inventory)
        .output()
        .expect("run install.sh")
}

fn subject(path: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
        .arg(path)
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("subject=")
        .to_string()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn every_machine_gets_its_own_files_and_units() {
    let s = setup("worker w1 10.77.0.21 MACHINE_W1\n");
    let w1 = s.root.join("machines/w1");
    let inv = std::fs::read_to_string(&s.inventory).expect("read");
    std::fs::write(&s.inventory, inv.replace("MACHINE_W1", &w1.display().to_string())).expect("write");
    let out = run(&s, &["--no-start"]);
    assert!(
        out.status.success(),
        "install.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let machine = |n: &str| s.root.join("machines").join(n);

    for (i, name) in ["cp1", "cp2", "cp3"].iter().enumerate() {
        let m = machine(name);
        let p = |rel: &str| m.join(rel);
        // Each etcd member has its own server and peer certificate.
        assert_eq!(
            subject(&p("etc/kubernetes/pki/etcd/server.crt")),
            format!("CN={name}")
        );
        assert_eq!(
            subject(&p("etc/kubernetes/pki/etcd/peer.crt")),
            format!("CN={name}")
        );
        assert_eq!(
            subject(&p("etc/kubernetes/pki/apiserver.crt")),
            "CN=kube-apiserver"
        );
        for key in [
            "pki/ca.key",
            "pki/etcd/peer.key",
            "pki/sa.key",
            "admin.conf",
            "scheduler.conf",
            "controller-manager.conf",
            "super-admin.conf",
        ] {
            assert_eq!(mode(&p(&format!("etc/kubernetes/{key}"))), 0o600, "{name}: {key}");
        }
        for b in ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] {
            assert_eq!(mode(&p(&format!("usr/local/bin/{b}"))), 0o755, "{name}: {b}");
        }
        assert!(
            !p("usr/local/bin/kubelet").exists(),
            "{name}: the control plane runs no kubelet"
        );
        for u in [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            let unit = std::fs::read_to_string(p(&format!("etc/systemd/system/{u}.service")))
                .unwrap_or_else(|e| panic!("{name}: {u}: {e}"));
            let shipped = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../systemd/{u}.service")),
            )
            .expect("unit");
            assert_eq!(unit, shipped, "{name}: {u}");
        }
        let env = std::fs::read_to_string(p("etc/rudder/node.env")).expect("node.env");
        assert!(env.contains(&format!("NODE_NAME={name}\n")), "{env}");
        assert!(env.contains(&format!("NODE_IP=10.77.0.1{}\n", i + 1)), "{env}");
        assert!(
            env.contains("INITIAL_CLUSTER=cp1=https://10.77.0.11:2380,cp2=https://10.77.0.12:2380,cp3=https://10.77.0.13:2380\n"),
            "{env}"
        );
        assert!(
            env.contains(
                "ETCD_SERVERS=https://10.77.0.11:2379,https://10.77.0.12:2379,https://10.77.0.13:2379\n"
            ),
            "{env}"
        );
        assert!(
            env.contains("CLUSTER_CIDR=10.200.0.0/16\n"),
            "inventory setting: {env}"
        );
        assert!(env.contains("SERVICE_CIDR=10.96.0.0/12\n"), "default: {env}");
        let commands = std::fs::read_to_string(p(".rudder-commands")).expect("commands");
        assert!(
            commands.contains("systemctl enable etcd kube-apiserver kube-controller-manager kube-scheduler"),
            "{commands}"
        );
        assert!(
            !commands.contains("restart"),
            "--no-start starts nothing: {commands}"
        );
    }

    let p = |rel: &str| w1.join(rel);
    assert_eq!(
        subject_of_kubeconfig(&p("etc/kubernetes/kubelet.conf")),
        "CN=system:node:w1,O=system:nodes"
    );
    assert_eq!(
        subject_of_kubeconfig(&p("etc/kubernetes/kube-proxy.conf")),
        "CN=system:kube-proxy"
    );
    assert_eq!(mode(&p("etc/kubernetes/kubelet.conf")), 0o600);
    assert!(p("etc/kubernetes/pki/ca.crt").exists());
    // A worker holds no CA key, no other identity, no control-plane binary.
    for absent in [
        "etc/kubernetes/pki/ca.key",
        "etc/kubernetes/admin.conf",
        "etc/kubernetes/pki/etcd",
        "usr/local/bin/kube-apiserver",
        "etc/systemd/system/etcd.service",
    ] {
        assert!(!p(absent).exists(), "worker has {absent}");
    }
    assert!(p("etc/systemd/system/kubelet.service").exists());
    let commands = std::fs::read_to_string(p(".rudder-commands")).expect("commands");
    assert!(
        commands.contains("systemctl enable containerd kubelet kube-proxy"),
        "{commands}"
    );
    assert!(
        s.pki.join("admin.conf").exists(),
        "the PKI stays on the operator's machine"
    );
}

fn subject_of_kubeconfig(path: &Path) -> String {
    use base64::Engine;
    let text = std::fs::read_to_string(path).expect("kubeconfig");
    let b64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-certificate-data: "))
        .expect("cert");
    let pem = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("b64");
    let file = path.with_extension("crt-extracted");
    std::fs::write(&file, pem).expect("write");
    subject(&file)
}

#[test]
fn bad_inventories_are_refused() {
    let cases = [
        ("worker w1\n", "want 'worker NAME IP"),
        ("worker W1 10.0.0.1\n", "bad node name"),
        ("frobnicate 1\n", "unknown line"),
        ("TRANSPORT=pigeon\n", "unknown TRANSPORT"),
    ];
    for (extra, needle) in cases {
        let s = setup(extra);
        let out = run(&s, &["--no-start"]);
        assert!(!out.status.success(), "{extra:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(!s.root.join("machines").exists(), "{extra:?}: nothing installed");
    }
    // A worker the dir transport cannot reach (no TARGET).
    let s = setup("worker w1 10.77.0.21\n");
    let out = run(&s, &["--no-start"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a TARGET"));
}

#[test]
fn token_bootstrap_ships_a_bootstrap_kubeconfig_instead_of_kubelet_certificates() {
    let s = setup("KUBELET_BOOTSTRAP=token\nworker w1 10.77.0.21 MACHINE_W1\n");
    let w1 = s.root.join("machines/w1");
    let inv = std::fs::read_to_string(&s.inventory).expect("read");
    std::fs::write(&s.inventory, inv.replace("MACHINE_W1", &w1.display().to_string())).expect("write");
    let out = run(&s, &["--no-start"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "install.sh: {stderr}");
    assert!(
        stderr.contains("apply -f"),
        "tells how to apply the token: {stderr}"
    );

    // The token's Secret and bindings, and the kubeconfig that carries the token.
    let manifest = std::fs::read_to_string(s.pki.join("bootstrap-token.yaml")).expect("manifest");
    let id = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("token-id: "))
        .expect("token id")
        .trim_matches('"')
        .to_string();
    let secret = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("token-secret: "))
        .expect("token secret")
        .trim_matches('"')
        .to_string();
    assert!(manifest.contains(&format!("name: bootstrap-token-{id}\n")));
    assert!(manifest.contains("name: kubeadm:node-autoapprove-bootstrap\n"));
    let conf = w1.join("etc/kubernetes/bootstrap-kubelet.conf");
    let text = std::fs::read_to_string(&conf).expect("bootstrap-kubelet.conf on the worker");
    assert!(text.contains(&format!("token: {id}.{secret}\n")), "{text}");
    assert!(text.contains("server: https://10.77.0.11:6443\n"), "{text}");
    assert_eq!(mode(&conf), 0o600);
    assert!(
        !w1.join("etc/kubernetes/kubelet.conf").exists(),
        "the kubelet writes its own kubeconfig after its CSR is signed"
    );

    // The units get the flags TLS bootstrap needs, the rest of each unit as shipped.
    let unit = |m: &Path, u: &str| {
        std::fs::read_to_string(m.join(format!("etc/systemd/system/{u}.service"))).expect("unit")
    };
    let shipped = |u: &str| {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../systemd/{u}.service")))
            .expect("unit")
    };
    let kubelet = unit(&w1, "kubelet");
    assert!(kubelet.contains(
        "ExecStart=/usr/local/bin/kubelet \\\n    --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\\n    --cert-dir=/var/lib/kubelet/pki \\\n    --kubeconfig=/etc/kubernetes/kubelet.conf \\\n"
    ), "{kubelet}");
    let without = |text: &str, flags: &[&str]| {
        flags
            .iter()
            .fold(text.to_string(), |t, f| t.replace(&format!("    {f} \\\n"), ""))
    };
    assert_eq!(
        without(
            &kubelet,
            &[
                "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                "--cert-dir=/var/lib/kubelet/pki"
            ]
        ),
        shipped("kubelet")
    );
    let cp1 = s.root.join("machines/cp1");
    assert!(unit(&cp1, "kube-apiserver").contains("    --enable-bootstrap-token-auth=true \\\n"));
    let cm = unit(&cp1, "kube-controller-manager");
    assert_eq!(
        without(
            &cm,
            &[
                "--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt",
                "--cluster-signing-key-file=/etc/kubernetes/pki/ca.key"
            ]
        ),
        shipped("kube-controller-manager")
    );
    assert_ne!(cm, shipped("kube-controller-manager"));
    assert_eq!(unit(&w1, "kube-proxy"), shipped("kube-proxy"));
}
