//! Identity, access and API-extension groups: `authentication.k8s.io`, `authorization.k8s.io`,
//! `certificates.k8s.io`, `rbac.authorization.k8s.io`, `admissionregistration.k8s.io` and
//! `apiextensions.k8s.io`, all `v1`.

use super::{
    ALL_VERBS, CATEGORY_API_EXTENSIONS, CREATE_ONLY, GET_PATCH_UPDATE, ResourceInfo, SubresourceInfo,
};

/// A create-only review resource: never stored, no subresources, no selectors.
const fn review(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
) -> ResourceInfo {
    ResourceInfo {
        group,
        version: "v1",
        kind,
        plural,
        singular,
        namespaced,
        verbs: CREATE_ONLY,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage_prefix: "",
        field_selectors: &[],
    }
}

/// A plain cluster-scoped or namespaced object of `group`/`v1` with all verbs and nothing else.
const fn plain(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    storage_prefix: &'static str,
) -> ResourceInfo {
    ResourceInfo {
        group,
        version: "v1",
        kind,
        plural,
        singular,
        namespaced,
        verbs: ALL_VERBS,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage_prefix,
        field_selectors: &[],
    }
}

const AUTHN: &str = "authentication.k8s.io";
const AUTHZ: &str = "authorization.k8s.io";
const RBAC: &str = "rbac.authorization.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";

pub(super) const SELFSUBJECTREVIEWS: ResourceInfo = review(
    AUTHN,
    "SelfSubjectReview",
    "selfsubjectreviews",
    "selfsubjectreview",
    false,
);
pub(super) const TOKENREVIEWS: ResourceInfo =
    review(AUTHN, "TokenReview", "tokenreviews", "tokenreview", false);

pub(super) const LOCALSUBJECTACCESSREVIEWS: ResourceInfo = review(
    AUTHZ,
    "LocalSubjectAccessReview",
    "localsubjectaccessreviews",
    "localsubjectaccessreview",
    true,
);
pub(super) const SELFSUBJECTACCESSREVIEWS: ResourceInfo = review(
    AUTHZ,
    "SelfSubjectAccessReview",
    "selfsubjectaccessreviews",
    "selfsubjectaccessreview",
    false,
);
pub(super) const SELFSUBJECTRULESREVIEWS: ResourceInfo = review(
    AUTHZ,
    "SelfSubjectRulesReview",
    "selfsubjectrulesreviews",
    "selfsubjectrulesreview",
    false,
);
pub(super) const SUBJECTACCESSREVIEWS: ResourceInfo = review(
    AUTHZ,
    "SubjectAccessReview",
    "subjectaccessreviews",
    "subjectaccessreview",
    false,
);

pub(super) const CERTIFICATESIGNINGREQUESTS: ResourceInfo = ResourceInfo {
    group: "certificates.k8s.io",
    version: "v1",
    kind: "CertificateSigningRequest",
    plural: "certificatesigningrequests",
    singular: "certificatesigningrequest",
    namespaced: false,
    verbs: ALL_VERBS,
    short_names: &["csr"],
    categories: &[],
    subresources: &[
        SubresourceInfo {
            name: "approval",
            group: "certificates.k8s.io",
            version: "v1",
            kind: "CertificateSigningRequest",
            verbs: GET_PATCH_UPDATE,
        },
        SubresourceInfo::status("certificates.k8s.io", "v1", "CertificateSigningRequest"),
    ],
    storage_prefix: "/certificatesigningrequests",
    field_selectors: &["spec.signerName"],
};

pub(super) const ROLES: ResourceInfo = plain(RBAC, "Role", "roles", "role", true, "/roles");
pub(super) const ROLEBINDINGS: ResourceInfo = plain(
    RBAC,
    "RoleBinding",
    "rolebindings",
    "rolebinding",
    true,
    "/rolebindings",
);
pub(super) const CLUSTERROLES: ResourceInfo = plain(
    RBAC,
    "ClusterRole",
    "clusterroles",
    "clusterrole",
    false,
    "/clusterroles",
);
pub(super) const CLUSTERROLEBINDINGS: ResourceInfo = plain(
    RBAC,
    "ClusterRoleBinding",
    "clusterrolebindings",
    "clusterrolebinding",
    false,
    "/clusterrolebindings",
);

pub(super) const MUTATINGWEBHOOKCONFIGURATIONS: ResourceInfo = ResourceInfo {
    categories: CATEGORY_API_EXTENSIONS,
    ..plain(
        ADMISSION,
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        false,
        "/mutatingwebhookconfigurations",
    )
};

pub(super) const VALIDATINGWEBHOOKCONFIGURATIONS: ResourceInfo = ResourceInfo {
    categories: CATEGORY_API_EXTENSIONS,
    ..plain(
        ADMISSION,
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        false,
        "/validatingwebhookconfigurations",
    )
};

/// GA in 1.30; the policy's status carries its typeChecking.
pub(super) const VALIDATINGADMISSIONPOLICIES: ResourceInfo = ResourceInfo {
    categories: CATEGORY_API_EXTENSIONS,
    subresources: &[SubresourceInfo::status(
        ADMISSION,
        "v1",
        "ValidatingAdmissionPolicy",
    )],
    ..plain(
        ADMISSION,
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        "validatingadmissionpolicy",
        false,
        "/validatingadmissionpolicies",
    )
};

pub(super) const VALIDATINGADMISSIONPOLICYBINDINGS: ResourceInfo = ResourceInfo {
    categories: CATEGORY_API_EXTENSIONS,
    ..plain(
        ADMISSION,
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        "validatingadmissionpolicybinding",
        false,
        "/validatingadmissionpolicybindings",
    )
};

pub(super) const CUSTOMRESOURCEDEFINITIONS: ResourceInfo = ResourceInfo {
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    singular: "customresourcedefinition",
    namespaced: false,
    verbs: ALL_VERBS,
    short_names: &["crd", "crds"],
    categories: CATEGORY_API_EXTENSIONS,
    subresources: &[SubresourceInfo::status(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
    )],
    // The apiextensions server prefixes its keys with the group.
    storage_prefix: "/apiextensions.k8s.io/customresourcedefinitions",
    field_selectors: &[],
};
