//! The service-manager files `espctl daemon install` writes, checked by the service managers' own tools:
//! `systemd-analyze verify` for the systemd units, `plutil -lint` for the LaunchAgent (where it exists;
//! elsewhere Python's plistlib and a structural check here).
//!
//! A missing tool skips its check with a message, unless `ESPCTL_REQUIRE_PEERS=1` demands every peer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use espctl::service::{self, InstallInputs, ServiceManager};
use espctl_tests::{describe, espctl_bin, espctld_bin};

fn require_peers() -> bool {
    std::env::var("ESPCTL_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// The tool on PATH (or in /usr/bin), or None after saying why the check is skipped.
fn peer(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            !require_peers(),
            "{name} is required (ESPCTL_REQUIRE_PEERS=1) but not installed"
        );
        eprintln!("skipping the {name} check: {name} is not installed");
    }
    found
}

/// `systemd-analyze --user verify` on unit files, with a private runtime directory for `%t`.
fn systemd_verify(analyze: &Path, units: &[PathBuf], scratch: &Path) -> Output {
    let runtime = scratch.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    Command::new(analyze)
        .arg("--user")
        .arg("verify")
        .args(units)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Verification passed and said nothing about our units (unknown keys are only warnings).
fn assert_clean_verify(out: &Output, units: &[PathBuf]) {
    assert!(out.status.success(), "{}", describe(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        let about_us = units.iter().any(|unit| {
            line.contains(&*unit.to_string_lossy())
                || line.contains(&*unit.file_name().unwrap().to_string_lossy())
        });
        assert!(!about_us, "systemd-analyze complained: {line}\n{stderr}");
    }
}

#[test]
fn installed_systemd_units_pass_systemd_analyze_verify() {
    let Some(analyze) = peer("systemd-analyze") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    // An empty PATH: no systemctl, so install writes the units and only prints the commands.
    let empty_path = dir.path().join("empty-path");
    std::fs::create_dir_all(&empty_path).unwrap();
    let out = Command::new(espctl_bin())
        .args(["daemon", "install"])
        .env("XDG_CONFIG_HOME", &config)
        .env("HOME", dir.path().join("home"))
        .env("PATH", &empty_path)
        .env("ESPCTLD_BIN", espctld_bin())
        .env("ESPCTL_SOCKET", dir.path().join("unused.sock"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("systemctl --user enable --now espctld.socket"),
        "{text}"
    );

    let unit_dir = config.join("systemd").join("user");
    let units = [
        unit_dir.join("espctld.service"),
        unit_dir.join("espctld.socket"),
    ];
    let service_text = std::fs::read_to_string(&units[0]).unwrap();
    let espctld = std::fs::canonicalize(espctld_bin()).unwrap();
    assert!(
        service_text.contains(&format!(
            "ExecStart={} --foreground --idle-timeout 600",
            espctld.display()
        )),
        "{service_text}"
    );
    let socket_text = std::fs::read_to_string(&units[1]).unwrap();
    assert!(socket_text.contains("ListenStream=%t/espctl/espctld.sock"));

    let out = systemd_verify(&analyze, &units, dir.path());
    assert_clean_verify(&out, &units);
}

#[test]
fn dry_run_writes_nothing_and_shows_the_units() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let out = Command::new(espctl_bin())
        .args(["daemon", "install", "--dry-run", "--json"])
        .env("XDG_CONFIG_HOME", &config)
        .env("HOME", dir.path().join("home"))
        .env("ESPCTLD_BIN", espctld_bin())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!config.exists(), "a dry run writes nothing");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["commands_ran"], false);
    if cfg!(target_os = "linux") {
        assert_eq!(report["manager"], "systemd");
        let paths: Vec<&str> = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        let unit_dir = config.join("systemd").join("user");
        assert_eq!(
            paths,
            [
                unit_dir.join("espctld.service").to_str().unwrap(),
                unit_dir.join("espctld.socket").to_str().unwrap()
            ]
        );
    }
}

#[test]
fn unusual_binary_paths_are_escaped_so_systemd_finds_them() {
    let Some(analyze) = peer("systemd-analyze") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A path with a space, a percent sign (a systemd specifier) and a dollar (variable expansion).
    let odd_dir = dir.path().join("my tools").join("100%").join("$HOME");
    std::fs::create_dir_all(&odd_dir).unwrap();
    let espctld = odd_dir.join("espctld");
    std::fs::copy(espctld_bin(), &espctld).unwrap();
    let units_dir = dir.path().join("units");
    std::fs::create_dir_all(&units_dir).unwrap();
    let units = [
        units_dir.join(service::SYSTEMD_SERVICE_NAME),
        units_dir.join(service::SYSTEMD_SOCKET_NAME),
    ];
    std::fs::write(&units[0], service::render_systemd_service(&espctld)).unwrap();
    std::fs::write(&units[1], service::render_systemd_socket()).unwrap();
    let out = systemd_verify(&analyze, &units, dir.path());
    assert_clean_verify(&out, &units);

    // The check has teeth: a binary that does not exist is reported.
    std::fs::write(
        &units[0],
        service::render_systemd_service(&odd_dir.join("missing")),
    )
    .unwrap();
    let out = systemd_verify(&analyze, &units, dir.path());
    assert!(!out.status.success(), "{}", describe(&out));
}

fn launchd_plist(dir: &Path) -> PathBuf {
    let inputs = InstallInputs {
        espctld: PathBuf::from("/Applications/Tools & Things/espctld"),
        home: dir.to_path_buf(),
        xdg_config_home: None,
        socket: PathBuf::from("/var/folders/xy/T/espctl-501/espctld.sock"),
        launchd_log: dir
            .join("Library/Application Support/dev.espctl.espctl/logs/espctld-launchd.log"),
        uid: 501,
    };
    let plan = service::install_plan(ServiceManager::Launchd, &inputs);
    let file = &plan.files[0];
    std::fs::create_dir_all(file.path.parent().unwrap()).unwrap();
    std::fs::write(&file.path, &file.contents).unwrap();
    file.path.clone()
}

#[test]
fn launch_agent_is_a_valid_property_list() {
    let dir = tempfile::tempdir().unwrap();
    let plist = launchd_plist(dir.path());
    assert!(plist.ends_with("Library/LaunchAgents/dev.espctl.espctld.plist"));
    let text = std::fs::read_to_string(&plist).unwrap();

    // The structure, checked here on every platform.
    let tree = xml::parse(&text).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{text}"));
    assert_eq!(tree.name, "plist");
    let dict = &tree.children[0];
    assert_eq!(dict.name, "dict");
    let entries: Vec<(&str, &xml::Element)> = dict
        .children
        .chunks(2)
        .map(|pair| {
            assert_eq!(pair[0].name, "key", "dict entries alternate key and value");
            (pair[0].text.as_str(), &pair[1])
        })
        .collect();
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {key}"))
    };
    assert_eq!(get("Label").text, "dev.espctl.espctld");
    let args: Vec<&str> = get("ProgramArguments")
        .children
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(
        args,
        [
            "/Applications/Tools & Things/espctld",
            "--foreground",
            "--socket",
            "/var/folders/xy/T/espctl-501/espctld.sock",
            "--idle-timeout",
            "0"
        ]
    );
    assert_eq!(get("RunAtLoad").name, "true");

    if let Some(plutil) = which("plutil") {
        let out = Command::new(plutil)
            .arg("-lint")
            .arg(&plist)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    } else if let Some(python) = which("python3") {
        // Python's plistlib is a strict property-list reader (expat underneath).
        let out = Command::new(python)
            .args([
                "-c",
                "import plistlib, sys; d = plistlib.load(open(sys.argv[1], 'rb')); \
                 assert d['Label'] == 'dev.espctl.espctld', d; print(d['ProgramArguments'][0])",
            ])
            .arg(&plist)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "/Applications/Tools & Things/espctld"
        );
    } else {
        assert!(
            !require_peers(),
            "plutil or python3 is required (ESPCTL_REQUIRE_PEERS=1)"
        );
        eprintln!("no plutil or python3: the property list was checked structurally only");
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Just enough XML to check a property list: elements, text with the predefined entities, comments,
/// the declaration and the doctype. Rejects anything unbalanced or unknown.
mod xml {
    #[derive(Debug)]
    pub struct Element {
        pub name: String,
        pub text: String,
        pub children: Vec<Element>,
    }

    pub fn parse(input: &str) -> Result<Element, String> {
        let mut rest = input.trim_start();
        if let Some(after) = rest.strip_prefix("<?xml") {
            rest = after
                .split_once("?>")
                .ok_or("unterminated XML declaration")?
                .1;
        }
        let mut stack: Vec<Element> = Vec::new();
        let mut root = None;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("<!--") {
                let (comment, after) = after.split_once("-->").ok_or("unterminated comment")?;
                if comment.contains("--") {
                    return Err("`--` inside a comment".into());
                }
                rest = after;
            } else if let Some(after) = rest.strip_prefix("<!DOCTYPE") {
                rest = after.split_once('>').ok_or("unterminated doctype")?.1;
            } else if let Some(after) = rest.strip_prefix("</") {
                let (name, after) = after.split_once('>').ok_or("unterminated end tag")?;
                let element = stack.pop().ok_or("end tag without a start tag")?;
                if element.name != name.trim() {
                    return Err(format!("</{name}> closes <{}>", element.name));
                }
                rest = after;
                attach(&mut stack, &mut root, element)?;
            } else if let Some(after) = rest.strip_prefix('<') {
                let (tag, after) = after.split_once('>').ok_or("unterminated start tag")?;
                let (tag, empty) = match tag.strip_suffix('/') {
                    Some(tag) => (tag, true),
                    None => (tag, false),
                };
                let name = tag.split_whitespace().next().ok_or("empty tag")?;
                if !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!("bad element name {name:?}"));
                }
                let element = Element {
                    name: name.to_string(),
                    text: String::new(),
                    children: Vec::new(),
                };
                rest = after;
                if empty {
                    attach(&mut stack, &mut root, element)?;
                } else {
                    stack.push(element);
                }
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let text = unescape(&rest[..end])?;
                match stack.last_mut() {
                    Some(parent) => parent.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
                rest = &rest[end..];
            }
        }
        if !stack.is_empty() {
            return Err(format!("<{}> is never closed", stack.last().unwrap().name));
        }
        root.ok_or_else(|| "no root element".to_string())
    }

    fn attach(
        stack: &mut [Element],
        root: &mut Option<Element>,
        element: Element,
    ) -> Result<(), String> {
        match stack.last_mut() {
            Some(parent) => parent.children.push(element),
            None if root.is_none() => *root = Some(element),
            None => return Err("more than one root element".into()),
        }
        Ok(())
    }

    fn unescape(text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            let (entity, after) = rest[at + 1..]
                .split_once(';')
                .ok_or("unterminated entity")?;
            out.push(match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                other => return Err(format!("unknown entity &{other};")),
            });
            rest = after;
        }
        out.push_str(rest);
        Ok(out)
    }

    #[test]
    fn the_checker_rejects_broken_documents() {
        assert!(parse("<a><b>x</b></a>").is_ok());
        assert!(parse("<a><b>x</a></b>").is_err());
        assert!(parse("<a>").is_err());
        assert!(parse("<a>&bogus;</a>").is_err());
        assert!(parse("<a><!-- x -- y --></a>").is_err());
        assert!(parse("<a/><b/>").is_err());
    }
}
