//! CMake language evaluator (being written).
