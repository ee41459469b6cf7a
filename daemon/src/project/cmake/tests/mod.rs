//! Unit tests of the CMake evaluator.
