//! Readers for Ninja's files: the build manifest (`build.ninja` and what it includes), the deps log
//! (`.ninja_deps`), the build log (`.ninja_log`), depfiles and dyndep files; and, on top of them,
//! what `ninja -t clean` would remove and which edges the next `ninja` would run.
//!
//! Everything here follows Ninja's own rules (checked against Ninja 1.11 to 1.13), without running
//! it and without writing anything.
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

pub use canon::{Location, Normalizer, canonicalize};
pub use eval::{EvalString, RuleId, ScopeId};
pub use lexer::ParseError;
pub use manifest::{Edge, EdgeId, Escape, Manifest, Node, NodeId, ParseOptions};
