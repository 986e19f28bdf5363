#!/usr/bin/env python3
"""Generates `messages.rs`: the protobuf schema of every message in the API packages Rudder serves.

Each message's fields come from upstream's `generated.proto` (field number, proto type,
repeated/map), joined with the Go struct of the same name (`types.go`), which holds what the
proto file does not: the JSON name (`x-kubernetes-list-type` is `xKubernetesListType` in proto),
`omitempty`, whether the Go field is a pointer (a present zero value means "set to zero", not
"unset"), `json:",inline"` embedding and `json:"-"`.

Usage: gen_schema.py <dir with api/, apimachinery/, apiextensions-apiserver/> messages/
where the three directories are checkouts of kubernetes/api, kubernetes/apimachinery and
kubernetes/apiextensions-apiserver at the same release tag (`git archive v0.33.13`). It writes
one file per API group into messages/ (`core.rs`, `apps.rs`, ...) and `messages/mod.rs`, which
joins them into one sorted table. `gen_schema.py --split messages.rs messages/` re-splits a
table written as one file (the generator's own intermediate form).
"""

import os
import re
import sys

# Proto package -> directory holding generated.proto and the Go types, relative to the root.
PACKAGES = {
    "k8s.io.apimachinery.pkg.apis.meta.v1": "apimachinery/pkg/apis/meta/v1",
    "k8s.io.apimachinery.pkg.runtime": "apimachinery/pkg/runtime",
    "k8s.io.apimachinery.pkg.runtime.schema": "apimachinery/pkg/runtime/schema",
    "k8s.io.apimachinery.pkg.api.resource": "apimachinery/pkg/api/resource",
    "k8s.io.apimachinery.pkg.util.intstr": "apimachinery/pkg/util/intstr",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1":
        "apiextensions-apiserver/pkg/apis/apiextensions/v1",
}
for gv in [
    "admissionregistration/v1", "apps/v1", "authentication/v1", "authorization/v1",
    "autoscaling/v1", "autoscaling/v2", "batch/v1", "certificates/v1", "coordination/v1",
    "core/v1", "discovery/v1", "events/v1", "networking/v1", "node/v1", "policy/v1", "rbac/v1",
    "scheduling/v1", "storage/v1",
]:
    PACKAGES["k8s.io.api." + gv.replace("/", ".")] = "api/" + gv

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
# Messages whose JSON form is not their fields (custom MarshalJSON upstream).
SPECIAL = {
    META + "Time": "Time",
    META + "MicroTime": "MicroTime",
    META + "Duration": "Duration",
    META + "FieldsV1": "RawJson",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawJson",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": "Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON": "RawJson",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray":
        "SchemaOrArray",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool":
        "SchemaOrBool",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray":
        "SchemaOrStringArray",
}

# Messages without a Go struct of their own, whose proto field names are their JSON names.
NO_GO_STRUCT = {
    "k8s.io.api.core.v1.List",  # `type List metav1.List`
}

SCALARS = {
    "string": "String",
    "bytes": "Bytes",
    "bool": "Bool",
    "int32": "Int32",
    "int64": "Int64",
    "double": "Double",
}

FIELD_RE = re.compile(r"^\s*(optional|repeated)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP_RE = re.compile(r"^\s*map<\s*(\S+)\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")


def parse_proto(path):
    """Returns (package, {name: {"nullable": bool, "fields": [...]}})."""
    package = None
    messages = {}
    comments = []
    current = None
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith("//"):
                comments.append(s)
                continue
            if s.startswith("package "):
                package = s[len("package "):].rstrip(";").strip()
            elif s.startswith("message "):
                name = s.split()[1]
                current = {"nullable": any("+protobuf.nullable=true" in c for c in comments),
                           "fields": []}
                messages[name] = current
            elif s == "}":
                current = None
            elif current is not None and s:
                m = FIELD_RE.match(s)
                if m:
                    label, ty, name, num = m.groups()
                    current["fields"].append({"label": label, "type": ty, "name": name,
                                              "number": int(num)})
                else:
                    m = MAP_RE.match(s)
                    if not m:
                        sys.exit(f"{path}: cannot parse field line {s!r}")
                    key, val, name, num = m.groups()
                    if key != "string":
                        sys.exit(f"{path}: map key {key} unsupported")
                    current["fields"].append({"label": "map", "type": val, "name": name,
                                              "number": int(num)})
            if s and not s.startswith("//"):
                comments = []
    return package, messages


STRUCT_RE = re.compile(r"^type\s+(\w+)\s+struct\s*{")
TAG_RE = re.compile(r'(\w+):"([^"]*)"')


def parse_go(directory):
    """Returns {struct name: {proto field number: go field info}}."""
    structs = {}
    for fname in sorted(os.listdir(directory)):
        if not fname.endswith(".go") or fname.endswith("_test.go"):
            continue
        if fname.startswith("zz_generated") or fname == "generated.pb.go":
            continue
        with open(os.path.join(directory, fname)) as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            m = STRUCT_RE.match(lines[i])
            i += 1
            if not m:
                continue
            if lines[i - 1].rstrip().endswith("}"):  # `type X struct{}`
                structs[m.group(1)] = {}
                continue
            fields = {}
            structs[m.group(1)] = fields
            while i < len(lines) and not lines[i].startswith("}"):
                line = lines[i].strip()
                i += 1
                if line.startswith("//") or "`" not in line:
                    continue
                pre, tag = line.split("`")[0], line.split("`")[1]
                tags = dict(TAG_RE.findall(tag))
                if "protobuf" not in tags or tags["protobuf"] == "-":
                    continue
                words = pre.split()
                if len(words) == 1:
                    go_name, go_type = words[0].lstrip("*").split(".")[-1], words[0]
                elif len(words) == 2:
                    go_name, go_type = words
                else:
                    sys.exit(f"{directory}/{fname}: cannot parse Go field {line!r}")
                pb = tags["protobuf"].split(",")
                number = int(pb[1])
                pb_name = next((p[5:] for p in pb if p.startswith("name=")), None)
                json_tag = tags.get("json")
                if json_tag is None:
                    json_name, opts = go_name, []
                else:
                    parts = json_tag.split(",")
                    json_name, opts = parts[0], parts[1:]
                fields[number] = {
                    "go_name": go_name,
                    "pb_name": pb_name,
                    "json": json_name,
                    "omitempty": "omitempty" in opts,
                    "inline": "inline" in opts,
                    "skip": json_name == "-" and not opts,
                    "pointer": go_type.startswith("*"),
                }
    return structs


def main():
    root = sys.argv[1]
    protos = {}  # full name -> message
    go = {}  # full name -> fields by number
    for package, directory in PACKAGES.items():
        pkg, messages = parse_proto(os.path.join(root, directory, "generated.proto"))
        if pkg != package:
            sys.exit(f"{directory}: package {pkg}, expected {package}")
        structs = parse_go(os.path.join(root, directory))
        for name, msg in messages.items():
            protos[f"{package}.{name}"] = (package, msg)
            if name in structs:
                go[f"{package}.{name}"] = structs[name]

    names = sorted(protos)
    index = {n: i for i, n in enumerate(names)}

    def resolve(package, ty):
        if ty in SCALARS:
            return None
        full = ty[1:] if ty.startswith(".") else f"{package}.{ty}"
        if full not in index:
            sys.exit(f"unknown message type {ty} in {package}")
        return index[full]

    out = []
    w = out.append
    w("//! The protobuf schema of the API: every message of the packages Rudder serves, with each")
    w("//! field's number, proto type and JSON behaviour (name, `omitempty`, pointer, inline).")
    w("//!")
    w("//! Generated by `gen_schema.py` from kubernetes/api, kubernetes/apimachinery and")
    w("//! kubernetes/apiextensions-apiserver `v0.33.13` (Kubernetes 1.33). Do not edit by hand.")
    w("")
    w("use super::schema::{Field, Message, Special, Ty};")
    w("use super::schema::{INLINE, OMITEMPTY, POINTER, REPEATED, SKIP};")
    w("")
    w("/// Every message, sorted by full proto name (binary-searchable).")
    w(f"pub(super) static MESSAGES: [Message; {len(names)}] = [")
    problems = []
    for full in names:
        package, msg = protos[full]
        special = SPECIAL.get(full)
        fields = msg["fields"]
        if special is None and msg["nullable"]:
            if len(fields) == 1 and fields[0]["name"] == "items" and fields[0]["label"] == "repeated":
                special = "Items"
            else:
                problems.append(f"nullable message {full} is not an items wrapper")
        gofields = go.get(full)
        if gofields is None and special is None and full not in NO_GO_STRUCT:
            problems.append(f"no Go struct for {full}")
        w(f'    Message {{ name: "{full}", special: Special::{special or "None"}, fields: &[')
        for fd in fields:
            flags = []
            g = (gofields or {}).get(fd["number"])
            if g is None and gofields is not None and special is None:
                problems.append(f"no Go field for {full}.{fd['name']} = {fd['number']}")
            if g is not None and g["pb_name"] not in (None, fd["name"]):
                problems.append(f"{full}: Go field {g['go_name']} is proto {g['pb_name']}, "
                                f"proto says {fd['name']}")
            json_name = g["json"] if g else fd["name"]
            if g:
                if g["omitempty"]:
                    flags.append("OMITEMPTY")
                if g["pointer"]:
                    flags.append("POINTER")
                if g["inline"]:
                    flags.append("INLINE")
                    json_name = ""
                if g["skip"]:
                    flags.append("SKIP")
            if fd["label"] == "repeated":
                flags.append("REPEATED")
            target = resolve(package, fd["type"])
            if fd["label"] == "map":
                if target is None:
                    ty = {"string": "MapString", "bytes": "MapBytes"}.get(fd["type"])
                    if ty is None:
                        sys.exit(f"{full}.{fd['name']}: map value {fd['type']} unsupported")
                    ty = f"Ty::{ty}"
                else:
                    ty = f"Ty::MapMessage({target})"
            elif target is None:
                ty = f"Ty::{SCALARS[fd['type']]}"
            else:
                ty = f"Ty::Message({target})"
            if "INLINE" in flags and target is None:
                problems.append(f"{full}.{fd['name']}: inline scalar")
            w(f'        Field {{ number: {fd["number"]}, json: "{json_name}", ty: {ty}, '
              f'flags: {" | ".join(flags) or "0"} }},')
        w("    ]},")
    w("];")
    if problems:
        sys.exit("\n".join(problems))
    split("\n".join(out) + "\n", sys.argv[2])


# The flags and types a file may use, imported only where used (unused imports warn).
SCHEMA_NAMES = ["Field", "Message", "Special", "Ty", "INLINE", "OMITEMPTY", "POINTER", "REPEATED", "SKIP"]


def file_of(name):
    """The file a message goes to: its API group (`k8s.io.api.apps.v1.X` -> apps), or
    `apimachinery` / `apiextensions` for the packages outside kubernetes/api."""
    parts = name.split(".")
    if parts[:3] == ["k8s", "io", "api"]:
        return parts[3]
    if parts[2] == "apiextensions_apiserver":
        return "apiextensions"
    return "apimachinery"


def split(text, outdir):
    """Writes the one-file table `text` as one file per group plus `mod.rs`. Message indexes
    stay global: the files hold consecutive runs of the sorted table, joined in order."""
    head, _, body = text.partition("pub(super) static MESSAGES")
    body = body.split("= [\n", 1)[1].rsplit("];", 1)[0]
    blocks = re.findall(r'(    Message \{ name: "([^"]+)".*?\n    \]\},\n)', body, re.S)
    groups = []  # (file, [block])
    for block, name in blocks:
        f = file_of(name)
        if not groups or groups[-1][0] != f:
            if any(g == f for g, _ in groups):
                sys.exit(f"group {f} is not one run of the sorted table")
            groups.append((f, []))
        groups[-1][1].append(block)
    doc = [l for l in head.splitlines() if l.startswith("//!")]
    os.makedirs(outdir, exist_ok=True)
    for f, bs in groups:
        text = "".join(bs)
        used = [n for n in SCHEMA_NAMES if re.search(rf"\b{n}\b", text)]
        with open(os.path.join(outdir, f + ".rs"), "w") as out:
            out.write(f"//! The messages of `{f}` (generated by `gen_schema.py`; do not edit by hand).\n\n")
            out.write(f"use super::super::schema::{{{', '.join(used)}}};\n\n")
            out.write(f"pub(super) const MESSAGES: &[Message] = &[\n{text}];\n")
    total = sum(len(bs) for _, bs in groups)
    with open(os.path.join(outdir, "mod.rs"), "w") as out:
        out.write("\n".join(doc) + "\n//!\n")
        out.write("//! One file per API group; [`MESSAGES`] joins them (each holds a consecutive run of the\n")
        out.write("//! sorted table, so `Ty::Message` indexes are positions in the whole table).\n\n")
        for f, _ in groups:
            out.write(f"#[rustfmt::skip]\nmod {f};\n")
        out.write("\nuse super::schema::{Message, Special};\n\n")
        out.write("/// Every message, sorted by full proto name (binary-searchable).\n")
        out.write(f"pub(super) static MESSAGES: [Message; {total}] = join(&[\n")
        for f, _ in groups:
            out.write(f"    {f}::MESSAGES,\n")
        out.write("]);\n\n")
        out.write(JOIN)


JOIN = """/// The parts one after the other, at compile time (a wrong total fails the build).
const fn join<const N: usize>(parts: &[&[Message]]) -> [Message; N] {
    const EMPTY: Message = Message { name: "", special: Special::None, fields: &[] };
    let mut out = [EMPTY; N];
    let mut at = 0;
    let mut p = 0;
    while p < parts.len() {
        let part = parts[p];
        let mut i = 0;
        while i < part.len() {
            out[at] = part[i];
            at += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(at == N, "the parts do not add up to the table");
    out
}
"""


if __name__ == "__main__":
    if sys.argv[1] == "--split":
        with open(sys.argv[2]) as f:
            split(f.read(), sys.argv[3])
    else:
        main()
