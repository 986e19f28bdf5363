//! The parameters of the API operations: path segments and query options, each with the type
//! and description the OpenAPI documents publish.

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Location {
    Path,
    Query,
}

/// One non-body parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Param {
    pub(super) name: &'static str,
    pub(super) location: Location,
    pub(super) description: &'static str,
    /// `string`, `integer` or `boolean`.
    pub(super) ty: &'static str,
    pub(super) required: bool,
}

const fn query(name: &'static str, ty: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: Location::Query,
        description,
        ty,
        required: false,
    }
}

const fn path(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: Location::Path,
        description,
        ty: "string",
        required: true,
    }
}

pub(super) const NAME: Param = path("name", "name of the object");
pub(super) const NAMESPACE: Param = path(
    "namespace",
    "object name and auth scope, such as for teams and projects",
);
pub(super) const PROXY_PATH: Param = path("path", "path to the resource");
pub(super) const PROXY_PATH_QUERY: Param = query(
    "path",
    "string",
    "Path is the URL path to use for the current proxy request.",
);

pub(super) const PRETTY: Param = query("pretty", "string", "Pretty-print the response when 'true'.");
pub(super) const DRY_RUN: Param = query(
    "dryRun",
    "string",
    "Validate and admit the request without persisting anything. The only accepted value is 'All'; \
     any other value is an error.",
);
pub(super) const FIELD_MANAGER: Param = query(
    "fieldManager",
    "string",
    "The name recorded as the manager of the fields this request sets (at most 128 printable \
     characters). Required for apply patches.",
);
pub(super) const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    "string",
    "How the server treats unknown or duplicate fields in the object: 'Ignore' drops them, \
     'Warn' accepts the object with a warning per field, 'Strict' rejects the request listing \
     every such field.",
);
pub(super) const FORCE: Param = query(
    "force",
    "boolean",
    "Take over fields that other managers own when they conflict with an apply patch. Only \
     valid for apply patches.",
);
pub(super) const GRACE_PERIOD_SECONDS: Param = query(
    "gracePeriodSeconds",
    "integer",
    "Seconds to wait before the object is deleted; zero deletes it at once. Unset uses the \
     default of the object's type.",
);
pub(super) const IGNORE_STORE_READ_ERROR: Param = query(
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "boolean",
    "Delete an object that cannot be read back from storage (unsafe: it bypasses finalizers \
     and admission).",
);
pub(super) const ORPHAN_DEPENDENTS: Param = query(
    "orphanDependents",
    "boolean",
    "Deprecated, use propagationPolicy: whether dependents are left behind rather than \
     garbage collected.",
);
pub(super) const PROPAGATION_POLICY: Param = query(
    "propagationPolicy",
    "string",
    "How dependents are garbage collected: 'Orphan', 'Background' or 'Foreground'.",
);
pub(super) const ALLOW_WATCH_BOOKMARKS: Param = query(
    "allowWatchBookmarks",
    "boolean",
    "Ask for BOOKMARK events on a watch; a server may ignore it.",
);
pub(super) const CONTINUE: Param = query(
    "continue",
    "string",
    "The continue token of the previous page of a paginated list.",
);
pub(super) const FIELD_SELECTOR: Param = query(
    "fieldSelector",
    "string",
    "Only return objects whose fields match this selector. Defaults to everything.",
);
pub(super) const LABEL_SELECTOR: Param = query(
    "labelSelector",
    "string",
    "Only return objects whose labels match this selector. Defaults to everything.",
);
pub(super) const LIMIT: Param = query(
    "limit",
    "integer",
    "The most objects to return; when more remain, the list's metadata carries a continue token.",
);
pub(super) const RESOURCE_VERSION: Param = query(
    "resourceVersion",
    "string",
    "The resource version a list or watch is served from, or starts after.",
);
pub(super) const RESOURCE_VERSION_MATCH: Param = query(
    "resourceVersionMatch",
    "string",
    "How resourceVersion applies to a list: 'Exact' or 'NotOlderThan'.",
);
pub(super) const SEND_INITIAL_EVENTS: Param = query(
    "sendInitialEvents",
    "boolean",
    "With watch=true, start the watch with synthetic ADDED events for the current objects, then \
     a bookmark.",
);
pub(super) const TIMEOUT_SECONDS: Param = query(
    "timeoutSeconds",
    "integer",
    "End the list or watch call after this many seconds.",
);
pub(super) const WATCH: Param = query(
    "watch",
    "boolean",
    "Stream add, update and delete events instead of returning a list.",
);

pub(super) const CONTAINER: Param = query(
    "container",
    "string",
    "The container for which to stream logs or run the command.",
);
pub(super) const FOLLOW: Param = query("follow", "boolean", "Follow the log stream of the pod.");
pub(super) const INSECURE_SKIP_TLS_VERIFY_BACKEND: Param = query(
    "insecureSkipTLSVerifyBackend",
    "boolean",
    "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity \
     of the serving certificate of the backend it is connecting to.",
);
pub(super) const LIMIT_BYTES: Param = query(
    "limitBytes",
    "integer",
    "If set, the number of bytes to read from the server before terminating the log output.",
);
pub(super) const PREVIOUS: Param = query(
    "previous",
    "boolean",
    "Return previous terminated container logs. Defaults to false.",
);
pub(super) const SINCE_SECONDS: Param = query(
    "sinceSeconds",
    "integer",
    "A relative time in seconds before the current time from which to show logs.",
);
pub(super) const STREAM: Param = query(
    "stream",
    "string",
    "Specify which container log stream to return to the client: All, Stdout or Stderr.",
);
pub(super) const TAIL_LINES: Param = query(
    "tailLines",
    "integer",
    "If set, the number of lines from the end of the logs to show.",
);
pub(super) const TIMESTAMPS: Param = query(
    "timestamps",
    "boolean",
    "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output.",
);
pub(super) const COMMAND: Param = query("command", "string", "Command is the remote command to execute.");
pub(super) const STDIN: Param = query(
    "stdin",
    "boolean",
    "Redirect the standard input stream of the pod for this call.",
);
pub(super) const STDOUT: Param = query(
    "stdout",
    "boolean",
    "Redirect the standard output stream of the pod for this call.",
);
pub(super) const STDERR: Param = query(
    "stderr",
    "boolean",
    "Redirect the standard error stream of the pod for this call.",
);
pub(super) const TTY: Param = query(
    "tty",
    "boolean",
    "TTY if true indicates that a tty will be allocated for the call.",
);
pub(super) const PORTS: Param = query("ports", "integer", "List of ports to forward.");

/// Options of a list (and watch).
pub(super) const LIST: &[Param] = &[
    ALLOW_WATCH_BOOKMARKS,
    CONTINUE,
    FIELD_SELECTOR,
    LABEL_SELECTOR,
    LIMIT,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
    WATCH,
];
/// Options of a create or a replace.
pub(super) const WRITE: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
/// Options of a patch.
pub(super) const PATCH: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];
/// Options of a delete.
pub(super) const DELETE: &[Param] = &[
    DRY_RUN,
    GRACE_PERIOD_SECONDS,
    IGNORE_STORE_READ_ERROR,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
];
/// Options of a collection delete: a delete's and a list's, without the watch-only ones.
pub(super) const DELETE_COLLECTION: &[Param] = &[
    CONTINUE,
    DRY_RUN,
    FIELD_SELECTOR,
    GRACE_PERIOD_SECONDS,
    IGNORE_STORE_READ_ERROR,
    LABEL_SELECTOR,
    LIMIT,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
];
/// Options of `pods/log`.
pub(super) const LOG: &[Param] = &[
    CONTAINER,
    FOLLOW,
    INSECURE_SKIP_TLS_VERIFY_BACKEND,
    LIMIT_BYTES,
    PREVIOUS,
    SINCE_SECONDS,
    STREAM,
    TAIL_LINES,
    TIMESTAMPS,
];
/// Options of `pods/exec`.
pub(super) const EXEC: &[Param] = &[COMMAND, CONTAINER, STDERR, STDIN, STDOUT, TTY];
/// Options of `pods/attach`.
pub(super) const ATTACH: &[Param] = &[CONTAINER, STDERR, STDIN, STDOUT, TTY];
/// Options of `pods/portforward`.
pub(super) const PORTFORWARD: &[Param] = &[PORTS];
