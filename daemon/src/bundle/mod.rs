//! Flash bundles (being written).
