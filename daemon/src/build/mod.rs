//! ESP-IDF builds: the environment they run in (`env`) and reading their output (`output`).
pub mod bundle;
pub mod env;
pub mod output;
pub mod sbom;
