//! LIST: selectors, pagination with continue tokens, and resourceVersion semantics.

use std::sync::Arc;

use rudder_api::selectors::{FieldSelector, LabelSelector, field_value};
use rudder_api::status::ApiError;
use rudder_store::ListOptions;
use serde_json::Value;

use super::watch_cache::{self, CachedObject};
use super::{Registry, Resource, store_error};

/// `metav1.ListOptions` as the server uses them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListParams {
    pub(crate) label_selector: Option<LabelSelector>,
    pub(crate) field_selector: Option<FieldSelector>,
    pub(crate) limit: Option<usize>,
    pub(crate) continue_token: Option<String>,
    pub(crate) resource_version: Option<String>,
    pub(crate) resource_version_match: Option<String>,
}

impl ListParams {
    /// Parses the selector strings and checks field selectors against what the resource supports.
    pub(crate) fn parse(
        res: &Resource,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
    ) -> Result<ListParams, ApiError> {
        let label_selector = match label_selector.filter(|s| !s.is_empty()) {
            Some(s) => Some(LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?),
            None => None,
        };
        let field_selector = match field_selector.filter(|s| !s.is_empty()) {
            Some(s) => {
                let sel = FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                for req in sel.requirements() {
                    let field = req.field.as_str();
                    let supported = matches!(field, "metadata.name" | "metadata.namespace")
                        || res.info.field_selectors.contains(&field);
                    if !supported {
                        return Err(ApiError::bad_request(format!(
                            "field label not supported: {field}"
                        )));
                    }
                }
                Some(sel)
            }
            None => None,
        };
        Ok(ListParams {
            label_selector,
            field_selector,
            ..Default::default()
        })
    }

    /// Whether a cached object passes both selectors (decoding it only when there are any).
    pub(crate) fn matches_object(&self, obj: &CachedObject) -> bool {
        if self.label_selector.is_none() && self.field_selector.is_none() {
            return true;
        }
        self.matches(&obj.value())
    }

    /// Whether an object passes both selectors.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        if let Some(sel) = &self.label_selector {
            let labels = obj
                .get("metadata")
                .and_then(|m| m.get("labels"))
                .unwrap_or(&Value::Null);
            if !sel.matches_value(labels) {
                return false;
            }
        }
        if let Some(sel) = &self.field_selector
            && !sel.matches(&|path: &str| field_value(obj, path))
        {
            return false;
        }
        true
    }
}

/// One page of a list.
#[derive(Debug)]
pub(crate) struct ListResult {
    pub(crate) items: Vec<Arc<CachedObject>>,
    pub(crate) revision: i64,
    pub(crate) continue_token: Option<String>,
    pub(crate) remaining: Option<u64>,
}

/// The continue token: the revision of the first page and the key to resume at, hex-encoded
/// (opaque to clients, as upstream's base64 JSON is).
fn encode_continue(revision: i64, start_key: &str) -> String {
    let raw = format!("{revision}\n{start_key}");
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Option<(i64, String)> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    let raw = String::from_utf8(bytes?).ok()?;
    let (rev, key) = raw.split_once('\n')?;
    Some((rev.parse().ok()?, key.to_string()))
}

impl Registry {
    pub(crate) async fn list(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<ListResult, ApiError> {
        let namespace = res.info.namespaced.then_some(namespace).flatten();
        let prefix = res.info.storage_list_prefix(namespace);
        let rv = params.resource_version.as_deref().filter(|rv| !rv.is_empty());
        let exact = params.resource_version_match.as_deref() == Some("Exact");
        if let Some(m) = params.resource_version_match.as_deref()
            && !matches!(m, "Exact" | "NotOlderThan")
        {
            return Err(ApiError::bad_request(format!(
                "unsupported resourceVersionMatch: {m}"
            )));
        }

        // resourceVersion=0 without a continue token: any recent state will do; serve it from
        // the watch cache and ignore the limit, as upstream does.
        if rv == Some("0") && params.continue_token.is_none() && !exact {
            let (objects, revision) = res.cache.snapshot_prefix(&prefix);
            let items = objects
                .into_iter()
                .map(|o| res.present(o))
                .filter(|o| params.matches_object(o))
                .collect();
            return Ok(ListResult {
                items,
                revision,
                continue_token: None,
                remaining: None,
            });
        }

        let (mut at, mut start) = (None, None);
        if let Some(token) = &params.continue_token {
            let (rev, key) = decode_continue(token)
                .filter(|(_, key)| key.starts_with(&prefix))
                .ok_or_else(|| ApiError::bad_request("continue key is not valid"))?;
            at = Some(rev);
            start = Some(key);
        } else if let Some(rv) = rv {
            let rv: i64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?;
            if exact {
                at = Some(rv);
            } else {
                let current = self.store.current_revision().await.map_err(store_error)?;
                if rv > current {
                    return Err(ApiError::too_large_resource_version(rv as u64, current as u64, 1));
                }
            }
        }
        let limit = params.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        loop {
            // Ask for a bit more than the limit when filtering, so one round trip usually fills the page.
            let want = limit.map(|l| l - items.len());
            let page = self
                .store
                .list(&prefix, ListOptions { limit: want, start_key: start.clone(), at })
                .await
                .map_err(|e| match e {
                    rudder_store::StoreError::Compacted { .. } if params.continue_token.is_some() => ApiError::gone(
                        "The provided continue parameter is too old to display a consistent list result. \
                         You can start a new list without the continue parameter."
                            .to_string(),
                    ),
                    other => store_error(other),
                })?;
            at = Some(page.revision);
            for kv in &page.items {
                let Some(obj) = watch_cache::CachedObject::from_kv(kv).map(|o| res.present(o)) else {
                    continue;
                };
                if params.matches_object(&obj) {
                    items.push(obj);
                }
            }
            let revision = page.revision;
            match page.next_key {
                Some(next) if limit.is_some_and(|l| items.len() >= l) => {
                    let remaining = (params.label_selector.is_none() && params.field_selector.is_none())
                        .then_some(page.remaining);
                    return Ok(ListResult {
                        items,
                        revision,
                        continue_token: Some(encode_continue(revision, &next)),
                        remaining,
                    });
                }
                Some(next) => start = Some(next),
                None => {
                    return Ok(ListResult {
                        items,
                        revision,
                        continue_token: None,
                        remaining: None,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(42, "/pods/default/web-1");
        assert_eq!(
            decode_continue(&token),
            Some((42, "/pods/default/web-1".to_string()))
        );
        assert_eq!(decode_continue("zz"), None);
        assert_eq!(decode_continue("abc"), None);
    }
}
