//! SPDX 2.3 software bill of materials for a finished build (`build/sbom.spdx`, tag-value format):
//! the project as the root package, every build component as a package it depends on, and the
//! toolchain as a build tool.

use std::fmt::Write as _;
use std::path::Path;

use crate::project::metadata::ProjectDescription;

/// What the SBOM describes besides the project description.
#[derive(Debug, Clone)]
pub struct SbomInputs<'a> {
    pub project_dir: &'a Path,
    pub description: &'a ProjectDescription,
    pub idf_version: &'a str,
    pub idf_path: Option<&'a Path>,
    /// The compiler program and the first line of its `--version`.
    pub toolchain: (&'a str, Option<String>),
    /// Makes the document namespace unique (the task id).
    pub unique: &'a str,
}

/// SPDX ids allow letters, digits, `.` and `-`.
fn spdx_id(kind: &str, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{kind}-{clean}")
}

/// A value on one line, as tag-value requires (multi-line text would need <text> blocks).
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The version of a component: `version:` in its idf_component.yml, else `git describe` when it is a
/// repository of its own, else the IDF version for IDF components; None when none of these says.
pub fn component_version(dir: &Path, idf_path: Option<&Path>, idf_version: &str) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(dir.join("idf_component.yml")) {
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("version:") {
                let v = v.trim().trim_matches(['"', '\'']);
                if !v.is_empty() {
                    return Some(v.to_string());
                }
            }
        }
    }
    if let Some(idf) = idf_path
        && dir.starts_with(idf)
    {
        return Some(idf_version.to_string());
    }
    if dir.join(".git").exists() {
        let out = std::process::Command::new("git")
            .args(["describe", "--always", "--dirty"])
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output();
        if let Ok(o) = out
            && o.status.success()
        {
            return Some(String::from_utf8_lossy(&o.stdout).trim().to_string());
        }
    }
    None
}

/// The document, in SPDX 2.3 tag-value format.
pub fn render(i: &SbomInputs) -> String {
    let d = i.description;
    let project = if d.project_name.is_empty() {
        "project"
    } else {
        &d.project_name
    };
    let root = spdx_id("Project", project);
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let mut out = String::new();
    let _ = writeln!(out, "SPDXVersion: SPDX-2.3");
    let _ = writeln!(out, "DataLicense: CC0-1.0");
    let _ = writeln!(out, "SPDXID: SPDXRef-DOCUMENT");
    let _ = writeln!(out, "DocumentName: {}", one_line(project));
    let _ = writeln!(
        out,
        "DocumentNamespace: https://espctl.dev/spdxdocs/{}-{}",
        spdx_id("Project", project).trim_start_matches("SPDXRef-Project-"),
        i.unique
    );
    let _ = writeln!(out, "Creator: Tool: espctl-{}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "Created: {now}");
    let _ = writeln!(out);

    // PackageVersion is optional in SPDX 2.3 and takes no NOASSERTION: an unknown version is left out.
    let package = |out: &mut String, id: &str, name: &str, version: Option<&str>, comment: &str| {
        let _ = writeln!(out, "PackageName: {}", one_line(name));
        let _ = writeln!(out, "SPDXID: {id}");
        if let Some(v) = version.filter(|v| !v.trim().is_empty()) {
            let _ = writeln!(out, "PackageVersion: {}", one_line(v));
        }
        let _ = writeln!(out, "PackageDownloadLocation: NOASSERTION");
        let _ = writeln!(out, "FilesAnalyzed: false");
        let _ = writeln!(out, "PackageLicenseConcluded: NOASSERTION");
        let _ = writeln!(out, "PackageLicenseDeclared: NOASSERTION");
        let _ = writeln!(out, "PackageCopyrightText: NOASSERTION");
        let _ = writeln!(out, "PackageComment: <text>{comment}</text>");
        let _ = writeln!(out);
    };

    let project_version = crate::build::bundle::git_describe(i.project_dir);
    package(
        &mut out,
        &root,
        project,
        Some(&project_version),
        &format!(
            "ESP-IDF application for {}, built with ESP-IDF {}",
            d.target, i.idf_version
        ),
    );
    let mut relationships = vec![format!("SPDXRef-DOCUMENT DESCRIBES {root}")];
    for name in &d.build_components {
        let info = d.build_component_info.get(name);
        let dir = info.map(|c| c.dir.as_str()).unwrap_or("");
        let version = component_version(Path::new(dir), i.idf_path, i.idf_version);
        let id = spdx_id("Component", name);
        package(
            &mut out,
            &id,
            name,
            version.as_deref(),
            &format!("ESP-IDF component at {dir}"),
        );
        relationships.push(format!("{root} DEPENDS_ON {id}"));
    }
    let (compiler, compiler_version) = &i.toolchain;
    let tool_id = spdx_id("Toolchain", compiler);
    package(
        &mut out,
        &tool_id,
        compiler,
        compiler_version.as_deref(),
        "the compiler the application was built with",
    );
    relationships.push(format!("{tool_id} BUILD_TOOL_OF {root}"));
    for r in relationships {
        let _ = writeln!(out, "Relationship: {r}");
    }
    out
}

/// The first line of `<compiler> --version`, run in `env`.
pub fn compiler_version(
    compiler: &Path,
    env: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let out = std::process::Command::new(compiler)
        .arg("--version")
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::metadata::ComponentInfo;

    #[test]
    fn renders_every_component_and_the_toolchain() {
        let t = tempfile::tempdir().unwrap();
        let comp = t.path().join("components/led_strip");
        std::fs::create_dir_all(&comp).unwrap();
        std::fs::write(
            comp.join("idf_component.yml"),
            "version: \"2.5.3\"\ndescription: x\n",
        )
        .unwrap();
        let mut d = ProjectDescription {
            project_name: "hello_world".into(),
            target: "esp32c3".into(),
            build_components: vec!["led_strip".into(), "esp_timer".into(), "main".into()],
            ..Default::default()
        };
        d.build_component_info.insert(
            "led_strip".into(),
            ComponentInfo {
                dir: comp.display().to_string(),
                ..Default::default()
            },
        );
        d.build_component_info.insert(
            "esp_timer".into(),
            ComponentInfo {
                dir: "/idf/components/esp_timer".into(),
                ..Default::default()
            },
        );
        d.build_component_info.insert(
            "main".into(),
            ComponentInfo {
                dir: t.path().join("main").display().to_string(),
                ..Default::default()
            },
        );
        let text = render(&SbomInputs {
            project_dir: t.path(),
            description: &d,
            idf_version: "5.3.1",
            idf_path: Some(Path::new("/idf")),
            toolchain: (
                "riscv32-esp-elf-gcc",
                Some("riscv32-esp-elf-gcc (crosstool-NG) 13.2.0".into()),
            ),
            unique: "abc",
        });
        assert!(text.starts_with("SPDXVersion: SPDX-2.3\n"));
        assert!(text.contains(
            "PackageName: led_strip\nSPDXID: SPDXRef-Component-led-strip\nPackageVersion: 2.5.3"
        ));
        assert!(text.contains("SPDXID: SPDXRef-Component-esp-timer\nPackageVersion: 5.3.1"));
        // No version known: no PackageVersion line at all.
        assert!(text.contains("SPDXID: SPDXRef-Component-main\nPackageDownloadLocation"));
        assert!(text.contains(
            "Relationship: SPDXRef-Project-hello-world DEPENDS_ON SPDXRef-Component-led-strip"
        ));
        assert!(text.contains("Relationship: SPDXRef-Toolchain-riscv32-esp-elf-gcc BUILD_TOOL_OF SPDXRef-Project-hello-world"));
        assert!(
            text.contains("Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-Project-hello-world")
        );
        validate_with_pyspdxtools(&text);
    }

    /// The real SPDX validator (PyPI `spdx-tools`) must accept the document.
    fn validate_with_pyspdxtools(text: &str) {
        let found = std::process::Command::new("pyspdxtools")
            .arg("--help")
            .output()
            .is_ok();
        if !found {
            assert!(
                std::env::var("ESPCTL_REQUIRE_PEERS").as_deref() != Ok("1"),
                "pyspdxtools (PyPI spdx-tools) is required"
            );
            eprintln!("pyspdxtools not installed: skipping validation");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sbom.spdx");
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new("pyspdxtools")
            .arg("-i")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pyspdxtools rejected the SBOM:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
