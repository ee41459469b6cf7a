//! Legacy GNU Make projects (being written).
