//! `.espctl.toml`
