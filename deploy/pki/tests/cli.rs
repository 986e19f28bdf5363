//! The `rudder-pki` binary end to end: the tree it lays out, checked with openssl (chain,
//! subjects, SANs, usages), file modes, renew and check, and bad input.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rudder-pki");

fn pki(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run rudder-pki")
}

fn ok(args: &[&str]) -> String {
    let out = pki(args);
    assert!(
        out.status.success(),
        "rudder-pki {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(path: &Path) -> String {
    openssl(&[
        "x509",
        "-noout",
        "-text",
        "-nameopt",
        "RFC2253",
        "-in",
        path.to_str().expect("utf8"),
    ])
}

fn subject(path: &Path) -> String {
    openssl(&[
        "x509",
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
        "-in",
        path.to_str().expect("utf8"),
    ])
    .trim()
    .trim_start_matches("subject=")
    .to_string()
}

fn verify(ca: &Path, leaf: &Path, purpose: &str) {
    let out = openssl(&[
        "verify",
        "-purpose",
        purpose,
        "-CAfile",
        ca.to_str().expect("utf8"),
        leaf.to_str().expect("utf8"),
    ]);
    assert!(out.contains(": OK"), "{out}");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Pull `client-certificate-data` out of a kubeconfig into a PEM file.
fn kubeconfig_cert(conf: &Path, dir: &Path) -> std::path::PathBuf {
    use base64::Engine;
    let text = std::fs::read_to_string(conf).expect("read kubeconfig");
    let b64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-certificate-data: "))
        .expect("client-certificate-data");
    let pem = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    let name = conf.file_name().expect("name").to_string_lossy().into_owned();
    let path = dir.join(format!("{name}.crt"));
    std::fs::write(&path, pem).expect("write");
    path
}

fn init(out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "init",
        "--out",
        out.to_str().expect("utf8"),
        "--control-plane",
        "cp1=10.77.0.11,cp2=10.77.0.12,cp3=10.77.0.13",
        "--workers",
        "w1=10.77.0.21",
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

#[test]
fn init_lays_out_kubeadms_tree_with_upstream_subjects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cluster");
    let log = init(&out, &[]);
    assert!(
        log.contains("Generating \"pki/ca\" certificate authority"),
        "{log}"
    );
    let p = |rel: &str| out.join(rel);

    for rel in [
        "pki/ca.key",
        "pki/apiserver.key",
        "pki/apiserver-kubelet-client.key",
        "pki/front-proxy-ca.key",
        "pki/front-proxy-client.key",
        "pki/etcd/ca.key",
        "pki/etcd/server.key",
        "pki/etcd/peer.key",
        "pki/etcd/healthcheck-client.key",
        "pki/apiserver-etcd-client.key",
        "pki/sa.key",
        "nodes/cp3/pki/etcd/peer.key",
        "admin.conf",
        "super-admin.conf",
        "controller-manager.conf",
        "scheduler.conf",
        "kube-proxy.conf",
        "kubelet-cp1.conf",
        "kubelet-w1.conf",
    ] {
        assert_eq!(mode(&p(rel)), 0o600, "{rel}");
    }
    for rel in ["pki/ca.crt", "pki/apiserver.crt", "pki/sa.pub", "pki/etcd/ca.crt"] {
        assert_eq!(mode(&p(rel)), 0o644, "{rel}");
    }
    assert!(!p("kubelet-w2.conf").exists());

    // The chains, with the purpose each certificate is used for.
    let ca = p("pki/ca.crt");
    let etcd_ca = p("pki/etcd/ca.crt");
    let fp_ca = p("pki/front-proxy-ca.crt");
    let cases: &[(&str, &Path, &str, &str)] = &[
        ("pki/apiserver.crt", &ca, "sslserver", "CN=kube-apiserver"),
        (
            "pki/apiserver-kubelet-client.crt",
            &ca,
            "sslclient",
            "CN=kube-apiserver-kubelet-client,O=system:masters",
        ),
        (
            "pki/front-proxy-client.crt",
            &fp_ca,
            "sslclient",
            "CN=front-proxy-client",
        ),
        ("pki/etcd/server.crt", &etcd_ca, "sslserver", "CN=cp1"),
        ("pki/etcd/server.crt", &etcd_ca, "sslclient", "CN=cp1"),
        ("pki/etcd/peer.crt", &etcd_ca, "sslserver", "CN=cp1"),
        ("pki/etcd/peer.crt", &etcd_ca, "sslclient", "CN=cp1"),
        ("nodes/cp2/pki/etcd/server.crt", &etcd_ca, "sslserver", "CN=cp2"),
        ("nodes/cp3/pki/etcd/peer.crt", &etcd_ca, "sslclient", "CN=cp3"),
        (
            "pki/etcd/healthcheck-client.crt",
            &etcd_ca,
            "sslclient",
            "CN=kube-etcd-healthcheck-client,O=system:masters",
        ),
        (
            "pki/apiserver-etcd-client.crt",
            &etcd_ca,
            "sslclient",
            "CN=kube-apiserver-etcd-client,O=system:masters",
        ),
    ];
    for (rel, ca, purpose, want_subject) in cases {
        verify(ca, &p(rel), purpose);
        assert_eq!(&subject(&p(rel)), want_subject, "{rel}");
    }
    // A leaf of one CA does not verify against another.
    let wrong = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&ca)
        .arg(p("pki/etcd/server.crt"))
        .output()
        .expect("openssl");
    assert!(
        !wrong.status.success(),
        "etcd leaf must not chain to the cluster CA"
    );
    assert_eq!(subject(&ca), "CN=kubernetes");
    assert_eq!(subject(&etcd_ca), "CN=etcd-ca");
    assert_eq!(subject(&fp_ca), "CN=front-proxy-ca");

    let api = text(&p("pki/apiserver.crt"));
    for san in [
        "DNS:kubernetes,",
        "DNS:kubernetes.default,",
        "DNS:kubernetes.default.svc,",
        "DNS:kubernetes.default.svc.cluster.local",
        "DNS:cp1",
        "DNS:cp3",
        "IP Address:10.96.0.1",
        "IP Address:10.77.0.11",
        "IP Address:10.77.0.12",
        "IP Address:10.77.0.13",
    ] {
        assert!(api.contains(san), "apiserver SAN {san} missing:\n{api}");
    }
    assert!(!api.contains("10.77.0.21"), "a worker is not an apiserver");
    let etcd2 = text(&p("nodes/cp2/pki/etcd/server.crt"));
    for san in [
        "DNS:cp2",
        "DNS:localhost",
        "IP Address:10.77.0.12",
        "IP Address:127.0.0.1",
    ] {
        assert!(etcd2.contains(san), "etcd SAN {san} missing:\n{etcd2}");
    }

    // Kubeconfigs: identity, chain, server.
    let certs = dir.path().join("extracted");
    std::fs::create_dir_all(&certs).expect("mkdir");
    let confs = [
        (
            "admin.conf",
            "CN=kubernetes-admin,O=kubeadm:cluster-admins",
            "https://10.77.0.11:6443",
        ),
        (
            "super-admin.conf",
            "CN=kubernetes-super-admin,O=system:masters",
            "https://10.77.0.11:6443",
        ),
        (
            "controller-manager.conf",
            "CN=system:kube-controller-manager",
            "https://127.0.0.1:6443",
        ),
        (
            "scheduler.conf",
            "CN=system:kube-scheduler",
            "https://127.0.0.1:6443",
        ),
        (
            "kube-proxy.conf",
            "CN=system:kube-proxy",
            "https://10.77.0.11:6443",
        ),
        (
            "kubelet-cp2.conf",
            "CN=system:node:cp2,O=system:nodes",
            "https://10.77.0.11:6443",
        ),
        (
            "kubelet-w1.conf",
            "CN=system:node:w1,O=system:nodes",
            "https://10.77.0.11:6443",
        ),
    ];
    for (conf, want_subject, server) in confs {
        let cert = kubeconfig_cert(&p(conf), &certs);
        verify(&ca, &cert, "sslclient");
        assert_eq!(subject(&cert), want_subject, "{conf}");
        let body = std::fs::read_to_string(p(conf)).expect("read");
        assert!(body.contains(&format!("server: {server}\n")), "{conf}: {body}");
    }

    // sa.key and sa.pub are one key pair.
    let from_key = openssl(&["pkey", "-in", p("pki/sa.key").to_str().expect("utf8"), "-pubout"]);
    let public = std::fs::read_to_string(p("pki/sa.pub")).expect("sa.pub");
    assert_eq!(from_key.trim(), public.trim());

    // Running init again reuses everything; adding a worker adds only its kubeconfig.
    let ca_before = std::fs::read(&ca).expect("ca");
    let api_before = std::fs::read(p("pki/apiserver.crt")).expect("api");
    let log = ok(&[
        "init",
        "--out",
        out.to_str().expect("utf8"),
        "--control-plane",
        "cp1=10.77.0.11,cp2=10.77.0.12,cp3=10.77.0.13",
        "--workers",
        "w1=10.77.0.21,w2=10.77.0.22",
    ]);
    assert!(log.contains("Writing \"kubelet-w2.conf\""), "{log}");
    assert!(!log.contains("Generating"), "{log}");
    assert_eq!(std::fs::read(&ca).expect("ca"), ca_before);
    assert_eq!(std::fs::read(p("pki/apiserver.crt")).expect("api"), api_before);
    verify(&ca, &kubeconfig_cert(&p("kubelet-w2.conf"), &certs), "sslclient");

    // A new control-plane address the old apiserver certificate lacks is an error, not a
    // silently incomplete certificate.
    let changed = pki(&[
        "init",
        "--out",
        out.to_str().expect("utf8"),
        "--control-plane",
        "cp1=10.77.0.11,cp2=10.77.0.12,cp3=10.77.0.99",
    ]);
    assert_eq!(changed.status.code(), Some(1));
    let err = String::from_utf8_lossy(&changed.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("pki/apiserver.crt") && err.contains("10.77.0.99"),
        "{err}"
    );
}

#[test]
fn renew_replaces_near_expiry_leaves_and_keeps_the_cas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("c");
    let out_s = out.to_str().expect("utf8");
    // Leaves valid for 10 days: inside a 30-day renewal window.
    init(&out, &["--certificate-validity-period", "240h"]);
    let read = |rel: &str| std::fs::read_to_string(out.join(rel)).expect(rel);
    let cas_before: Vec<String> = [
        "pki/ca.crt",
        "pki/ca.key",
        "pki/etcd/ca.crt",
        "pki/front-proxy-ca.key",
        "pki/sa.key",
    ]
    .iter()
    .map(|f| read(f))
    .collect();
    let api_before = read("pki/apiserver.crt");
    let api_key_before = read("pki/apiserver.key");
    let admin_before = read("admin.conf");

    // Nothing expires within 5 days: nothing is renewed.
    let kept = ok(&["renew", "--out", out_s, "--within", "5d"]);
    assert!(kept.contains("0 of"), "{kept}");
    assert_eq!(read("pki/apiserver.crt"), api_before);

    let renewed = ok(&["renew", "--out", out_s, "--within", "30d"]);
    assert!(renewed.contains("pki/apiserver.crt renewed"), "{renewed}");
    assert!(renewed.contains("admin.conf renewed"), "{renewed}");
    let cas_after: Vec<String> = [
        "pki/ca.crt",
        "pki/ca.key",
        "pki/etcd/ca.crt",
        "pki/front-proxy-ca.key",
        "pki/sa.key",
    ]
    .iter()
    .map(|f| read(f))
    .collect();
    assert_eq!(cas_before, cas_after, "CAs and the SA key are kept");
    assert_ne!(read("pki/apiserver.crt"), api_before);
    assert_ne!(read("pki/apiserver.key"), api_key_before, "a new key");
    assert_ne!(read("admin.conf"), admin_before);
    assert_eq!(mode(&out.join("pki/apiserver.key")), 0o600);
    assert_eq!(mode(&out.join("admin.conf")), 0o600);

    // The new leaves chain to the old CA, with the same subjects and names, a year to live.
    let p = |rel: &str| out.join(rel);
    verify(&p("pki/ca.crt"), &p("pki/apiserver.crt"), "sslserver");
    verify(
        &p("pki/etcd/ca.crt"),
        &p("nodes/cp2/pki/etcd/peer.crt"),
        "sslclient",
    );
    let api = text(&p("pki/apiserver.crt"));
    assert!(api.contains("IP Address:10.77.0.13") && api.contains("DNS:kubernetes.default.svc"));
    let enddate = openssl(&[
        "x509",
        "-noout",
        "-checkend",
        &(300 * 86400).to_string(),
        "-in",
        p("pki/apiserver.crt").to_str().expect("utf8"),
    ]);
    assert!(enddate.contains("will not expire"), "{enddate}");
    let certs = dir.path().join("x");
    std::fs::create_dir_all(&certs).expect("mkdir");
    let admin = kubeconfig_cert(&p("admin.conf"), &certs);
    verify(&p("pki/ca.crt"), &admin, "sslclient");
    assert_eq!(subject(&admin), "CN=kubernetes-admin,O=kubeadm:cluster-admins");
    let kubelet = kubeconfig_cert(&p("kubelet-w1.conf"), &certs);
    assert_eq!(subject(&kubelet), "CN=system:node:w1,O=system:nodes");

    // The key inside the renewed kubeconfig matches its certificate.
    let conf = read("admin.conf");
    let key_b64 = conf
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-key-data: "))
        .expect("key");
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .expect("b64");
    std::fs::write(certs.join("admin.key"), key).expect("write");
    let from_key = openssl(&[
        "pkey",
        "-in",
        certs.join("admin.key").to_str().expect("utf8"),
        "-pubout",
    ]);
    let from_cert = openssl(&["x509", "-noout", "-pubkey", "-in", admin.to_str().expect("utf8")]);
    assert_eq!(from_key, from_cert);

    // check lists every certificate; the renewed ones have about a year left.
    let listing = ok(&["check", "--out", out_s]);
    assert!(listing.starts_with("CERTIFICATE "), "{listing}");
    for name in [
        "admin.conf",
        "apiserver ",
        "etcd/peer",
        "nodes/cp2/pki/etcd/server",
        "front-proxy-ca",
        "etcd/ca",
    ] {
        assert!(listing.contains(name), "{name} missing:\n{listing}");
    }
    let apiserver_row = listing
        .lines()
        .find(|l| l.starts_with("apiserver "))
        .expect("apiserver row");
    assert!(
        apiserver_row.contains("364d") || apiserver_row.contains("365d"),
        "{apiserver_row}"
    );
    assert!(apiserver_row.trim_end().ends_with(" ca"), "{apiserver_row}");
}

#[test]
fn renew_refuses_a_leaf_signed_by_another_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    init(&a, &["--certificate-validity-period", "24h"]);
    init(&b, &[]);
    // b's apiserver certificate, a's CAs.
    for f in ["pki/apiserver.crt", "pki/apiserver.key"] {
        std::fs::copy(b.join(f), a.join(f)).expect("copy");
    }
    let before = std::fs::read(a.join("pki/apiserver.crt")).expect("read");
    let out = pki(&["renew", "--out", a.to_str().expect("utf8"), "--within", "400d"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not signed by"), "{err}");
    assert_eq!(std::fs::read(a.join("pki/apiserver.crt")).expect("read"), before);
}

#[test]
fn bad_input_is_one_line_and_nonzero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("o");
    let out_s = out.to_str().expect("utf8");
    let cases: &[(&[&str], &str)] = &[
        (&["init", "--out", out_s, "--control-plane", "cp1"], "not NAME=IP"),
        (
            &["init", "--out", out_s, "--control-plane", "cp1=10.0.0.300"],
            "not an IP address",
        ),
        (
            &["init", "--out", out_s, "--control-plane", "Cp1=10.0.0.1"],
            "not a valid node name",
        ),
        (
            &[
                "init",
                "--out",
                out_s,
                "--control-plane",
                "a=10.0.0.1",
                "--workers",
                "a=10.0.0.2",
            ],
            "given twice",
        ),
        (
            &[
                "init",
                "--out",
                out_s,
                "--control-plane",
                "a=10.0.0.1",
                "--workers",
                "b=10.0.0.1",
            ],
            "two nodes",
        ),
        (
            &[
                "init",
                "--out",
                out_s,
                "--control-plane",
                "a=10.0.0.1",
                "--service-cidr",
                "10.96/12",
            ],
            "--service-cidr",
        ),
        (&["init", "--out", out_s], "--control-plane"),
        (&["renew", "--out", out_s, "--within", "a month"], "--within"),
        (&["renew", "--out", out_s], "o"),
        (&["check", "--out", out_s], "o"),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let o = pki(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("rudder-pki: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    assert!(!out.exists(), "nothing written on bad input");

    // A half pair on disk is reported, not overwritten.
    init(&out, &[]);
    std::fs::remove_file(out.join("pki/front-proxy-ca.key")).expect("rm");
    let o = pki(&[
        "init",
        "--out",
        out_s,
        "--control-plane",
        "cp1=10.77.0.11,cp2=10.77.0.12,cp3=10.77.0.13",
        "--workers",
        "w1=10.77.0.21",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("front-proxy-ca.crt exists but"), "{err}");
}
