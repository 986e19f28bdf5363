//! Smaller groups: coordination, policy, scheduling, node, certificates, admission
//! registration, flow control, apiserverinternal, resource and storagemigration.

use serde_json::Value;

use super::time::human_duration;
use super::util::{
    NAME_DESC, NONE, UNSET, age, age_col, arr_at, cells, col, get, int_at, int_or_string, len_at,
    list_with_more, name, name_col, opt_int, opt_str, present, str_at,
};
use super::{ColumnDefinition, Printer};

pub(super) fn lookup(group: &str, kind: &str) -> Option<Printer> {
    let p = Printer::new;
    Some(match (group, kind) {
        ("coordination.k8s.io", "Lease") => p(lease_columns, lease_row),
        ("coordination.k8s.io", "LeaseCandidate") => p(lease_candidate_columns, lease_candidate_row),
        ("policy", "PodDisruptionBudget") => p(pdb_columns, pdb_row),
        ("scheduling.k8s.io", "PriorityClass") => p(priority_class_columns, priority_class_row),
        ("node.k8s.io", "RuntimeClass") => p(runtime_class_columns, runtime_class_row),
        ("certificates.k8s.io", "CertificateSigningRequest") => p(csr_columns, csr_row),
        ("certificates.k8s.io", "ClusterTrustBundle") => p(ctb_columns, ctb_row),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => p(webhook_columns, webhook_row),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => p(vap_columns, vap_row),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy") => p(map_columns, map_row),
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding" | "MutatingAdmissionPolicyBinding",
        ) => p(policy_binding_columns, policy_binding_row),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => p(flow_schema_columns, flow_schema_row),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => p(plc_columns, plc_row),
        ("internal.apiserver.k8s.io", "StorageVersion") => p(storage_version_columns, storage_version_row),
        ("resource.k8s.io", "DeviceClass" | "ResourceClaimTemplate") => p(name_age_columns, name_age_row),
        ("resource.k8s.io", "ResourceClaim") => p(resource_claim_columns, resource_claim_row),
        ("resource.k8s.io", "ResourceSlice") => p(resource_slice_columns, resource_slice_row),
        ("storagemigration.k8s.io", "StorageVersionMigration") => p(svm_columns, svm_row),
        _ => return None,
    })
}

fn lease_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Holder",
            "string",
            "holderIdentity contains the identity of the holder of a current lease.",
        ),
        age_col(),
    ]
}

fn lease_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![name(obj), str_at(obj, &["spec", "holderIdentity"]), age(obj, now)]
}

fn lease_candidate_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "LeaseName",
            "string",
            "LeaseName is the name of the lease for which this candidate is contending.",
        ),
        col("BinaryVersion", "string", ""),
        col("EmulationVersion", "string", ""),
        age_col(),
    ]
}

fn lease_candidate_row(obj: &Value, now: i64) -> Vec<Value> {
    let spec = |f: &str| str_at(obj, &["spec", f]).to_string();
    cells![
        name(obj),
        spec("leaseName"),
        spec("binaryVersion"),
        spec("emulationVersion"),
        age(obj, now)
    ]
}

fn pdb_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Min Available",
            "string",
            "The minimum number of pods that must be available.",
        ),
        col(
            "Max Unavailable",
            "string",
            "The maximum number of pods that may be unavailable.",
        ),
        col(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
        ),
        age_col(),
    ]
}

fn pdb_row(obj: &Value, now: i64) -> Vec<Value> {
    let bound = |f: &str| present(obj, &["spec", f]).map_or_else(|| "N/A".to_string(), int_or_string);
    cells![
        name(obj),
        bound("minAvailable"),
        bound("maxUnavailable"),
        int_at(obj, &["status", "disruptionsAllowed"]),
        age(obj, now),
    ]
}

fn priority_class_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Value",
            "integer",
            "value represents the integer value of this priority class.",
        ),
        col(
            "Global-Default",
            "boolean",
            "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.",
        ),
        age_col(),
        col(
            "PreemptionPolicy",
            "string",
            "preemptionPolicy is the Policy for preempting pods with lower priority.",
        ),
    ]
}

fn priority_class_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![
        name(obj),
        int_at(obj, &["value"]),
        super::util::bool_at(obj, &["globalDefault"]),
        age(obj, now),
        str_at(obj, &["preemptionPolicy"]),
    ]
}

fn runtime_class_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Handler",
            "string",
            "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.",
        ),
        age_col(),
    ]
}

fn runtime_class_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![name(obj), str_at(obj, &["handler"]), age(obj, now)]
}

fn csr_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        age_col(),
        col("SignerName", "string", "Requested signer for the request."),
        col("Requestor", "string", "Base64-encoded PKCS#10 CSR data"),
        col(
            "RequestedDuration",
            "string",
            "expirationSeconds is the requested duration of validity of the issued certificate.",
        ),
        col(
            "Condition",
            "string",
            "Conditions applied to the request, such as approval or denial.",
        ),
    ]
}

fn csr_row(obj: &Value, now: i64) -> Vec<Value> {
    let has = |ty: &str| {
        arr_at(obj, &["status", "conditions"])
            .iter()
            .any(|c| str_at(c, &["type"]) == ty)
    };
    let mut status = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !str_at(obj, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    let signer = opt_str(obj, &["spec", "signerName"])
        .filter(|s| !s.is_empty())
        .unwrap_or(NONE);
    let duration =
        opt_int(obj, &["spec", "expirationSeconds"]).map_or_else(|| NONE.to_string(), human_duration);
    cells![
        name(obj),
        age(obj, now),
        signer,
        str_at(obj, &["spec", "username"]),
        duration,
        status
    ]
}

fn ctb_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "SignerName",
            "string",
            "signerName indicates the associated signer, if any.",
        ),
    ]
}

fn ctb_row(obj: &Value, _now: i64) -> Vec<Value> {
    let signer = opt_str(obj, &["spec", "signerName"])
        .filter(|s| !s.is_empty())
        .unwrap_or(NONE);
    cells![name(obj), signer]
}

fn webhook_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Webhooks",
            "integer",
            "Webhooks indicates the number of webhooks registered in this configuration",
        ),
        age_col(),
    ]
}

fn webhook_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![name(obj), len_at(obj, &["webhooks"]) as i64, age(obj, now)]
}

fn param_kind(obj: &Value) -> String {
    present(obj, &["spec", "paramKind"]).map_or_else(
        || UNSET.to_string(),
        |p| format!("{}/{}", str_at(p, &["apiVersion"]), str_at(p, &["kind"])),
    )
}

fn vap_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Validations",
            "integer",
            "Validations indicates the number of validation rules defined in this configuration",
        ),
        col(
            "ParamKind",
            "string",
            "ParamKind specifies the kind of resources used to parameterize this policy",
        ),
        age_col(),
    ]
}

fn vap_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![
        name(obj),
        len_at(obj, &["spec", "validations"]) as i64,
        param_kind(obj),
        age(obj, now)
    ]
}

fn map_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Mutations",
            "integer",
            "Mutation indicates the number of mutations rules defined in this configuration",
        ),
        col(
            "ParamKind",
            "string",
            "ParamKind specifies the kind of resources used to parameterize this policy",
        ),
        age_col(),
    ]
}

fn map_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![
        name(obj),
        len_at(obj, &["spec", "mutations"]) as i64,
        param_kind(obj),
        age(obj, now)
    ]
}

fn policy_binding_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "PolicyName",
            "string",
            "PolicyName indicates the policy definition which the policy binding binded to",
        ),
        col(
            "ParamRef",
            "string",
            "ParamRef indicates the param resource which sets the configration param",
        ),
        age_col(),
    ]
}

/// The Go `(*metav1.LabelSelector).String()` debug format upstream prints for a param selector.
fn go_label_selector_debug(sel: &Value) -> String {
    let mut keys: Vec<(&String, String)> = get(sel, &["matchLabels"])
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k, super::util::scalar_text(v))).collect())
        .unwrap_or_default();
    keys.sort();
    let labels: String = keys.iter().map(|(k, v)| format!("{k}: {v},")).collect();
    let exprs: String = arr_at(sel, &["matchExpressions"])
        .iter()
        .map(|e| {
            let values: Vec<String> = arr_at(e, &["values"])
                .iter()
                .map(super::util::scalar_text)
                .collect();
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
                str_at(e, &["key"]),
                str_at(e, &["operator"]),
                values.join(" ")
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )
}

fn policy_binding_row(obj: &Value, now: i64) -> Vec<Value> {
    let param = match present(obj, &["spec", "paramRef"]) {
        None => UNSET.to_string(),
        Some(pr) => {
            let (ns, pname) = (str_at(pr, &["namespace"]), str_at(pr, &["name"]));
            if !pname.is_empty() {
                if ns.is_empty() {
                    format!("*/{pname}")
                } else {
                    format!("{ns}/{pname}")
                }
            } else if let Some(sel) = present(pr, &["selector"]) {
                go_label_selector_debug(sel)
            } else {
                UNSET.to_string()
            }
        }
    };
    cells![
        name(obj),
        str_at(obj, &["spec", "policyName"]),
        param,
        age(obj, now)
    ]
}

fn flow_schema_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "PriorityLevel",
            "string",
            "`name` is the name of the priority level configuration being referenced Required.",
        ),
        col(
            "MatchingPrecedence",
            "string",
            "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request.",
        ),
        col(
            "DistinguisherMethod",
            "string",
            "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema.",
        ),
        age_col(),
        col(
            "MissingPL",
            "string",
            "references a broken or non-existent PriorityLevelConfiguration",
        ),
    ]
}

fn flow_schema_row(obj: &Value, now: i64) -> Vec<Value> {
    let distinguisher = present(obj, &["spec", "distinguisherMethod"])
        .map_or_else(|| NONE.to_string(), |d| str_at(d, &["type"]).to_string());
    let missing = arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Dangling")
        .map_or("?", |c| str_at(c, &["status"]));
    cells![
        name(obj),
        str_at(obj, &["spec", "priorityLevelConfiguration", "name"]),
        int_at(obj, &["spec", "matchingPrecedence"]),
        distinguisher,
        age(obj, now),
        missing,
    ]
}

fn plc_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Type",
            "string",
            "`type` indicates whether this priority level is subject to limitation on request execution.",
        ),
        col(
            "NominalConcurrencyShares",
            "string",
            "`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level.",
        ),
        col(
            "Queues",
            "string",
            "`queues` is the number of queues for this priority level.",
        ),
        col(
            "HandSize",
            "string",
            "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.",
        ),
        col(
            "QueueLengthLimit",
            "string",
            "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time.",
        ),
        age_col(),
    ]
}

fn plc_row(obj: &Value, now: i64) -> Vec<Value> {
    let none = || Value::from(NONE);
    let (mut ncs, mut queues, mut hand, mut qll) = (none(), none(), none(), none());
    if let Some(limited) = present(obj, &["spec", "limited"]) {
        ncs = Value::from(int_at(limited, &["nominalConcurrencyShares"]));
        if let Some(q) = present(limited, &["limitResponse", "queuing"]) {
            queues = Value::from(int_at(q, &["queues"]));
            hand = Value::from(int_at(q, &["handSize"]));
            qll = Value::from(int_at(q, &["queueLengthLimit"]));
        }
    }
    vec![
        name(obj).into(),
        str_at(obj, &["spec", "type"]).into(),
        ncs,
        queues,
        hand,
        qll,
        age(obj, now).into(),
    ]
}

fn storage_version_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "CommonEncodingVersion",
            "string",
            "If all API server instances agree on the same encoding storage version, then this field is set to that version.",
        ),
        col(
            "StorageVersions",
            "string",
            "The reported versions per API server instance.",
        ),
        age_col(),
    ]
}

fn storage_version_row(obj: &Value, now: i64) -> Vec<Value> {
    const MAX: usize = 3;
    let versions = arr_at(obj, &["status", "storageVersions"]);
    let list: Vec<String> = versions
        .iter()
        .take(MAX)
        .map(|v| {
            format!(
                "{}={}",
                str_at(v, &["apiServerID"]),
                str_at(v, &["encodingVersion"])
            )
        })
        .collect();
    let common = opt_str(obj, &["status", "commonEncodingVersion"]).unwrap_or(UNSET);
    let text = list_with_more(&list, versions.len() > MAX, versions.len(), MAX);
    cells![name(obj), common, text, age(obj, now)]
}

fn name_age_columns() -> Vec<ColumnDefinition> {
    vec![name_col(), age_col()]
}

fn name_age_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![name(obj), age(obj, now)]
}

fn resource_claim_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "State",
            "string",
            "A summary of the current state (allocated, pending, reserved, etc.).",
        ),
        age_col(),
    ]
}

fn resource_claim_row(obj: &Value, now: i64) -> Vec<Value> {
    let deleting = super::util::is_deleting(obj);
    let mut states = Vec::new();
    if deleting {
        states.push("deleted");
    }
    if present(obj, &["status", "allocation"]).is_none() {
        if !deleting {
            states.push("pending");
        }
    } else {
        states.push("allocated");
        if !arr_at(obj, &["status", "reservedFor"]).is_empty() {
            states.push("reserved");
        }
    }
    cells![name(obj), states.join(","), age(obj, now)]
}

fn resource_slice_columns() -> Vec<ColumnDefinition> {
    vec![
        name_col(),
        col(
            "Node",
            "string",
            "NodeName identifies the node which provides the resources in this pool.",
        ),
        col(
            "Driver",
            "string",
            "Driver identifies the DRA driver providing the capacity information.",
        ),
        col("Pool", "string", "Name is used to identify the pool."),
        age_col(),
    ]
}

fn resource_slice_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![
        name(obj),
        str_at(obj, &["spec", "nodeName"]),
        str_at(obj, &["spec", "driver"]),
        str_at(obj, &["spec", "pool", "name"]),
        age(obj, now),
    ]
}

fn svm_columns() -> Vec<ColumnDefinition> {
    vec![
        col("Name", "string", NAME_DESC),
        col("Resource", "string", "Fully qualified resource to migrate"),
    ]
}

fn svm_row(obj: &Value, _now: i64) -> Vec<Value> {
    let r = |f: &str| str_at(obj, &["spec", "resource", f]).to_string();
    cells![
        name(obj),
        format!("{}.{}.{}", r("resource"), r("version"), r("group"))
    ]
}
