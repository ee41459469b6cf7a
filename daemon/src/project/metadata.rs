//! Build metadata a real configure writes: `project_description.json` and `flasher_args.json`.
//!
//! When they exist and are newer than every input of the configure, they are exact: the planner takes
//! components, order and sources from them instead of its own estimate. Readers tolerate missing
//! optional fields (older ESP-IDF versions write fewer).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

/// `build/project_description.json` (version 1.x), the parts the planner uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProjectDescription {
    pub version: Option<String>,
    pub project_name: String,
    pub project_path: Option<String>,
    pub build_dir: Option<String>,
    pub config_file: Option<String>,
    pub target: String,
    pub app_elf: Option<String>,
    pub app_bin: Option<String>,
    pub bootloader_elf: Option<String>,
    pub git_revision: Option<String>,
    pub build_components: Vec<String>,
    pub build_component_paths: Vec<String>,
    pub build_component_info: BTreeMap<String, ComponentInfo>,
    pub common_component_reqs: Vec<String>,
    pub monitor_baud: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ComponentInfo {
    pub alias: Option<String>,
    pub dir: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub lib: Option<String>,
    pub reqs: Vec<String>,
    pub priv_reqs: Vec<String>,
    pub managed_reqs: Vec<String>,
    pub managed_priv_reqs: Vec<String>,
    pub file: Option<String>,
    pub sources: Vec<String>,
    pub include_dirs: Vec<String>,
}

/// `build/flasher_args.json`, the parts bundles and plans use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FlasherArgs {
    pub write_flash_args: Vec<String>,
    pub flash_settings: FlashSettings,
    /// Offset (`0x10000`) → file, relative to the build dir.
    pub flash_files: BTreeMap<String, String>,
    pub extra_esptool_args: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FlashSettings {
    pub flash_mode: Option<String>,
    pub flash_size: Option<String>,
    pub flash_freq: Option<String>,
}

pub fn read_project_description(build_dir: &Path) -> Option<ProjectDescription> {
    let text = std::fs::read_to_string(build_dir.join("project_description.json")).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn read_flasher_args(build_dir: &Path) -> Result<FlasherArgs, String> {
    let path = build_dir.join("flasher_args.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid: {e}", path.display()))
}

pub fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest of `inputs` that is newer than `output`, if any: the reason `output` is stale.
pub fn newer_input<'a>(
    output: &Path,
    inputs: impl IntoIterator<Item = &'a PathBuf>,
) -> Option<&'a PathBuf> {
    let out = mtime(output)?;
    inputs
        .into_iter()
        .filter_map(|p| mtime(p).map(|t| (t, p)))
        .filter(|(t, _)| *t > out)
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_missing_optional_fields() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("project_description.json"),
            r#"{"project_name": "hello", "target": "esp32c3", "build_components": ["log", "main"],
                "build_component_info": {"main": {"dir": "/p/main", "reqs": ["log"]}}}"#,
        )
        .unwrap();
        let d = read_project_description(t.path()).unwrap();
        assert_eq!(d.build_components, ["log", "main"]);
        assert_eq!(d.build_component_info["main"].reqs, ["log"]);
        assert!(d.build_component_info["main"].sources.is_empty());
        std::fs::write(
            t.path().join("flasher_args.json"),
            r#"{"flash_files": {"0x0": "bootloader/bootloader.bin", "0x10000": "hello.bin"},
                "flash_settings": {"flash_mode": "dio", "flash_size": "2MB", "flash_freq": "80m"}}"#,
        )
        .unwrap();
        let f = read_flasher_args(t.path()).unwrap();
        assert_eq!(f.flash_files["0x10000"], "hello.bin");
        assert_eq!(f.flash_settings.flash_size.as_deref(), Some("2MB"));
        assert!(
            read_flasher_args(&t.path().join("nope"))
                .unwrap_err()
                .contains("cannot read")
        );
    }

    #[test]
    fn newer_input_names_the_newest() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("build.ninja");
        std::fs::write(&out, "").unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(100);
        std::fs::File::options()
            .write(true)
            .open(&out)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let a = t.path().join("CMakeLists.txt");
        std::fs::write(&a, "").unwrap();
        let inputs = vec![a.clone(), t.path().join("missing")];
        assert_eq!(newer_input(&out, &inputs), Some(&a));
        std::fs::File::options()
            .write(true)
            .open(&a)
            .unwrap()
            .set_modified(old - std::time::Duration::from_secs(10))
            .unwrap();
        assert_eq!(newer_input(&out, &inputs), None);
    }
}
