//! ESP-IDF builds: the environment they run in (`env`).
pub mod env;
