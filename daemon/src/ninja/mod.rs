//! Ninja build files, deps and logs (being written).
