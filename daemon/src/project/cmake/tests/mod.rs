//! Unit tests of the CMake evaluator.
//!
//! Most tests write a component CMakeLists.txt into a temporary directory, evaluate it and look
//! at what it printed with `message()` or registered with `idf_component_register()`.

mod cache;
mod commands;
mod conditions;
mod idf;
mod language;
mod real_idf;
mod robustness;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;

/// A temporary tree with an ESP-IDF-like layout and the values a plan would pass.
pub(super) struct Fixture {
    pub(super) root: tempfile::TempDir,
    pub(super) values: InputValues,
}

impl Fixture {
    pub(super) fn new() -> Self {
        let root = tempfile::tempdir().expect("temporary directory");
        let mut values = InputValues::default();
        let idf_path = root.path().join("idf");
        let build_dir = root.path().join("build");
        for (k, v) in [
            ("IDF_TARGET", "esp32c3".to_owned()),
            ("IDF_PATH", idf_path.to_string_lossy().into_owned()),
            ("IDF_VERSION_MAJOR", "6".into()),
            ("IDF_VERSION_MINOR", "2".into()),
            ("IDF_VERSION_PATCH", "0".into()),
            (
                "PROJECT_DIR",
                root.path().join("project").to_string_lossy().into_owned(),
            ),
            ("BUILD_DIR", build_dir.to_string_lossy().into_owned()),
            ("IDF_TARGET_ARCH", "riscv".into()),
        ] {
            values.build_properties.insert(k.into(), v);
        }
        values
            .variables
            .insert("CONFIG_IDF_TARGET_ESP32C3".into(), "y".into());
        values
            .variables
            .insert("CONFIG_IDF_TARGET_ARCH_RISCV".into(), "y".into());
        values
            .variables
            .insert("CONFIG_FREERTOS_UNICORE".into(), "y".into());
        values
            .variables
            .insert("CONFIG_LOG_DEFAULT_LEVEL".into(), "3".into());
        values.variables.insert("CONFIG_SPIRAM".into(), "".into());
        values
            .env
            .insert("IDF_PATH".into(), idf_path.to_string_lossy().into_owned());
        Fixture { root, values }
    }

    pub(super) fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub(super) fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create dirs");
        std::fs::write(&path, content).expect("write");
        path
    }

    pub(super) fn component_dir(&self, name: &str) -> PathBuf {
        self.path(&format!("components/{name}"))
    }

    /// Writes `components/<name>/CMakeLists.txt`.
    pub(super) fn component(&self, name: &str, src: &str) -> PathBuf {
        self.write(&format!("components/{name}/CMakeLists.txt"), src)
    }

    pub(super) fn input(&self, name: &str, pass: ComponentPass) -> ComponentInput {
        ComponentInput::new(
            name,
            self.component_dir(name),
            pass,
            Arc::new(self.values.clone()),
        )
    }

    pub(super) fn eval(&self, name: &str, pass: ComponentPass) -> ComponentEval {
        Evaluator::new().eval_component(&self.input(name, pass))
    }
}

/// Evaluates `src` as component "comp" in the processing pass.
pub(super) fn eval(src: &str) -> (Fixture, ComponentEval) {
    let fixture = Fixture::new();
    fixture.component("comp", src);
    let result = fixture.eval("comp", ComponentPass::Processing);
    (fixture, result)
}

/// The texts of every `message()` the file printed, in order.
pub(super) fn messages(result: &ComponentEval) -> Vec<String> {
    result.messages.iter().map(|m| m.text.clone()).collect()
}

/// Evaluates `src` and returns what it printed; fails the test on a fatal error or warning.
pub(super) fn output(src: &str) -> Vec<String> {
    let (_fixture, result) = eval(src);
    assert_eq!(result.fatal, None, "unexpected fatal error");
    assert!(
        result.warnings.is_empty(),
        "unexpected warnings: {:?}",
        result.warnings
    );
    messages(&result)
}

/// Evaluates `src` and returns the fatal error message.
pub(super) fn fatal(src: &str) -> String {
    let (_fixture, result) = eval(src);
    result.fatal.expect("a fatal error").message
}

pub(super) fn rel(paths: &[PathBuf], base: &Path) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            p.strip_prefix(base)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_else(|_| p.display().to_string())
        })
        .collect()
}
