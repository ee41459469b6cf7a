//! ESP-IDF builds: the environment they run in (`env`), reading their output (`output`), running the
//! pipeline as a task (`runner`), their flash bundle (`bundle`) and SBOM (`sbom`).
pub mod bundle;
pub mod env;
pub mod output;
pub mod runner;
pub mod sbom;
