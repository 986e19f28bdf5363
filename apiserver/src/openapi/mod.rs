//! OpenAPI v2 and v3 documents generated from our types and resource table (being written).

use std::sync::Arc;

use axum::Router;

use crate::http::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
