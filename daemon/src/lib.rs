//! espctld: the espctl daemon.
pub mod bundle;
