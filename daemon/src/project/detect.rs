//! What kind of project a directory holds: ESP-IDF CMake, legacy ESP-IDF Make, or a Rust no_std Cargo
//! project (which we point at `--rust-elf`). Anything else is a clear configuration error.

use std::path::{Path, PathBuf};

use espctl_protocol::ErrorCode;

use crate::error::DaemonError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectKind {
    /// A top-level CMakeLists.txt that includes ESP-IDF's project.cmake and calls project().
    IdfCmake { cmakelists: PathBuf },
    /// A Makefile that includes ESP-IDF's make/project.mk.
    IdfMake { makefile: PathBuf },
}

/// Strips CMake comments (`# ...` to the end of the line, outside quotes) so a commented-out include
/// does not count.
fn without_cmake_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_quote = false;
        let mut kept = String::new();
        for c in line.chars() {
            if c == '"' {
                in_quote = !in_quote;
            }
            if c == '#' && !in_quote {
                break;
            }
            kept.push(c);
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// True when CMake source includes a `project.cmake` from a `tools/cmake` directory and calls `project(`.
pub fn looks_like_idf_cmake(text: &str) -> bool {
    let code = without_cmake_comments(text).to_ascii_lowercase();
    let includes = code.match_indices("include").any(|(i, _)| {
        let rest = &code[i + "include".len()..];
        let rest = rest.trim_start();
        rest.starts_with('(')
            && rest[..rest.find(')').unwrap_or(rest.len())].contains("tools/cmake/project.cmake")
    });
    let calls_project = code.match_indices("project").any(|(i, _)| {
        let before_ok = i == 0
            || !code[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        before_ok && code[i + "project".len()..].trim_start().starts_with('(')
    });
    includes && calls_project
}

/// True when a Makefile includes `make/project.mk`.
pub fn looks_like_idf_make(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.split('#').next().unwrap_or("").trim();
        (l.starts_with("include ") || l.starts_with("-include ") || l.starts_with("sinclude "))
            && l.contains("make/project.mk")
    })
}

/// Detects the project in `dir`, or explains what is there instead.
pub fn detect(dir: &Path) -> Result<ProjectKind, DaemonError> {
    if !dir.is_dir() {
        return Err(DaemonError::new(
            ErrorCode::Config,
            format!("{} is not a directory", dir.display()),
        )
        .with_hint("pass the project directory (the one with the top-level CMakeLists.txt)"));
    }
    let cmakelists = dir.join("CMakeLists.txt");
    if let Ok(text) = std::fs::read_to_string(&cmakelists)
        && looks_like_idf_cmake(&text)
    {
        return Ok(ProjectKind::IdfCmake { cmakelists });
    }
    let makefile = dir.join("Makefile");
    if let Ok(text) = std::fs::read_to_string(&makefile)
        && looks_like_idf_make(&text)
    {
        return Ok(ProjectKind::IdfMake { makefile });
    }
    if let Some(chip_hint) = rust_no_std_project(dir) {
        return Err(DaemonError::new(
            ErrorCode::Config,
            format!(
                "{} is a Cargo project for an ESP32 chip{chip_hint}, not an ESP-IDF project",
                dir.display()
            ),
        )
        .with_hint(
            "build it with cargo, then make a flash bundle from the ELF: \
             `espctl build --rust-elf target/<triple>/release/<binary> --target <chip>`",
        ));
    }
    let what = if cmakelists.exists() {
        "its CMakeLists.txt does not include $ENV{IDF_PATH}/tools/cmake/project.cmake and call project()"
    } else if makefile.exists() {
        "its Makefile does not include $(IDF_PATH)/make/project.mk"
    } else {
        "it has neither a CMakeLists.txt nor a Makefile"
    };
    Err(DaemonError::new(
        ErrorCode::Config,
        format!("no ESP-IDF project in {}: {what}", dir.display()),
    )
    .with_hint(
        "run espctl in (or pass) the project directory; an ESP-IDF CMake project's top-level \
         CMakeLists.txt has `include($ENV{IDF_PATH}/tools/cmake/project.cmake)` and `project(name)`",
    ))
}

/// For a Cargo project aimed at an ESP32 (esp-hal, esp-idf-hal or an ESP target triple), a short
/// description of what gave it away.
fn rust_no_std_project(dir: &Path) -> Option<String> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let config = std::fs::read_to_string(dir.join(".cargo/config.toml"))
        .or_else(|_| std::fs::read_to_string(dir.join(".cargo/config")))
        .unwrap_or_default();
    let toolchain = std::fs::read_to_string(dir.join("rust-toolchain.toml")).unwrap_or_default();
    for triple in [
        "xtensa-esp32s3-none-elf",
        "xtensa-esp32s2-none-elf",
        "xtensa-esp32-none-elf",
        "riscv32imc-unknown-none-elf",
        "riscv32imac-unknown-none-elf",
    ] {
        if config.contains(triple) {
            return Some(format!(" (target {triple} in .cargo/config.toml)"));
        }
    }
    for krate in ["esp-hal", "esp-idf-hal", "esp-idf-svc", "esp-backtrace"] {
        if manifest.contains(krate) {
            return Some(format!(" (depends on {krate})"));
        }
    }
    (toolchain.contains("esp") && !manifest.is_empty()).then(|| " (esp toolchain)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_cmake_projects_and_ignores_comments() {
        assert!(looks_like_idf_cmake(
            "cmake_minimum_required(VERSION 3.16)\ninclude($ENV{IDF_PATH}/tools/cmake/project.cmake)\nproject(hello_world)\n"
        ));
        assert!(looks_like_idf_cmake(
            "include( \"${IDF}/tools/cmake/project.cmake\" )\nidf_build_set_property(MINIMAL_BUILD ON)\nPROJECT (x)"
        ));
        assert!(!looks_like_idf_cmake(
            "# include($ENV{IDF_PATH}/tools/cmake/project.cmake)\nproject(x)\n"
        ));
        assert!(!looks_like_idf_cmake(
            "project(plain C)\nadd_executable(a a.c)\n"
        ));
        assert!(!looks_like_idf_cmake(
            "include($ENV{IDF_PATH}/tools/cmake/project.cmake)\nmy_project(x)\n"
        ));
    }

    #[test]
    fn recognises_make_projects() {
        assert!(looks_like_idf_make(
            "PROJECT_NAME := app\n\ninclude $(IDF_PATH)/make/project.mk\n"
        ));
        assert!(!looks_like_idf_make(
            "# include $(IDF_PATH)/make/project.mk\n"
        ));
    }

    #[test]
    fn explains_what_is_there_instead() {
        let t = tempfile::tempdir().unwrap();
        let err = detect(t.path()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Config);
        assert!(
            err.message
                .contains("neither a CMakeLists.txt nor a Makefile")
        );

        std::fs::write(
            t.path().join("Cargo.toml"),
            "[dependencies]\nesp-hal = \"1\"\n",
        )
        .unwrap();
        let err = detect(t.path()).unwrap_err();
        assert!(err.message.contains("Cargo project") && err.message.contains("esp-hal"));
        assert!(err.hint.unwrap().contains("--rust-elf"));

        std::fs::write(
            t.path().join("CMakeLists.txt"),
            "include($ENV{IDF_PATH}/tools/cmake/project.cmake)\nproject(x)\n",
        )
        .unwrap();
        assert!(matches!(
            detect(t.path()).unwrap(),
            ProjectKind::IdfCmake { .. }
        ));
        assert_eq!(detect(&t.path().join("nope")).unwrap_err().exit_code(), 2);
    }
}
