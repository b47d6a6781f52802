//! The client API (`/client/...`): targets, tracked headers, invocations on
//! the load engine, and results in the scenarios' shape.

use crate::admin::Admin;
use crate::error::ApiResult;

/// Routes `/client/...` admin calls; `None` if not ours.
pub async fn route(_a: &Admin<'_>) -> Option<ApiResult> {
    None
}
