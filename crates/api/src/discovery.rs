//! Discovery documents, as pure functions from a list of resources to JSON.
//!
//! - Aggregated discovery (`apidiscovery.k8s.io` `v2` / `v2beta1` `APIGroupDiscoveryList`) for
//!   `/api` (core group only) and `/apis` (every other group).
//! - Legacy documents: `/api` `APIVersions`, `/apis` `APIGroupList`, `/apis/<group>` `APIGroup`,
//!   and the per-group-version `APIResourceList`.
//! - [`negotiate`]: which of these an `Accept` header asks for.
//!
//! The input is a slice of owned [`DiscoveryResource`]s so custom resources can be appended to
//! the built-ins. Its order is meaningful: groups appear in order of their first resource, and
//! a group's versions in order of their first resource, the first being the preferred version.
//! Within a group-version, resources and subresources are listed sorted by name, as upstream's
//! installer registers them.
//!
//! Upstream references: `S/apiserver/pkg/endpoints/discovery/{legacy,root,group,version}.go`,
//! `…/discovery/aggregated/{handler,negotiation,wrapper}.go`, `S/api/apidiscovery/v2/types.go`.

use serde_json::{Value, json};

use crate::resources::{RESOURCES, ResourceInfo, SubresourceInfo};

/// One subresource as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverySubresource {
    /// `status`, `scale`, ...
    pub name: String,
    /// Group, version and kind of the body; for cross-group bodies (`autoscaling/v1` `Scale`)
    /// these differ from the parent's.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub verbs: Vec<String>,
}

/// One resource at one group-version, as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryResource {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub subresources: Vec<DiscoverySubresource>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl From<&SubresourceInfo> for DiscoverySubresource {
    fn from(s: &SubresourceInfo) -> Self {
        DiscoverySubresource {
            name: s.name.to_string(),
            group: s.group.to_string(),
            version: s.version.to_string(),
            kind: s.kind.to_string(),
            verbs: strings(s.verbs),
        }
    }
}

impl From<&ResourceInfo> for DiscoveryResource {
    fn from(r: &ResourceInfo) -> Self {
        DiscoveryResource {
            group: r.group.to_string(),
            version: r.version.to_string(),
            kind: r.kind.to_string(),
            plural: r.plural.to_string(),
            singular: r.singular.to_string(),
            namespaced: r.namespaced,
            verbs: strings(r.verbs),
            short_names: strings(r.short_names),
            categories: strings(r.categories),
            subresources: r.subresources.iter().map(DiscoverySubresource::from).collect(),
        }
    }
}

impl DiscoveryResource {
    /// Every built-in resource, in [`RESOURCES`] order.
    pub fn builtins() -> Vec<DiscoveryResource> {
        RESOURCES.iter().map(DiscoveryResource::from).collect()
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn group_version(&self) -> String {
        group_version(&self.group, &self.version)
    }
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Groups in order of first appearance, each with its versions in order of first appearance.
fn group_versions(resources: &[DiscoveryResource]) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in resources {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, vs)) if !vs.contains(&r.version.as_str()) => vs.push(&r.version),
            Some(_) => {}
            None => out.push((&r.group, vec![&r.version])),
        }
    }
    out
}

/// The resources of one group-version, sorted by plural.
fn sorted_in<'a>(
    resources: &'a [DiscoveryResource],
    group: &str,
    version: &str,
) -> Vec<&'a DiscoveryResource> {
    let mut rs: Vec<_> = resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    rs.sort_by(|a, b| a.plural.cmp(&b.plural));
    rs
}

fn sorted_verbs(verbs: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = verbs.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v
}

// ---------------------------------------------------------------------------------------------
// Aggregated discovery

/// The `apidiscovery.k8s.io` version of an aggregated document. The two differ only in
/// `apiVersion` and in the `Content-Type` they are served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregatedVersion {
    V2,
    V2Beta1,
}

impl AggregatedVersion {
    /// `apidiscovery.k8s.io/v2` or `apidiscovery.k8s.io/v2beta1`.
    pub fn api_version(self) -> &'static str {
        match self {
            AggregatedVersion::V2 => "apidiscovery.k8s.io/v2",
            AggregatedVersion::V2Beta1 => "apidiscovery.k8s.io/v2beta1",
        }
    }
}

fn response_kind(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

fn aggregated_resource(r: &DiscoveryResource) -> Value {
    let mut out = json!({
        "resource": r.plural,
        "responseKind": response_kind(&r.group, &r.version, &r.kind),
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": sorted_verbs(&r.verbs),
    });
    if !r.short_names.is_empty() {
        out["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        out["categories"] = json!(r.categories);
    }
    if !r.subresources.is_empty() {
        let mut subs: Vec<&DiscoverySubresource> = r.subresources.iter().collect();
        subs.sort_by(|a, b| a.name.cmp(&b.name));
        let subs: Vec<Value> = subs
            .into_iter()
            .map(|s| {
                json!({
                    "subresource": s.name,
                    "responseKind": response_kind(&s.group, &s.version, &s.kind),
                    "verbs": sorted_verbs(&s.verbs),
                })
            })
            .collect();
        out["subresources"] = Value::Array(subs);
    }
    out
}

fn aggregated_group(resources: &[DiscoveryResource], group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let rs: Vec<Value> = sorted_in(resources, group, v)
                .into_iter()
                .map(aggregated_resource)
                .collect();
            json!({"version": v, "resources": rs, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group}, "versions": versions})
}

fn aggregated_list(resources: &[DiscoveryResource], version: AggregatedVersion, core: bool) -> Value {
    let items: Vec<Value> = group_versions(resources)
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, vs)| aggregated_group(resources, g, &vs))
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": version.api_version(),
        "metadata": {},
        "items": items,
    })
}

/// Aggregated discovery for `/api`: one item, the core group, with `metadata.name` `""`.
pub fn aggregated_api(resources: &[DiscoveryResource], version: AggregatedVersion) -> Value {
    aggregated_list(resources, version, true)
}

/// Aggregated discovery for `/apis`: every group but the core group, in input order.
pub fn aggregated_apis(resources: &[DiscoveryResource], version: AggregatedVersion) -> Value {
    aggregated_list(resources, version, false)
}

// ---------------------------------------------------------------------------------------------
// Legacy discovery

/// `/api`: `APIVersions`. `server_address` is the `host:port` clients reached us at; upstream
/// reports it for the catch-all CIDR `0.0.0.0/0`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn version_entry(group: &str, version: &str) -> Value {
    json!({"groupVersion": group_version(group, version), "version": version})
}

fn group_entry(group: &str, versions: &[&str]) -> Value {
    let entries: Vec<Value> = versions.iter().map(|v| version_entry(group, v)).collect();
    json!({"name": group, "versions": entries, "preferredVersion": version_entry(group, versions[0])})
}

/// `/apis`: `APIGroupList` of every group but the core group, in input order.
pub fn api_group_list(resources: &[DiscoveryResource]) -> Value {
    let groups: Vec<Value> = group_versions(resources)
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_entry(g, &vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`: `APIGroup`, or `None` if the group is not served (a 404).
pub fn api_group(resources: &[DiscoveryResource], group: &str) -> Option<Value> {
    if group.is_empty() {
        return None;
    }
    let (name, versions) = group_versions(resources).into_iter().find(|(g, _)| *g == group)?;
    let mut out = group_entry(name, &versions);
    out["kind"] = json!("APIGroup");
    out["apiVersion"] = json!("v1");
    Some(out)
}

fn legacy_subresource(parent: &DiscoveryResource, s: &DiscoverySubresource) -> Value {
    let mut out = json!({
        "name": format!("{}/{}", parent.plural, s.name),
        "singularName": "",
        "namespaced": parent.namespaced,
        "kind": s.kind,
        "verbs": sorted_verbs(&s.verbs),
    });
    // Only bodies from another group-version carry `group`/`version` (kubectl drain reads them
    // for `pods/eviction`).
    if s.group != parent.group || s.version != parent.version {
        out["group"] = json!(s.group);
        out["version"] = json!(s.version);
    }
    out
}

/// `/api/v1` or `/apis/<group>/<version>`: `APIResourceList`, or `None` if the group-version is
/// not served (a 404). Subresources are entries of their own (`pods/status`, with an empty
/// `singularName`); all entries are sorted by name. Like upstream, the core list has no
/// `apiVersion` and the others have `"v1"`. `storageVersionHash` is omitted.
pub fn api_resource_list(resources: &[DiscoveryResource], group: &str, version: &str) -> Option<Value> {
    let rs = sorted_in(resources, group, version);
    if rs.is_empty() {
        return None;
    }
    let mut entries: Vec<(String, Value)> = Vec::new();
    for r in rs {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": sorted_verbs(&r.verbs),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        entries.push((r.plural.clone(), entry));
        for s in &r.subresources {
            entries.push((format!("{}/{}", r.plural, s.name), legacy_subresource(r, s)));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let entries: Vec<Value> = entries.into_iter().map(|(_, v)| v).collect();
    let mut out = json!({"kind": "APIResourceList", "groupVersion": group_version(group, version), "resources": entries});
    if !group.is_empty() {
        out["apiVersion"] = json!("v1");
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Content negotiation

/// Which discovery document a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryFormat {
    /// `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList` (kubectl 1.30+).
    AggregatedV2,
    /// `apidiscovery.k8s.io/v2beta1` `APIGroupDiscoveryList` (kubectl 1.27–1.29).
    AggregatedV2Beta1,
    /// `APIVersions` / `APIGroupList`.
    Legacy,
}

const CONTENT_TYPE_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const CONTENT_TYPE_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

impl DiscoveryFormat {
    /// The exact `Content-Type` to answer with; clients decide how to decode by it.
    pub fn content_type(self) -> &'static str {
        match self {
            DiscoveryFormat::AggregatedV2 => CONTENT_TYPE_V2,
            DiscoveryFormat::AggregatedV2Beta1 => CONTENT_TYPE_V2BETA1,
            DiscoveryFormat::Legacy => "application/json",
        }
    }

    /// The aggregated version to build, or `None` for a legacy document.
    pub fn aggregated(self) -> Option<AggregatedVersion> {
        match self {
            DiscoveryFormat::AggregatedV2 => Some(AggregatedVersion::V2),
            DiscoveryFormat::AggregatedV2Beta1 => Some(AggregatedVersion::V2Beta1),
            DiscoveryFormat::Legacy => None,
        }
    }
}

/// One media range of an `Accept` header.
#[derive(Debug)]
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    q: f32,
    params: Vec<(String, &'a str)>,
}

impl MediaRange<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// 0 for `*/*`, 1 for `type/*`, 2 for `type/subtype`.
    fn specificity(&self) -> u8 {
        u8::from(self.kind != "*") + u8::from(self.subtype != "*")
    }
}

fn parse_media_range(s: &str) -> Option<MediaRange<'_>> {
    let mut parts = s.split(';');
    let (kind, subtype) = parts.next()?.trim().split_once('/')?;
    let (kind, subtype) = (kind.trim(), subtype.trim());
    if kind.is_empty() || subtype.is_empty() {
        return None;
    }
    let mut range = MediaRange {
        kind,
        subtype,
        q: 1.0,
        params: Vec::new(),
    };
    for p in parts {
        let Some((k, v)) = p.split_once('=') else { continue };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"'));
        if k == "q" {
            range.q = v.parse().unwrap_or(1.0);
        } else {
            range.params.push((k, v));
        }
    }
    Some(range)
}

/// What one media range selects, if it is something we serve.
fn select(range: &MediaRange<'_>) -> Option<DiscoveryFormat> {
    let json_like = (range.kind.eq_ignore_ascii_case("application") || range.kind == "*")
        && (range.subtype.eq_ignore_ascii_case("json") || range.subtype == "*");
    if !json_like || (range.kind == "*" && range.subtype != "*") {
        return None;
    }
    let (g, v, r#as) = (range.param("g"), range.param("v"), range.param("as"));
    if g.is_none() && v.is_none() && r#as.is_none() {
        return Some(DiscoveryFormat::Legacy);
    }
    // Any of g/v/as asks for a conversion; only the aggregated list is one we can do.
    if g != Some("apidiscovery.k8s.io") || r#as != Some("APIGroupDiscoveryList") {
        return None;
    }
    match v {
        Some("v2") => Some(DiscoveryFormat::AggregatedV2),
        Some("v2beta1") => Some(DiscoveryFormat::AggregatedV2Beta1),
        _ => None,
    }
}

/// Picks the discovery document for an `Accept` header: the media ranges are taken by
/// descending `q` (then most specific first, then header order), ranges with `q=0` are
/// refused, and the first one we serve wins. Parameter order, spaces and extra parameters do
/// not matter; `*/*` and `application/*` without `g`/`v`/`as` mean plain JSON. No header, or
/// nothing we serve (protobuf, YAML, `text/html`, an unknown `as=`), falls back to
/// [`DiscoveryFormat::Legacy`] JSON, which every client decodes.
pub fn negotiate(accept: Option<&str>) -> DiscoveryFormat {
    let Some(header) = accept else {
        return DiscoveryFormat::Legacy;
    };
    let mut ranges: Vec<MediaRange<'_>> = header.split(',').filter_map(parse_media_range).collect();
    ranges.retain(|r| r.q > 0.0);
    // A stable sort keeps header order among equals.
    ranges.sort_by(|a, b| b.q.total_cmp(&a.q).then(b.specificity().cmp(&a.specificity())));
    ranges.iter().find_map(select).unwrap_or(DiscoveryFormat::Legacy)
}

#[cfg(test)]
mod tests;
