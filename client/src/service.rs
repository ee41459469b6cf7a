//! Service-manager files for `espctld`: systemd user units (socket activation) on Linux, a LaunchAgent on
//! macOS.
//!
//! The templates are the files under `systemd/` and `launchd/` at the top of the repository, compiled in.
//! Rendering substitutes their `@PLACEHOLDERS@` with escaped values; [`install_plan`] says which files
//! to write where and which commands load them, and the CLI carries it out (or prints it).

use std::path::{Path, PathBuf};

/// The systemd service template.
pub const SYSTEMD_SERVICE_TEMPLATE: &str = include_str!("../../systemd/espctld.service");
/// The systemd socket unit; it has no placeholders.
pub const SYSTEMD_SOCKET_TEMPLATE: &str = include_str!("../../systemd/espctld.socket");
/// The LaunchAgent template.
pub const LAUNCHD_PLIST_TEMPLATE: &str = include_str!("../../launchd/dev.espctl.espctld.plist");

/// File name of the service unit.
pub const SYSTEMD_SERVICE_NAME: &str = "espctld.service";
/// File name of the socket unit; the one to enable.
pub const SYSTEMD_SOCKET_NAME: &str = "espctld.socket";
/// The LaunchAgent's label.
pub const LAUNCHD_LABEL: &str = "dev.espctl.espctld";

/// The socket path the socket unit listens on, relative to `$XDG_RUNTIME_DIR` (systemd's `%t`).
pub const SYSTEMD_SOCKET_RELATIVE: &str = "espctl/espctld.sock";

/// The service unit with `ExecStart` running `espctld`.
pub fn render_systemd_service(espctld: &Path) -> String {
    SYSTEMD_SERVICE_TEMPLATE.replace("@ESPCTLD@", &systemd_escape_path(espctld))
}

/// The socket unit.
pub fn render_systemd_socket() -> String {
    SYSTEMD_SOCKET_TEMPLATE.to_string()
}

/// The LaunchAgent property list.
pub fn render_launchd_plist(espctld: &Path, socket: &Path, stderr_log: &Path) -> String {
    LAUNCHD_PLIST_TEMPLATE
        .replace("@ESPCTLD@", &xml_escape(&espctld.to_string_lossy()))
        .replace("@SOCKET@", &xml_escape(&socket.to_string_lossy()))
        .replace("@STDERR_LOG@", &xml_escape(&stderr_log.to_string_lossy()))
}

/// A path as the first word of a systemd `ExecStart=`: specifiers (`%`) escaped, backslashes doubled,
/// and quoted when it holds spaces or quotes. systemd does not expand variables in the program path, so
/// a `$` stays as it is.
pub fn systemd_escape_path(path: &Path) -> String {
    let raw = path.to_string_lossy();
    let mut escaped = String::with_capacity(raw.len() + 2);
    let needs_quotes = raw
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == ';');
    for c in raw.chars() {
        match c {
            '%' => escaped.push_str("%%"),
            '\\' => escaped.push_str("\\\\"),
            '"' if needs_quotes => escaped.push_str("\\\""),
            _ => escaped.push(c),
        }
    }
    if needs_quotes {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// Text escaped for XML character data.
pub fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Which service manager runs the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceManager {
    /// systemd user units with socket activation (Linux).
    Systemd,
    /// A launchd LaunchAgent (macOS).
    Launchd,
}

impl ServiceManager {
    /// The service manager of the platform this was built for, if espctl supports one there.
    pub fn for_this_platform() -> Option<ServiceManager> {
        if cfg!(target_os = "macos") {
            Some(ServiceManager::Launchd)
        } else if cfg!(target_os = "linux") {
            Some(ServiceManager::Systemd)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ServiceManager::Systemd => "systemd",
            ServiceManager::Launchd => "launchd",
        }
    }
}

/// A file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFile {
    pub path: PathBuf,
    pub contents: String,
}

/// What installing the daemon as a service takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    pub manager: ServiceManager,
    pub files: Vec<ServiceFile>,
    /// Commands that load and start the service, in order; each is a program and its arguments.
    pub commands: Vec<Vec<String>>,
}

/// Where to install and what with.
#[derive(Debug, Clone)]
pub struct InstallInputs {
    /// Absolute path of the `espctld` binary the service runs.
    pub espctld: PathBuf,
    /// The user's home directory.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, when set.
    pub xdg_config_home: Option<PathBuf>,
    /// The socket path clients use (written into the LaunchAgent; systemd derives it from `%t`).
    pub socket: PathBuf,
    /// Where the LaunchAgent's standard error goes.
    pub launchd_log: PathBuf,
    /// The user id, for `launchctl bootstrap gui/<uid>`.
    pub uid: u32,
}

/// The systemd user unit directory: `$XDG_CONFIG_HOME/systemd/user` (when it is an absolute path),
/// else `~/.config/systemd/user`.
pub fn systemd_user_dir(home: &Path, xdg_config_home: Option<&Path>) -> PathBuf {
    let config = xdg_config_home
        .filter(|dir| dir.is_absolute())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| home.join(".config"));
    config.join("systemd").join("user")
}

/// The files and commands that install the daemon under `manager`.
pub fn install_plan(manager: ServiceManager, inputs: &InstallInputs) -> InstallPlan {
    match manager {
        ServiceManager::Systemd => {
            let dir = systemd_user_dir(&inputs.home, inputs.xdg_config_home.as_deref());
            InstallPlan {
                manager,
                files: vec![
                    ServiceFile {
                        path: dir.join(SYSTEMD_SERVICE_NAME),
                        contents: render_systemd_service(&inputs.espctld),
                    },
                    ServiceFile {
                        path: dir.join(SYSTEMD_SOCKET_NAME),
                        contents: render_systemd_socket(),
                    },
                ],
                commands: vec![
                    strings(&["systemctl", "--user", "daemon-reload"]),
                    strings(&[
                        "systemctl",
                        "--user",
                        "enable",
                        "--now",
                        SYSTEMD_SOCKET_NAME,
                    ]),
                ],
            }
        }
        ServiceManager::Launchd => {
            let plist = inputs
                .home
                .join("Library")
                .join("LaunchAgents")
                .join(format!("{LAUNCHD_LABEL}.plist"));
            InstallPlan {
                manager,
                commands: vec![vec![
                    "launchctl".into(),
                    "bootstrap".into(),
                    format!("gui/{}", inputs.uid),
                    plist.to_string_lossy().into_owned(),
                ]],
                files: vec![ServiceFile {
                    contents: render_launchd_plist(
                        &inputs.espctld,
                        &inputs.socket,
                        &inputs.launchd_log,
                    ),
                    path: plist,
                }],
            }
        }
    }
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// A command line for display, with words quoted for a POSIX shell where needed.
pub fn shell_line(words: &[String]) -> String {
    words
        .iter()
        .map(|word| {
            if !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
            {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> InstallInputs {
        InstallInputs {
            espctld: PathBuf::from("/opt/espctl/bin/espctld"),
            home: PathBuf::from("/home/ada"),
            xdg_config_home: None,
            socket: PathBuf::from("/tmp/espctl-501/espctld.sock"),
            launchd_log: PathBuf::from("/Users/ada/Library/Application Support/espctld.log"),
            uid: 501,
        }
    }

    #[test]
    fn service_runs_the_resolved_binary_in_the_foreground() {
        let unit = render_systemd_service(Path::new("/opt/espctl/bin/espctld"));
        assert!(
            unit.lines()
                .any(|l| l == "ExecStart=/opt/espctl/bin/espctld --foreground --idle-timeout 600"),
            "{unit}"
        );
        assert!(!unit.contains('@'), "unsubstituted placeholder in\n{unit}");
        assert!(unit.contains("Requires=espctld.socket"));
    }

    #[test]
    fn socket_unit_matches_the_default_socket_path() {
        let unit = render_systemd_socket();
        for line in [
            "ListenStream=%t/espctl/espctld.sock",
            "SocketMode=0600",
            "DirectoryMode=0700",
            "WantedBy=sockets.target",
        ] {
            assert!(unit.lines().any(|l| l == line), "missing {line} in\n{unit}");
        }
        assert!(unit.contains(&format!("%t/{SYSTEMD_SOCKET_RELATIVE}")));
        assert!(SYSTEMD_SOCKET_RELATIVE.ends_with(espctl_protocol::paths::SOCKET_FILE_NAME));
    }

    #[test]
    fn exec_paths_are_escaped_for_systemd() {
        assert_eq!(
            systemd_escape_path(Path::new("/usr/bin/espctld")),
            "/usr/bin/espctld"
        );
        assert_eq!(
            systemd_escape_path(Path::new("/home/a b/100%/$x/espctld")),
            "\"/home/a b/100%%/$x/espctld\""
        );
        assert_eq!(systemd_escape_path(Path::new("/a\\b")), "/a\\\\b");
    }

    #[test]
    fn plist_substitutes_and_escapes() {
        let plist = render_launchd_plist(
            Path::new("/Applications/A&B/espctld"),
            Path::new("/tmp/s.sock"),
            Path::new("/tmp/<log>"),
        );
        assert!(plist.contains("<string>/Applications/A&amp;B/espctld</string>"));
        assert!(plist.contains("<string>/tmp/s.sock</string>"));
        assert!(plist.contains("<string>/tmp/&lt;log&gt;</string>"));
        assert!(plist.contains("<string>dev.espctl.espctld</string>"));
        assert!(!plist.contains("@ESPCTLD@") && !plist.contains("@SOCKET@"));
        // XML forbids `--` inside comments; the arguments must stay outside of them.
        for comment in plist.split("<!--").skip(1) {
            let body = comment.split("-->").next().unwrap();
            assert!(!body.contains("--"), "`--` inside an XML comment");
        }
    }

    #[test]
    fn systemd_plan_honours_xdg_config_home() {
        let plan = install_plan(ServiceManager::Systemd, &inputs());
        assert_eq!(
            plan.files[0].path,
            PathBuf::from("/home/ada/.config/systemd/user/espctld.service")
        );
        assert_eq!(
            plan.files[1].path,
            PathBuf::from("/home/ada/.config/systemd/user/espctld.socket")
        );
        assert_eq!(
            shell_line(&plan.commands[1]),
            "systemctl --user enable --now espctld.socket"
        );

        let mut custom = inputs();
        custom.xdg_config_home = Some(PathBuf::from("/cfg"));
        let plan = install_plan(ServiceManager::Systemd, &custom);
        assert_eq!(
            plan.files[0].path,
            PathBuf::from("/cfg/systemd/user/espctld.service")
        );

        // A relative XDG_CONFIG_HOME is invalid per the XDG spec and ignored.
        custom.xdg_config_home = Some(PathBuf::from("cfg"));
        let plan = install_plan(ServiceManager::Systemd, &custom);
        assert!(plan.files[0].path.starts_with("/home/ada/.config"));
    }

    #[test]
    fn launchd_plan_bootstraps_the_agent() {
        let plan = install_plan(ServiceManager::Launchd, &inputs());
        assert_eq!(
            plan.files[0].path,
            PathBuf::from("/home/ada/Library/LaunchAgents/dev.espctl.espctld.plist")
        );
        assert_eq!(
            shell_line(&plan.commands[0]),
            "launchctl bootstrap gui/501 /home/ada/Library/LaunchAgents/dev.espctl.espctld.plist"
        );
        assert!(
            plan.files[0]
                .contents
                .contains("<string>/tmp/espctl-501/espctld.sock</string>")
        );
    }

    #[test]
    fn shell_line_quotes_only_when_needed() {
        assert_eq!(
            shell_line(&strings(&["a", "b c", "it's", ""])),
            "a 'b c' 'it'\\''s' ''"
        );
    }
}
