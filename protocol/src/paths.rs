//! Where the daemon's socket and data live. Client and daemon both derive them here, so they agree.
//!
//! Socket: `$ESPCTL_SOCKET`, else `$XDG_RUNTIME_DIR/espctl/espctld.sock`, else a per-user directory
//! under the system temp dir (`/tmp/espctl-<uid>/espctld.sock`). The daemon creates the parent directory
//! 0700 and refuses to use one that another user owns.
//!
//! Data: `$ESPCTL_HOME`, else the platform data directory (`~/.local/share/espctl` on Linux,
//! `~/Library/Application Support/dev.espctl.espctl` on macOS).

use std::path::PathBuf;

use crate::{ENV_HOME, ENV_SOCKET};

/// File name of the socket inside its directory.
pub const SOCKET_FILE_NAME: &str = "espctld.sock";

/// The socket path, from the environment or the per-user default.
pub fn default_socket_path() -> PathBuf {
    if let Some(p) = std::env::var_os(ENV_SOCKET).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    socket_dir_without_override().join(SOCKET_FILE_NAME)
}

fn socket_dir_without_override() -> PathBuf {
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(runtime).join("espctl");
    }
    std::env::temp_dir().join(format!("espctl-{}", current_uid()))
}

/// The data directory, from the environment or the platform default.
pub fn default_data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(ENV_HOME).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    directories::ProjectDirs::from("dev", "espctl", "espctl")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join(format!("espctl-data-{}", current_uid())))
}

/// The effective user id (0 on platforms without one).
pub fn current_uid() -> u32 {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        0
    }
}
