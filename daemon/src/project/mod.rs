//! The project model: what an ESP-IDF (CMake or legacy Make) project is made of, and the planner.
pub mod clean;
pub mod cmake;
pub mod components;
pub mod config;
pub mod detect;
pub mod fsview;
pub mod idf;
pub mod make;
pub mod metadata;
pub mod pipeline;
pub mod planner;
pub mod target;
pub mod wildcard;
