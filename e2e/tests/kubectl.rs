//! Stock kubectl (1.27, 1.30, 1.33) against the real kube-apiserver binary, on the embedded store
//! and on etcd: discovery, reads, writes, patches, watch, delete and error texts.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use rudder_e2e::{ApiServer, Backend, Kubectl, kubectl_versions};

const VERSIONS: &[&str] = &["1.27", "1.30", "1.33"];

const MANIFEST: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: Pod
metadata:
  name: solo
  labels: {app: solo}
spec:
  containers:
  - name: main
    image: busybox:1.36
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: s3cret
"#;

fn kubectls(server: &ApiServer) -> Vec<Kubectl> {
    let mut found = kubectl_versions(VERSIONS);
    if found.is_empty() {
        // A fresh machine has one stock kubectl (scripts/install-deps.sh); test whatever it is.
        found = rudder_e2e::kubectl_versions(&[
            "1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36",
        ]);
    }
    let missing: Vec<_> = VERSIONS
        .iter()
        .filter(|v| !found.iter().any(|(f, _)| f == *v))
        .collect();
    assert!(
        !found.is_empty(),
        "no stock kubectl.{{{}}} binaries found beside `kubectl`",
        VERSIONS.join(",")
    );
    if !missing.is_empty() {
        eprintln!("NOTE: kubectl versions not installed here, not tested: {missing:?}");
    }
    found
        .iter()
        .map(|(v, bin)| Kubectl::new(v, bin, server))
        .collect()
}

fn suite(backend: Backend) {
    let server = ApiServer::start(backend);
    for k in kubectls(&server) {
        let ns = format!("e2e-{}", k.version.replace('.', "-"));
        run_version(&k, &ns);
    }
    let log = server.log();
    assert!(!log.contains("panicked"), "the apiserver panicked:\n{log}");
}

fn run_version(k: &Kubectl, ns: &str) {
    let version = k.ok(&["version", "-o", "json"]);
    assert!(
        version.contains(r#""gitVersion": "v1.33.0""#),
        "server version missing:\n{version}"
    );

    let resources = k.ok(&["api-resources"]);
    for line in [
        "deployments",
        "deploy",
        "apps/v1",
        "pods",
        "po",
        "namespaces",
        "ns",
        "leases",
    ] {
        assert!(
            resources.contains(line),
            "api-resources lacks {line}:\n{resources}"
        );
    }

    let namespaces = k.ok(&["get", "ns"]);
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(namespaces.contains(name), "get ns lacks {name}:\n{namespaces}");
    }
    assert!(namespaces.contains("Active"));

    // `kubectl create namespace` sends a protobuf body from 1.32 on (served by the next apiserver
    // issue); a manifest goes as JSON on every version.
    let ns_manifest = k.file(
        "ns.yaml",
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
    );
    k.ok(&[
        "create",
        "-f",
        ns_manifest.to_str().unwrap_or_default(),
        "--validate=false",
    ]);
    let manifest = k.file("app.yaml", MANIFEST);
    let created = k.ok(&[
        "create",
        "-n",
        ns,
        "-f",
        manifest.to_str().unwrap_or_default(),
        "--validate=false",
    ]);
    for line in [
        "deployment.apps/web created",
        "service/web created",
        "configmap/settings created",
        "secret/creds created",
    ] {
        assert!(created.contains(line), "create output lacks {line:?}:\n{created}");
    }

    // Generators: kubectl >= 1.32 sends these bodies as protobuf.
    k.ok(&["create", "configmap", "generated", "-n", ns, "--from-literal=a=b"]);
    k.ok(&[
        "create",
        "secret",
        "generic",
        "gen-secret",
        "-n",
        ns,
        "--from-literal=p=q",
    ]);
    k.ok(&[
        "create",
        "deployment",
        "gen-deploy",
        "-n",
        ns,
        "--image=busybox:1.36",
    ]);
    let generated = k.ok(&["get", "cm", "generated", "-n", ns, "-o", "jsonpath={.data.a}"]);
    assert_eq!(generated, "b");
    let image = k.ok(&[
        "get",
        "deploy",
        "gen-deploy",
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "busybox:1.36");

    let all = k.ok(&["get", "all", "-n", ns]);
    assert!(
        all.contains("deployment.apps/web") && all.contains("service/web"),
        "get all:\n{all}"
    );
    assert!(all.contains("ClusterIP"), "services show their type:\n{all}");

    let pods = k.ok(&["get", "pods", "-A", "-o", "wide", "--show-labels"]);
    assert!(
        pods.contains(ns) && pods.contains("solo") && pods.contains("Pending") && pods.contains("app=solo"),
        "pods:\n{pods}"
    );
    let wide = k.ok(&["get", "deploy", "-A", "-o", "wide", "--show-labels"]);
    assert!(
        wide.contains(ns) && wide.contains("app=web") && wide.contains("busybox:1.36"),
        "wide:\n{wide}"
    );
    assert!(
        wide.starts_with("NAMESPACE"),
        "-A adds the namespace column:\n{wide}"
    );

    let yaml = k.ok(&["get", "deploy", "web", "-n", ns, "-o", "yaml"]);
    for field in [
        "uid:",
        "resourceVersion:",
        "creationTimestamp:",
        "generation: 1",
        "replicas: 2",
    ] {
        assert!(yaml.contains(field), "-o yaml lacks {field}:\n{yaml}");
    }
    let secret = k.ok(&[
        "get",
        "secret",
        "creds",
        "-n",
        ns,
        "-o",
        "jsonpath={.data.password}",
    ]);
    assert_eq!(secret, "czNjcmV0", "stringData is stored base64-encoded in data");

    let describe = k.ok(&["describe", "cm", "settings", "-n", ns]);
    assert!(
        describe.contains("Name:") && describe.contains("mode"),
        "describe:\n{describe}"
    );

    k.ok(&["label", "cm", "settings", "-n", ns, "tier=backend"]);
    k.ok(&["annotate", "cm", "settings", "-n", ns, "note=hello"]);
    let labelled = k.ok(&["get", "cm", "-n", ns, "-l", "tier=backend", "-o", "name"]);
    assert_eq!(labelled.trim(), "configmap/settings");
    let selected = k.ok(&[
        "get",
        "cm",
        "-n",
        ns,
        "--field-selector",
        "metadata.name=settings",
        "-o",
        "name",
    ]);
    assert_eq!(selected.trim(), "configmap/settings");

    let scaled = k.ok(&["scale", "deploy", "web", "-n", ns, "--replicas=3"]);
    assert!(scaled.contains("scaled"), "scale:\n{scaled}");
    let replicas = k.ok(&[
        "get",
        "deploy",
        "web",
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.replicas} {.metadata.generation}",
    ]);
    assert_eq!(
        replicas, "3 2",
        "scale changed replicas and bumped the generation"
    );

    k.ok(&[
        "patch",
        "cm",
        "settings",
        "-n",
        ns,
        "--type=merge",
        "-p",
        r#"{"data":{"mode":"merge"}}"#,
    ]);
    k.ok(&[
        "patch",
        "cm",
        "settings",
        "-n",
        ns,
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/data/extra","value":"json"}]"#,
    ]);
    k.ok(&[
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:1.37"}]}}}}"#,
    ]);
    let data = k.ok(&[
        "get",
        "cm",
        "settings",
        "-n",
        ns,
        "-o",
        "jsonpath={.data.mode},{.data.extra}",
    ]);
    assert_eq!(data, "merge,json");
    let image = k.ok(&["get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}"]);
    assert_eq!(
        image, "busybox:1.37 80",
        "a strategic merge patch merges containers by name"
    );

    // Default validation needs the OpenAPI documents (next apiserver issue).
    let mut edit = k.command(&["edit", "cm", "settings", "-n", ns, "--validate=false"]);
    edit.env("EDITOR", "sed -i -e s/mode:\\ merge/mode:\\ edited/");
    let edited = edit.stdin(Stdio::null()).output().expect("kubectl edit");
    assert!(
        edited.status.success(),
        "edit failed: {}",
        String::from_utf8_lossy(&edited.stderr)
    );
    assert_eq!(
        k.ok(&["get", "cm", "settings", "-n", ns, "-o", "jsonpath={.data.mode}"]),
        "edited"
    );

    watch_sees_a_change(k, ns);

    let missing = k.fails(&["get", "cm", "nope", "-n", ns]);
    assert!(
        missing.contains(r#"Error from server (NotFound): configmaps "nope" not found"#),
        "missing object error:\n{missing}"
    );
    let bad = k.file(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n",
    );
    let invalid = k.fails(&[
        "create",
        "-n",
        ns,
        "-f",
        bad.to_str().unwrap_or_default(),
        "--validate=false",
    ]);
    assert!(
        invalid.contains(r#"The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#),
        "invalid object error:\n{invalid}"
    );

    k.ok(&["delete", "cm", "settings", "-n", ns]);
    k.ok(&["wait", "--for=delete", "cm/settings", "-n", ns, "--timeout=10s"]);
    k.ok(&["delete", "deploy", "web", "-n", ns, "--wait=false"]);
    let gone = k.fails(&["get", "deploy", "web", "-n", ns]);
    assert!(gone.contains("NotFound"));
}

/// `kubectl get -w` prints the initial row, then a change made by another kubectl.
fn watch_sees_a_change(k: &Kubectl, ns: &str) {
    let mut watch = k
        .command(&[
            "get",
            "cm",
            "settings",
            "-n",
            ns,
            "-w",
            "--output-watch-events",
            "--request-timeout=30s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("initial watch output");
    assert!(
        first.contains("EVENT") || first.contains("ADDED"),
        "first watch line: {first}"
    );
    k.ok(&["label", "cm", "settings", "-n", ns, "watched=yes"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains("MODIFIED") => {
                let _ = watch.kill();
                let _ = watch.wait();
                return;
            }
            Ok(line) => seen.push(line),
            Err(_) => {}
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    panic!(
        "kubectl {} get -w never showed the change; saw {seen:?}",
        k.version
    );
}

#[test]
fn kubectl_against_the_embedded_store() {
    suite(Backend::Embedded);
}

#[test]
fn kubectl_against_etcd() {
    suite(Backend::Etcd);
}

const APPLY_VERSIONS: &[&str] = &["1.27", "1.29", "1.31", "1.33"];

const APPLY_MANIFEST: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
data:
  mode: one
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: applied
spec:
  replicas: 1
  selector:
    matchLabels: {app: applied}
  template:
    metadata:
      labels: {app: applied}
    spec:
      containers:
      - name: main
        image: busybox:1.36
"#;

/// The write paths that need OpenAPI and server-side apply, with default validation.
#[test]
fn kubectl_apply_diff_explain_with_default_validation() {
    let server = ApiServer::start(Backend::Embedded);
    let found = kubectl_versions(APPLY_VERSIONS);
    assert!(!found.is_empty(), "no stock kubectl found");
    for (version, bin) in &found {
        let k = Kubectl::new(version, bin, &server);
        let ns = format!("apply-{}", version.replace('.', "-"));
        let ns_manifest = k.file(
            "ns.yaml",
            &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
        );
        k.ok(&["apply", "-f", ns_manifest.to_str().unwrap_or_default()]);
        let manifest = k.file("apply.yaml", APPLY_MANIFEST);
        let path = manifest.to_str().unwrap_or_default();
        let first = k.ok(&["apply", "-n", &ns, "-f", path]);
        assert!(
            first.contains("configmap/applied created"),
            "first apply:\n{first}"
        );
        let second = k.ok(&["apply", "-n", &ns, "-f", path]);
        assert!(
            second.contains("configmap/applied unchanged"),
            "second apply:\n{second}"
        );

        let changed = k.file("apply2.yaml", &APPLY_MANIFEST.replace("mode: one", "mode: two"));
        let changed = changed.to_str().unwrap_or_default();
        let diff = k.output(&["diff", "-n", &ns, "-f", changed]);
        assert_eq!(
            diff.status.code(),
            Some(1),
            "diff finds the change: {}",
            String::from_utf8_lossy(&diff.stderr)
        );
        assert!(String::from_utf8_lossy(&diff.stdout).contains("+  mode: two"));
        let third = k.ok(&["apply", "-n", &ns, "-f", changed]);
        assert!(
            third.contains("configmap/applied configured"),
            "changed apply:\n{third}"
        );

        let ssa = k.ok(&[
            "apply",
            "--server-side",
            "--field-manager=team-a",
            "-n",
            &ns,
            "-f",
            changed,
        ]);
        assert!(ssa.contains("serverside-applied"), "server-side apply:\n{ssa}");
        let other = k.file("apply3.yaml", &APPLY_MANIFEST.replace("mode: one", "mode: three"));
        let conflict = k.fails(&[
            "apply",
            "--server-side",
            "--field-manager=team-b",
            "-n",
            &ns,
            "-f",
            other.to_str().unwrap_or_default(),
        ]);
        assert!(
            conflict.contains("Apply failed with") && conflict.contains("team-a"),
            "conflict:\n{conflict}"
        );

        let explain = k.ok(&["explain", "pods.spec.containers.resources"]);
        assert!(
            explain.contains("limits") && explain.contains("requests"),
            "explain:\n{explain}"
        );
    }
}

const VALIDATION_VERSIONS: &[&str] = &["1.27", "1.33"];

const UNKNOWN_FIELD_MANIFEST: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: strict
spec:
  replicas: 1
  foo: bar
  selector:
    matchLabels: {app: strict}
  template:
    metadata:
      labels: {app: strict}
    spec:
      containers:
      - name: main
        image: busybox:1.36
"#;

/// Server-side field validation (kubectl's default `--validate=strict` sends
/// `fieldValidation=Strict`), `--validate=warn`, server dry runs, and the managedFields of
/// ordinary writes as `get --show-managed-fields` prints them.
#[test]
fn kubectl_field_validation_dry_run_and_managed_fields() {
    let server = ApiServer::start(Backend::Embedded);
    let found = kubectl_versions(VALIDATION_VERSIONS);
    assert!(!found.is_empty(), "no stock kubectl found");
    for (version, bin) in &found {
        let k = Kubectl::new(version, bin, &server);
        let ns = format!("strict-{}", version.replace('.', "-"));
        k.ok(&["create", "namespace", &ns]);
        let manifest = k.file("strict.yaml", UNKNOWN_FIELD_MANIFEST);
        let path = manifest.to_str().unwrap_or_default();

        let refused = k.fails(&["apply", "-n", &ns, "-f", path]);
        assert!(
            refused.contains(r#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo""#),
            "strict apply:\n{refused}"
        );
        let out = k.output(&["apply", "-n", &ns, "-f", path, "--validate=warn"]);
        assert!(
            out.status.success(),
            "warn apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(r#"Warning: unknown field "spec.foo""#),
            "warn apply:\n{stderr}"
        );
        let spec = k.ok(&["get", "deploy", "strict", "-n", &ns, "-o", "jsonpath={.spec}"]);
        assert!(!spec.contains("foo"), "unknown fields are dropped: {spec}");
        // The existing object is patched: the patch path validates too.
        let refused = k.fails(&["apply", "-n", &ns, "-f", path]);
        assert!(
            refused.contains(r#"strict decoding error: unknown field "spec.foo""#),
            "strict apply patch:\n{refused}"
        );

        // Server dry run: the answer, nothing stored.
        let dry = k.ok(&[
            "create",
            "configmap",
            "dry",
            "-n",
            &ns,
            "--from-literal=a=b",
            "--dry-run=server",
        ]);
        assert!(dry.contains("configmap/dry created (server dry run)"), "{dry}");
        k.fails(&["get", "configmap", "dry", "-n", &ns]);

        // managedFields of ordinary writes.
        k.ok(&["label", "deploy", "strict", "-n", &ns, "tier=fe"]);
        let yaml = k.ok(&[
            "get",
            "deploy",
            "strict",
            "-n",
            &ns,
            "-o",
            "yaml",
            "--show-managed-fields",
        ]);
        for expected in [
            "manager: kubectl-client-side-apply",
            "manager: kubectl-label",
            "operation: Update",
            "f:tier: {}",
            "f:resources: {}",
        ] {
            assert!(yaml.contains(expected), "missing {expected:?} in:\n{yaml}");
        }
        let plain = k.ok(&["get", "deploy", "strict", "-n", &ns, "-o", "yaml"]);
        assert!(!plain.contains("managedFields"), "hidden by default:\n{plain}");
    }
}
