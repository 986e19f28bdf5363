//! Stock kubectl with a CustomResourceDefinition against the real kube-apiserver binary: the
//! definition applied and established, custom objects applied (created, unchanged, configured)
//! with default client-side and server-side validation, printer columns, `explain` from the
//! published schema, schema errors as upstream words them, status and scale subresources.

use rudder_e2e::{ApiServer, Backend, Kubectl, kubectl_versions};

const VERSIONS: &[&str] = &["1.27", "1.29", "1.31", "1.33"];

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size:
                type: string
                description: How big the widget is.
                enum: [small, large]
              replicas: {type: integer, minimum: 0, default: 1}
          status:
            type: object
            properties:
              replicas: {type: integer}
"#;

const WIDGET: &str = r#"
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
spec:
  size: small
"#;

#[test]
fn kubectl_custom_resources_with_default_validation() {
    let server = ApiServer::start(Backend::Embedded);
    let found = kubectl_versions(VERSIONS);
    assert!(!found.is_empty(), "no stock kubectl found");
    let missing: Vec<_> = VERSIONS
        .iter()
        .filter(|v| !found.iter().any(|(f, _)| f == *v))
        .collect();
    if !missing.is_empty() {
        eprintln!("NOTE: kubectl versions not installed here, not tested: {missing:?}");
    }
    let first = Kubectl::new(&found[0].0, &found[0].1, &server);
    let crd = first.file("crd.yaml", CRD);
    let applied = first.ok(&["apply", "-f", crd.to_str().unwrap_or_default()]);
    assert!(applied.contains("widgets.example.com created"), "{applied}");
    first.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=20s",
        "crd/widgets.example.com",
    ]);
    for (version, bin) in &found {
        let k = Kubectl::new(version, bin, &server);
        run_version(&k, &format!("crd-{}", version.replace('.', "-")));
    }
    let log = server.log();
    assert!(!log.contains("panicked"), "the apiserver panicked:\n{log}");
}

fn run_version(k: &Kubectl, ns: &str) {
    k.ok(&["create", "namespace", ns]);
    let widget = k.file("widget.yaml", WIDGET);
    let path = widget.to_str().unwrap_or_default();
    let created = k.ok(&["apply", "-n", ns, "-f", path]);
    assert!(
        created.contains("widget.example.com/w1 created"),
        "{}: {created}",
        k.version
    );
    let unchanged = k.ok(&["apply", "-n", ns, "-f", path]);
    assert!(
        unchanged.contains("widget.example.com/w1 unchanged"),
        "{}: {unchanged}",
        k.version
    );
    let bigger = k.file("widget2.yaml", &WIDGET.replace("size: small", "size: large"));
    let configured = k.ok(&["apply", "-n", ns, "-f", bigger.to_str().unwrap_or_default()]);
    assert!(
        configured.contains("widget.example.com/w1 configured"),
        "{}: {configured}",
        k.version
    );

    let table = k.ok(&["get", "wd", "-n", ns]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("SIZE") && lines[0].contains("REPLICAS"),
        "{}: {table}",
        k.version
    );
    assert!(
        lines[1].contains("large") && lines[1].contains('1'),
        "defaulted replicas: {table}"
    );

    let explain = k.ok(&["explain", "widgets.spec"]);
    assert!(
        explain.contains("size") && explain.contains("replicas"),
        "{}: explain:\n{explain}",
        k.version
    );
    let field = k.ok(&["explain", "widgets.spec.size"]);
    assert!(field.contains("How big the widget is."), "{}: {field}", k.version);

    let unknown = k.file(
        "unknown.yaml",
        &WIDGET.replace("size: small", "size: small\n  color: red"),
    );
    let err = k.fails(&["apply", "-n", ns, "-f", unknown.to_str().unwrap_or_default()]);
    assert!(
        err.contains("unknown field") && err.contains("color"),
        "{}: {err}",
        k.version
    );

    let bad = k.file("bad.yaml", &WIDGET.replace("size: small", "size: huge"));
    let err = k.fails(&[
        "create",
        "-n",
        ns,
        "-f",
        bad.to_str().unwrap_or_default(),
        "--validate=false",
    ]);
    assert!(
        err.contains(r#"spec.size: Unsupported value: "huge": supported values: "small", "large""#),
        "{}: {err}",
        k.version
    );

    let ssa = k.ok(&["apply", "--server-side", "-n", ns, "-f", path]);
    assert!(ssa.contains("serverside-applied"), "{}: {ssa}", k.version);

    let scaled = k.ok(&["scale", "-n", ns, "widget/w1", "--replicas=3"]);
    assert!(scaled.contains("scaled"), "{}: {scaled}", k.version);
    let replicas = k.ok(&["get", "-n", ns, "widget/w1", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas.trim(), "3");
    let deleted = k.ok(&["delete", "-n", ns, "widget/w1"]);
    assert!(deleted.contains("deleted"), "{}: {deleted}", k.version);
}
