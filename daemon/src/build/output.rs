//! Reading a build's console output: diagnostics (GCC/Clang and CMake), Ninja progress, and the phase.

use std::path::{Path, PathBuf};

pub use espctl_protocol::task::Diagnostic;

/// `file:line:col: severity: message` (GCC and Clang; the column is optional, as for the linker).
pub fn parse_compiler(line: &str) -> Option<Diagnostic> {
    const SEVERITIES: [&str; 4] = ["fatal error", "error", "warning", "note"];
    for severity in SEVERITIES {
        let marker = format!(": {severity}: ");
        let Some(pos) = line.find(&marker) else {
            continue;
        };
        let location = &line[..pos];
        let message = line[pos + marker.len()..].trim().to_string();
        let mut parts = location.rsplitn(3, ':');
        let last = parts.next()?;
        let mid = parts.next();
        let first = parts.next();
        let (file, line_no, column) = match (first, mid, last.parse::<u32>()) {
            (Some(f), Some(l), Ok(c)) if l.parse::<u32>().is_ok() => (f, l.parse().ok(), Some(c)),
            (_, Some(_), Ok(l)) => (location.rsplit_once(':')?.0, Some(l), None),
            _ => continue,
        };
        if file.is_empty() || file.contains(' ') && !file.contains('/') {
            continue;
        }
        return Some(Diagnostic {
            severity: if severity == "fatal error" {
                "error".into()
            } else {
                severity.into()
            },
            message,
            file: Some(file.to_string()),
            line: line_no,
            column,
            component: None,
        });
    }
    None
}

/// Collects diagnostics across lines (CMake's span several).
#[derive(Debug, Default)]
pub struct DiagnosticParser {
    pub diagnostics: Vec<Diagnostic>,
    /// A CMake message being read: its lines follow, indented, until a blank line.
    cmake: Option<Diagnostic>,
    cmake_saw_text: bool,
}

impl DiagnosticParser {
    pub fn feed(&mut self, line: &str) {
        if let Some(d) = self.cmake.as_mut() {
            if line.trim().is_empty() {
                if self.cmake_saw_text {
                    self.finish_cmake();
                }
                return;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                if !d.message.is_empty() {
                    d.message.push(' ');
                }
                d.message.push_str(line.trim());
                self.cmake_saw_text = true;
                return;
            }
            self.finish_cmake();
        }
        if let Some(rest) = line
            .strip_prefix("CMake Error")
            .map(|r| ("error", r))
            .or_else(|| line.strip_prefix("CMake Warning").map(|r| ("warning", r)))
        {
            let (severity, rest) = rest;
            let rest = rest.trim_start_matches(" (dev)");
            let (file, line_no, message) = match rest.strip_prefix(" at ") {
                Some(loc) => {
                    // `path:line (command):`
                    let loc = loc.trim_end_matches(':');
                    let loc = loc.split(" (").next().unwrap_or(loc);
                    match loc.rsplit_once(':') {
                        Some((f, l)) => (Some(f.to_string()), l.parse().ok(), String::new()),
                        None => (Some(loc.to_string()), None, String::new()),
                    }
                }
                None => (None, None, rest.trim_start_matches(':').trim().to_string()),
            };
            self.cmake = Some(Diagnostic {
                severity: severity.into(),
                message,
                file,
                line: line_no,
                column: None,
                component: None,
            });
            self.cmake_saw_text = false;
            return;
        }
        if let Some(d) = parse_compiler(line) {
            self.diagnostics.push(d);
        }
    }

    fn finish_cmake(&mut self) {
        if let Some(d) = self.cmake.take()
            && !d.message.is_empty()
        {
            self.diagnostics.push(d);
        }
        self.cmake_saw_text = false;
    }

    /// Ends parsing; attributes each diagnostic to the component whose directory holds its file.
    pub fn finish(mut self, components: &[(String, PathBuf)], cwd: &Path) -> Vec<Diagnostic> {
        self.finish_cmake();
        attribute(&mut self.diagnostics, components, cwd);
        self.diagnostics
    }

    /// The diagnostics found so far, attributed, without ending a CMake message still being read.
    pub fn snapshot(&self, components: &[(String, PathBuf)], cwd: &Path) -> Vec<Diagnostic> {
        let mut out = self.diagnostics.clone();
        attribute(&mut out, components, cwd);
        out
    }
}

/// Sets each diagnostic's component: the one whose directory (the deepest) holds its file.
fn attribute(diagnostics: &mut [Diagnostic], components: &[(String, PathBuf)], cwd: &Path) {
    {
        for d in diagnostics.iter_mut() {
            if let Some(f) = &d.file {
                let path = if Path::new(f).is_absolute() {
                    PathBuf::from(f)
                } else {
                    cwd.join(f)
                };
                d.component = components
                    .iter()
                    .filter(|(_, dir)| path.starts_with(dir))
                    .max_by_key(|(_, dir)| dir.components().count())
                    .map(|(n, _)| n.clone());
            }
        }
    }
}

/// Ninja's `[N/M]` progress prefix.
pub fn ninja_progress(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix('[')?;
    let (inner, _) = rest.split_once(']')?;
    let (n, m) = inner.split_once('/')?;
    Some((n.trim().parse().ok()?, m.trim().parse().ok()?))
}

/// The build phase a Ninja line belongs to.
pub fn phase_of(line: &str) -> Option<&'static str> {
    let l = line.to_ascii_lowercase();
    if l.contains("linking c executable") || l.contains("linking cxx executable") {
        Some("linking")
    } else if l.contains("generating binary image")
        || l.contains("elf2image")
        || l.contains("generating") && l.contains(".bin")
    {
        Some("generating-binaries")
    } else if l.contains("building c object")
        || l.contains("building cxx object")
        || l.contains("building asm object")
        || l.contains("linking c static library")
    {
        Some("compiling")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcc_and_clang_lines() {
        let d = parse_compiler(
            "/p/main/main.c:12:5: error: 'x' undeclared (first use in this function)",
        )
        .unwrap();
        assert_eq!(d.file.as_deref(), Some("/p/main/main.c"));
        assert_eq!((d.line, d.column), (Some(12), Some(5)));
        assert_eq!(d.severity, "error");
        let d = parse_compiler("../main/a.c:3:1: warning: unused variable 'y' [-Wunused-variable]")
            .unwrap();
        assert_eq!(d.severity, "warning");
        let d = parse_compiler("foo.c:7: fatal error: bar.h: No such file or directory").unwrap();
        assert_eq!(
            (d.line, d.column, d.severity.as_str()),
            (Some(7), None, "error")
        );
        assert!(parse_compiler("[3/10] Building C object x.obj").is_none());
        assert!(parse_compiler("ninja: error: loading 'build.ninja'").is_none());
    }

    #[test]
    fn cmake_messages_span_lines() {
        let mut p = DiagnosticParser::default();
        for l in [
            "-- Configuring incomplete",
            "CMake Error at /p/components/car/CMakeLists.txt:4 (message):",
            "  Component car only supports targets:",
            "  esp32",
            "",
            "/p/main/main.c:1:1: error: boom",
        ] {
            p.feed(l);
        }
        let comps = vec![
            ("car".to_string(), PathBuf::from("/p/components/car")),
            ("main".to_string(), PathBuf::from("/p/main")),
        ];
        let ds = p.finish(&comps, Path::new("/p/build"));
        assert_eq!(ds.len(), 2);
        assert_eq!(
            ds[0].file.as_deref(),
            Some("/p/components/car/CMakeLists.txt")
        );
        assert_eq!(ds[0].line, Some(4));
        assert_eq!(ds[0].message, "Component car only supports targets: esp32");
        assert_eq!(ds[0].component.as_deref(), Some("car"));
        assert_eq!(ds[1].component.as_deref(), Some("main"));
    }

    #[test]
    fn progress_and_phases() {
        assert_eq!(
            ninja_progress("[12/345] Building C object a.obj"),
            Some((12, 345))
        );
        assert_eq!(ninja_progress("no"), None);
        assert_eq!(
            phase_of("[1/9] Building C object esp-idf/main/CMakeFiles/x.obj"),
            Some("compiling")
        );
        assert_eq!(
            phase_of("[8/9] Linking C executable hello.elf"),
            Some("linking")
        );
        assert_eq!(
            phase_of("[9/9] Generating binary image from built executable"),
            Some("generating-binaries")
        );
    }
}
