//! ESP-IDF installs: where they are, which version each is, and which one a project gets.
//!
//! Installs are found through, in order: the caller's `IDF_PATH`, the ESP-IDF Installation Manager's
//! `eim_idf.json` (in `$IDF_TOOLS_PATH` or `~/.espressif/tools/`), `~/esp/esp-idf*`, and directories
//! configured for the daemon. A version is read from the tree's `tools/cmake/version.cmake`.
//!
//! Everything here looks at the environment the client sent, never at the daemon's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use espctl_protocol::plan::{IdfInstall, IdfVersionResolved};

/// An ESP-IDF version, as `version.cmake` states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdfVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl IdfVersion {
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl std::fmt::Display for IdfVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Reads `tools/cmake/version.cmake` of an IDF tree.
pub fn read_version(idf_path: &Path) -> Option<IdfVersion> {
    let text = std::fs::read_to_string(idf_path.join("tools/cmake/version.cmake")).ok()?;
    let get = |name: &str| -> Option<u32> {
        text.lines().find_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix("set(")?.trim_start();
            let rest = rest.strip_prefix(name)?;
            let value = rest.trim().trim_end_matches(')').trim().trim_matches('"');
            value.parse().ok()
        })
    };
    Some(IdfVersion {
        major: get("IDF_VERSION_MAJOR")?,
        minor: get("IDF_VERSION_MINOR")?,
        patch: get("IDF_VERSION_PATCH").unwrap_or(0),
    })
}

/// True when `dir` looks like an ESP-IDF tree.
pub fn is_idf_tree(dir: &Path) -> bool {
    dir.join("tools/cmake/project.cmake").is_file() && dir.join("components").is_dir()
}

/// One install found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    pub path: PathBuf,
    pub version: Option<IdfVersion>,
    pub found_via: &'static str,
    /// The EIM activation script for it, when EIM installed it.
    pub activation_script: Option<PathBuf>,
    /// The IDF_TOOLS_PATH that goes with it, when known.
    pub tools_path: Option<PathBuf>,
}

/// Where to look besides the defaults.
#[derive(Debug, Clone, Default)]
pub struct SearchConfig {
    /// Extra IDF trees or directories of trees configured for the daemon (or `.espctl.toml` `[idf]`).
    pub extra_paths: Vec<PathBuf>,
    /// The home directory to search `~/esp` and `~/.espressif` in.
    pub home: Option<PathBuf>,
}

/// Every install visible from the caller's environment, best candidates first, without duplicates.
pub fn find_installs(env: &BTreeMap<String, String>, config: &SearchConfig) -> Vec<Install> {
    let mut found: Vec<Install> = Vec::new();
    let push = |found: &mut Vec<Install>, install: Install| {
        let canon = std::fs::canonicalize(&install.path).unwrap_or_else(|_| install.path.clone());
        if found
            .iter()
            .any(|i| std::fs::canonicalize(&i.path).unwrap_or_else(|_| i.path.clone()) == canon)
        {
            return;
        }
        found.push(install);
    };
    let tree = |path: PathBuf, via: &'static str| -> Option<Install> {
        is_idf_tree(&path).then(|| Install {
            version: read_version(&path),
            path,
            found_via: via,
            activation_script: None,
            tools_path: None,
        })
    };

    if let Some(p) = env.get("IDF_PATH").filter(|p| !p.is_empty())
        && let Some(mut i) = tree(PathBuf::from(p), "IDF_PATH")
    {
        i.tools_path = env.get("IDF_TOOLS_PATH").map(PathBuf::from);
        push(&mut found, i);
    }

    let mut eim_files = Vec::new();
    if let Some(t) = env.get("IDF_TOOLS_PATH").filter(|p| !p.is_empty()) {
        eim_files.push(PathBuf::from(t).join("eim_idf.json"));
    }
    if let Some(home) = &config.home {
        eim_files.push(home.join(".espressif/tools/eim_idf.json"));
    }
    #[cfg(windows)]
    eim_files.push(PathBuf::from(r"C:\Espressif\tools\eim_idf.json"));
    for file in eim_files {
        for i in read_eim(&file) {
            push(&mut found, i);
        }
    }

    if let Some(home) = &config.home {
        let esp = home.join("esp");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&esp)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("esp-idf"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        dirs.sort();
        for d in dirs {
            if let Some(i) = tree(d, "~/esp") {
                push(&mut found, i);
            }
        }
    }

    for p in &config.extra_paths {
        if let Some(i) = tree(p.clone(), "daemon config") {
            push(&mut found, i);
            continue;
        }
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        for d in dirs {
            if let Some(i) = tree(d, "daemon config") {
                push(&mut found, i);
            }
        }
    }
    found
}

/// Installs listed in an ESP-IDF Installation Manager registry (`idfInstalled` as a list, or as an
/// object keyed by id in older files).
fn read_eim(file: &Path) -> Vec<Install> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        tracing::warn!(file = %file.display(), "eim_idf.json is not valid JSON; ignoring it");
        return Vec::new();
    };
    let entries: Vec<&serde_json::Value> = match &json["idfInstalled"] {
        serde_json::Value::Array(a) => a.iter().collect(),
        serde_json::Value::Object(o) => o.values().collect(),
        _ => Vec::new(),
    };
    let selected = json["idfSelectedId"].as_str().unwrap_or_default();
    let mut out: Vec<(bool, Install)> = entries
        .into_iter()
        .filter_map(|e| {
            let path = PathBuf::from(e["path"].as_str()?);
            is_idf_tree(&path).then(|| {
                (
                    e["id"].as_str() == Some(selected),
                    Install {
                        version: read_version(&path),
                        activation_script: e["activationScript"].as_str().map(PathBuf::from),
                        tools_path: e["idfToolsPath"]
                            .as_str()
                            .or(json["idfToolsPath"].as_str())
                            .map(PathBuf::from),
                        path,
                        found_via: "eim_idf.json",
                    },
                )
            })
        })
        .collect();
    // The install EIM has selected comes first.
    out.sort_by_key(|(selected, _)| !selected);
    out.into_iter().map(|(_, i)| i).collect()
}

/// Normalises a version request: `v5.3.1`, `5.3.1`, `release/v5.3`, `5.3` → its numeric parts.
pub fn parse_request(request: &str) -> Option<Vec<u32>> {
    let s = request.trim();
    let s = s.rsplit('/').next().unwrap_or(s);
    let s = s.trim_start_matches(['v', 'V']);
    let numeric: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let parts: Option<Vec<u32>> = numeric
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect();
    parts.filter(|p| !p.is_empty() && p.len() <= 3)
}

/// True when `version` satisfies a request (`5.3` matches 5.3.x; `5` matches 5.x.y).
pub fn matches_request(version: IdfVersion, request: &[u32]) -> bool {
    let have = [version.major, version.minor, version.patch];
    request
        .iter()
        .zip(have.iter())
        .all(|(want, got)| want == got)
}

/// The outcome of resolving a project's IDF.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The chosen install, if any.
    pub install: Option<Install>,
    pub report: IdfVersionResolved,
    /// Set when a pin exists but no install satisfies it: what to tell the user.
    pub pin_missing: Option<String>,
}

/// Picks the install for a request. Without a pin: the caller's IDF_PATH, else the first found. With a
/// pin: the newest install matching it, preferring the caller's IDF_PATH when it matches.
pub fn resolve(request: Option<(String, String)>, installs: Vec<Install>) -> Resolved {
    let listed: Vec<IdfInstall> = installs
        .iter()
        .map(|i| IdfInstall {
            path: i.path.display().to_string(),
            version: i.version.map(|v| v.to_string()),
            found_via: i.found_via.to_string(),
        })
        .collect();
    let (requested, requested_from) = match &request {
        Some((r, from)) => (Some(r.clone()), Some(from.clone())),
        None => (None, None),
    };
    let mut pin_missing = None;
    let chosen = match &request {
        None => installs.first().cloned(),
        Some((req, from)) => match parse_request(req) {
            None => {
                pin_missing = Some(format!(
                    "the ESP-IDF version `{req}` pinned in {from} is not a version (use a form like v5.3.1 or 5.3)"
                ));
                None
            }
            Some(parts) => {
                let matching: Vec<&Install> = installs
                    .iter()
                    .filter(|i| i.version.is_some_and(|v| matches_request(v, &parts)))
                    .collect();
                let best = matching
                    .iter()
                    .find(|i| i.found_via == "IDF_PATH")
                    .or_else(|| matching.iter().max_by_key(|i| i.version))
                    .map(|i| (*i).clone());
                if best.is_none() {
                    let have: Vec<String> = installs
                        .iter()
                        .map(|i| match i.version {
                            Some(v) => format!("{v} ({})", i.path.display()),
                            None => format!("unknown version ({})", i.path.display()),
                        })
                        .collect();
                    pin_missing = Some(format!(
                        "ESP-IDF {req} is pinned in {from} but not installed; installed: {}. Install it with \
                         the ESP-IDF Installation Manager (`eim install -i v{}`) or check it out and run its \
                         install.sh, then set IDF_PATH to it",
                        if have.is_empty() {
                            "none".to_string()
                        } else {
                            have.join(", ")
                        },
                        parts
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(".")
                    ));
                }
                best
            }
        },
    };
    let report = IdfVersionResolved {
        requested,
        requested_from,
        version: chosen
            .as_ref()
            .and_then(|i| i.version.map(|v| v.to_string())),
        idf_path: chosen.as_ref().map(|i| i.path.display().to_string()),
        found_via: chosen.as_ref().map(|i| i.found_via.to_string()),
        installed: listed,
        problem: pin_missing
            .clone()
            .or_else(|| chosen.is_none().then(|| NO_INSTALL_HINT.to_string())),
    };
    Resolved {
        install: chosen,
        report,
        pin_missing,
    }
}

/// The message for "no ESP-IDF at all".
pub const NO_INSTALL_HINT: &str = "no ESP-IDF install was found (looked at IDF_PATH, eim_idf.json and ~/esp/esp-idf*). \
     Install one with the ESP-IDF Installation Manager (eim) or `git clone --recursive \
     https://github.com/espressif/esp-idf ~/esp/esp-idf && ~/esp/esp-idf/install.sh`, then `. ~/esp/esp-idf/export.sh` \
     in the shell you run espctl from";

/// The common requirements of an IDF tree, read from its `tools/cmake/build.cmake`, and whether the
/// architecture (5.0+) or the target (before) is appended to them. None when the file cannot be read.
pub fn common_requirements(idf_path: &Path, target: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(idf_path.join("tools/cmake/build.cmake")).ok()?;
    // The variable that feeds the property: `idf_build_set_property(__COMPONENT_REQUIRES_COMMON "${X}")`.
    let var = text
        .match_indices("__COMPONENT_REQUIRES_COMMON")
        .find_map(|(i, _)| {
            let rest = text[i + "__COMPONENT_REQUIRES_COMMON".len()..].trim_start();
            let rest = rest.strip_prefix('"').unwrap_or(rest);
            let inner = rest.strip_prefix("${")?;
            let end = inner.find('}')?;
            let after = &inner[end + 1..];
            let after = after.trim_start_matches('"').trim_start();
            // The initial set, not an APPEND.
            after.starts_with(')').then(|| inner[..end].to_string())
        })?;
    let needle = format!("set({var}");
    let mut lists: Vec<(bool, Vec<String>)> = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find(&needle) {
        let pos = from + found;
        let args_start = pos + needle.len();
        from = args_start;
        // `set(requires_common_extra ...)` is another variable.
        if !text[args_start..].starts_with(|c: char| c.is_whitespace()) {
            continue;
        }
        let before = &text[..pos];
        // The branch the statement sits in: inside `if(... linux ...)` unless an `else(` came after it.
        let in_linux_branch = match (before.rfind("if(\""), before.rfind("else(")) {
            (Some(i), e) if e.is_none_or(|e| e < i) => {
                before[i..].lines().next().unwrap_or("").contains("linux")
            }
            _ => false,
        };
        let end = args_start + text[args_start..].find(')')?;
        let names: Vec<String> = text[args_start..end]
            .split_whitespace()
            .map(|s| s.trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        lists.push((in_linux_branch, names));
        from = end;
    }
    let want_linux = target == "linux";
    let mut list = lists
        .iter()
        .find(|(linux, _)| *linux == want_linux)
        .or_else(|| lists.iter().find(|(linux, _)| !linux))
        .map(|(_, l)| l.clone())?;
    if !want_linux {
        // What is appended later: the architecture (5.0 and later) or the target (before).
        let appended = text
            .match_indices("__COMPONENT_REQUIRES_COMMON ${")
            .find_map(|(i, _)| {
                let rest = &text[i + "__COMPONENT_REQUIRES_COMMON ${".len()..];
                let end = rest.find('}')?;
                rest[end + 1..]
                    .trim_start()
                    .starts_with("APPEND")
                    .then(|| rest[..end].to_ascii_lowercase())
            });
        match appended.as_deref() {
            Some(v) if v.contains("arch") => list.push(arch_component(target).to_string()),
            Some(v) if v.contains("target") => list.push(target.to_string()),
            _ => {}
        }
    }
    Some(list)
}

/// The common requirements the build-system documentation lists, for when no IDF tree can be read.
pub fn documented_common_requirements(target: &str) -> Vec<String> {
    let mut list: Vec<String> = [
        "cxx",
        "newlib",
        "freertos",
        "esp_hw_support",
        "heap",
        "log",
        "lwip",
        "soc",
        "hal",
        "esp_rom",
        "esp_common",
        "esp_system",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if target != "linux" {
        list.push(arch_component(target).to_string());
    }
    list
}

/// The architecture component of a target (`riscv` or `xtensa`).
pub fn arch_component(target: &str) -> &'static str {
    match target {
        "esp32" | "esp32s2" | "esp32s3" => "xtensa",
        _ => "riscv",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_idf(dir: &Path, version: (u32, u32, u32)) {
        std::fs::create_dir_all(dir.join("tools/cmake")).unwrap();
        std::fs::create_dir_all(dir.join("components")).unwrap();
        std::fs::write(dir.join("tools/cmake/project.cmake"), "# stand-in\n").unwrap();
        std::fs::write(
            dir.join("tools/cmake/version.cmake"),
            format!(
                "set(IDF_VERSION_MAJOR {})\nset(IDF_VERSION_MINOR {})\nset(IDF_VERSION_PATCH {})\n",
                version.0, version.1, version.2
            ),
        )
        .unwrap();
    }

    #[test]
    fn requests_parse_and_match() {
        assert_eq!(parse_request("v5.3.1"), Some(vec![5, 3, 1]));
        assert_eq!(parse_request("release/v5.3"), Some(vec![5, 3]));
        assert_eq!(parse_request("5"), Some(vec![5]));
        assert_eq!(parse_request("master"), None);
        let v = IdfVersion {
            major: 5,
            minor: 3,
            patch: 1,
        };
        assert!(matches_request(v, &[5, 3]));
        assert!(!matches_request(v, &[5, 4]));
    }

    #[test]
    fn finds_installs_in_order_and_resolves_pins() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        fake_idf(&home.join("esp/esp-idf"), (5, 1, 2));
        fake_idf(&home.join("esp/esp-idf-v5.3"), (5, 3, 0));
        let eim_idf = t.path().join("eim/v5.4/esp-idf");
        fake_idf(&eim_idf, (5, 4, 1));
        std::fs::create_dir_all(home.join(".espressif/tools")).unwrap();
        std::fs::write(
            home.join(".espressif/tools/eim_idf.json"),
            serde_json::json!({
                "idfSelectedId": "esp-idf-1",
                "idfInstalled": [{"id": "esp-idf-1", "name": "ESP-IDF v5.4", "path": eim_idf,
                    "activationScript": "/x/activate_idf_v5.4.sh", "idfToolsPath": "/x/tools"}]
            })
            .to_string(),
        )
        .unwrap();
        let env_idf = t.path().join("env-idf");
        fake_idf(&env_idf, (6, 0, 0));
        let mut env = BTreeMap::new();
        env.insert("IDF_PATH".to_string(), env_idf.display().to_string());
        let config = SearchConfig {
            home: Some(home.clone()),
            ..Default::default()
        };
        let installs = find_installs(&env, &config);
        let via: Vec<&str> = installs.iter().map(|i| i.found_via).collect();
        assert_eq!(via, ["IDF_PATH", "eim_idf.json", "~/esp", "~/esp"]);
        assert_eq!(
            installs[1].activation_script.as_deref(),
            Some(Path::new("/x/activate_idf_v5.4.sh"))
        );

        let r = resolve(None, installs.clone());
        assert_eq!(r.report.version.as_deref(), Some("6.0.0"));
        let r = resolve(
            Some(("v5.3".into(), ".idf-version".into())),
            installs.clone(),
        );
        assert_eq!(r.report.version.as_deref(), Some("5.3.0"));
        assert!(r.pin_missing.is_none());
        let r = resolve(Some(("v4.4".into(), ".espctl.toml".into())), installs);
        assert!(r.install.is_none());
        let msg = r.pin_missing.unwrap();
        assert!(msg.contains("v4.4 is pinned in .espctl.toml"), "{msg}");
        assert!(msg.contains("5.3.0") && msg.contains("6.0.0"), "{msg}");
    }

    #[test]
    fn common_requirements_from_build_cmake() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("tools/cmake")).unwrap();
        std::fs::write(
            t.path().join("tools/cmake/build.cmake"),
            "function(__build_init idf_path)\n    if(\"${target}\" STREQUAL \"linux\")\n        set(requires_common freertos log linux)\n        idf_build_set_property(__COMPONENT_REQUIRES_COMMON \"${requires_common}\")\n    else()\n        set(requires_common cxx newlib\n                     freertos log)\n        idf_build_set_property(__COMPONENT_REQUIRES_COMMON \"${requires_common}\")\n    endif()\nendfunction()\nidf_build_set_property(__COMPONENT_REQUIRES_COMMON ${arch} APPEND)\n",
        )
        .unwrap();
        assert_eq!(
            common_requirements(t.path(), "esp32c3").unwrap(),
            ["cxx", "newlib", "freertos", "log", "riscv"]
        );
        assert_eq!(
            common_requirements(t.path(), "linux").unwrap(),
            ["freertos", "log", "linux"]
        );
        assert_eq!(
            documented_common_requirements("esp32s3").last().unwrap(),
            "xtensa"
        );
    }
}
