//! The registry (`/registry/...`): peers and their epochs, targets and jobs
//! by peer label, and lockers of reported results.

use crate::admin::Admin;
use crate::error::ApiResult;

/// Routes `/registry/...` admin calls; `None` if not ours.
pub async fn route(_a: &Admin<'_>) -> Option<ApiResult> {
    None
}
