//! Readers for Ninja's files, and what Ninja would do with them.
//!
//! - [`manifest`]: `build.ninja` and what it includes: variables with Ninja's scoping and lazy
//!   rule evaluation, rules, `build` statements with every kind of input and output, pools,
//!   defaults, `include`/`subninja`, escapes. Nodes keep the path as Ninja names it;
//!   [`canon::Normalizer`] adds the normalised form (absolute and relative names of one file);
//! - [`deps_log`] (`.ninja_deps`), [`build_log`] (`.ninja_log`), [`depfile`] and [`dyndep`] files;
//! - [`clean`]: what `ninja -t clean` would remove;
//! - [`dirty`]: which edges the next `ninja` would run, on the disk as it is or if given files
//!   changed (checked against `ninja -n -d explain`).
//!
//! Everything follows Ninja's own rules (Ninja 1.11, with the differences of 1.12 and 1.13 noted
//! where they matter), without running Ninja and without writing anything.
pub mod build_log;
pub mod canon;
pub mod clean;
pub mod depfile;
pub mod deps_log;
pub mod dirty;
pub mod dyndep;
pub mod eval;
pub mod hash;
pub mod lexer;
pub mod manifest;

pub use build_log::BuildLog;
pub use canon::{Location, Normalizer, canonicalize};
pub use deps_log::DepsLog;
pub use dirty::{ChangedFiles, DirtyReport, DirtyScan, RealFileSystem, ScanOptions, predict};
pub use eval::{EvalString, RuleId, ScopeId};
pub use lexer::ParseError;
pub use manifest::{Edge, EdgeId, Escape, Manifest, Node, NodeId, ParseOptions};
