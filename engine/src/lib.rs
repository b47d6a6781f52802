//! goto-engine placeholder
