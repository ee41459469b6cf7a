//! Support for the integration tests: find the real binaries, run a real daemon on a throwaway socket
//! and data directory, and run the real CLI against it.
//!
//! Nothing here is a fake: [`TestDaemon`] is the `espctld` binary the workspace builds, listening on a
//! Unix socket in a temp dir, with its SQLite store and logs in another.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory the workspace's binaries are built into (the test executable lives in `deps/` below it).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace binaries first (`cargo build --workspace` or `cargo test --workspace`)",
        path.display()
    );
    path
}

/// The `espctld` binary.
pub fn espctld_bin() -> PathBuf {
    bin("espctld")
}

/// The `espctl` binary.
pub fn espctl_bin() -> PathBuf {
    bin("espctl")
}

/// A real daemon process on a temp socket, killed (and waited for) when dropped.
pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub data_dir: PathBuf,
    pub child: Option<Child>,
}

impl TestDaemon {
    /// Start `espctld --foreground` with no idle timeout and wait until it answers.
    pub fn start() -> TestDaemon {
        Self::start_with(&["--idle-timeout", "0"])
    }

    /// Start with extra daemon arguments.
    pub fn start_with(extra: &[&str]) -> TestDaemon {
        let dir = tempfile::Builder::new()
            .prefix("espctl-it")
            .tempdir()
            .expect("tempdir");
        let socket = dir.path().join("run").join("espctld.sock");
        let data_dir = dir.path().join("data");
        let mut daemon = TestDaemon {
            dir,
            socket,
            data_dir,
            child: None,
        };
        daemon.spawn(extra);
        daemon
    }

    /// (Re)start the daemon process on the same socket and data dir.
    pub fn spawn(&mut self, extra: &[&str]) {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(espctld_bin());
        // If the test process dies (a timeout, a panic in another thread), its daemons die with it.
        // SAFETY: prctl is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .arg("--foreground")
            .arg("--socket")
            .arg(&self.socket)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(extra)
            .env("RUST_LOG", "espctld=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn espctld");
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(10));
    }

    /// Block until the socket accepts connections.
    pub fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        loop {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("espctld exited early with {status}: {err}");
            }
            assert!(
                start.elapsed() < timeout,
                "espctld did not become ready within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL the daemon and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Wait for the daemon process to exit by itself, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A `Command` for the real `espctl` pointed at this daemon (auto-start disabled by the socket
    /// being live; `ESPCTLD_BIN` set so an auto-start would start the same build of the daemon).
    pub fn espctl(&self) -> Command {
        let mut cmd = Command::new(espctl_bin());
        cmd.env("ESPCTL_SOCKET", &self.socket)
            .env("ESPCTL_HOME", &self.data_dir)
            .env("ESPCTLD_BIN", espctld_bin())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Run `espctl ARGS` and return its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.espctl().args(args).output().expect("run espctl")
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// stdout of a finished command as UTF-8, with stderr appended on failure for readable asserts.
pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Poll `check` every 10 ms until it returns Some, or panic after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True when a process with this pid exists (and is not a zombie we could reap).
pub fn process_alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
    match stat {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Path of a file in the repository.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// A WebSocket JSON-RPC client connected to a daemon socket (the same transport editors use).
pub async fn ws_client(socket: &Path) -> jsonrpsee::core::client::Client {
    use interprocess::local_socket::traits::tokio::Stream as _;
    use interprocess::local_socket::{GenericFilePath, ToFsName};
    let name = socket.to_fs_name::<GenericFilePath>().expect("socket name");
    let stream = interprocess::local_socket::tokio::Stream::connect(name)
        .await
        .expect("connect to the daemon socket");
    let uri: jsonrpsee::client_transport::ws::Url = "ws://localhost/".parse().expect("url");
    let (tx, rx) = jsonrpsee::client_transport::ws::WsTransportClientBuilder::default()
        .max_request_size(64 * 1024 * 1024)
        .max_response_size(64 * 1024 * 1024)
        .build_with_stream(uri, stream)
        .await
        .expect("websocket handshake");
    jsonrpsee::core::client::ClientBuilder::default()
        .max_buffer_capacity_per_subscription(100_000)
        .build_with_tokio(tx, rx)
}

/// Sends one raw HTTP/1.1 request over the socket and returns the whole response (status line,
/// headers and body), or an error when the daemon closed the connection without answering.
pub fn http_raw(socket: &Path, request: &[u8]) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// POSTs a JSON-RPC body over HTTP on the socket; returns the parsed JSON body of the response.
pub fn http_post(socket: &Path, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let resp = http_raw(socket, &req)?;
    let status: u16 = resp
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Creates a named pipe (FIFO). A task that reads it blocks until the test writes: a real input that
/// is slow to arrive, which keeps a task running for as long as a test needs.
pub fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

/// Whether `cmake` and `ninja` are on PATH (tests of CMake/Ninja behaviour skip without them).
pub fn cmake_and_ninja_available() -> bool {
    ["cmake", "ninja"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// Run a command, panicking with its output if it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", describe(&out));
    out
}

/// Writes a small plain CMake C project into `dir`: a static library from two sources and a
/// generated source (a custom command with a byproduct), a header generated into the build
/// directory, an executable linking the library, a custom target with a byproduct, and
/// `ADDITIONAL_CLEAN_FILES` on a target (a file and a directory) and on the directory.
pub fn write_demo_cmake_project(dir: &Path) {
    let w = |rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    // The generated text ends with `;`: harmless after `#define VERSION 3`, needed after the table.
    w("gen.cmake", "file(WRITE \"${OUT}\" \"${TEXT};\\n\")\n");
    w("src/a.c", "int a(void) { return 1; }\n");
    w(
        "src/b.c",
        "#include \"version.h\"\nint b(void) { return VERSION; }\n",
    );
    w(
        "src/main.c",
        "int a(void);\nint b(void);\nextern int table[];\nint main(void) { return a() + b() + table[0]; }\n",
    );
    w(
        "CMakeLists.txt",
        r#"cmake_minimum_required(VERSION 3.16)
project(demo C)
add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/gen/version.h
  COMMAND ${CMAKE_COMMAND} -DOUT=${CMAKE_CURRENT_BINARY_DIR}/gen/version.h "-DTEXT=#define VERSION 3" -P ${CMAKE_CURRENT_SOURCE_DIR}/gen.cmake
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/gen.cmake VERBATIM)
add_custom_command(OUTPUT table.c BYPRODUCTS table.log
  COMMAND ${CMAKE_COMMAND} -DOUT=table.c "-DTEXT=int table[] = {1, 2, 3}" -P ${CMAKE_CURRENT_SOURCE_DIR}/gen.cmake
  COMMAND ${CMAKE_COMMAND} -E touch table.log
  VERBATIM)
add_library(util STATIC src/a.c src/b.c ${CMAKE_CURRENT_BINARY_DIR}/table.c ${CMAKE_CURRENT_BINARY_DIR}/gen/version.h)
target_include_directories(util PUBLIC ${CMAKE_CURRENT_BINARY_DIR}/gen)
add_executable(app src/main.c)
target_link_libraries(app util)
set_property(TARGET app PROPERTY ADDITIONAL_CLEAN_FILES extra.txt ${CMAKE_CURRENT_BINARY_DIR}/extradir)
set_property(DIRECTORY PROPERTY ADDITIONAL_CLEAN_FILES dirclean.txt)
add_custom_target(stamp ALL COMMAND ${CMAKE_COMMAND} -E touch stamp.txt BYPRODUCTS stamp.txt)
"#,
    );
}

/// `cmake -G Ninja -S project -B build` then `cmake --build build`.
pub fn cmake_configure_and_build(project: &Path, build: &Path) {
    run_ok(
        Command::new("cmake")
            .arg("-G")
            .arg("Ninja")
            .arg("-S")
            .arg(project)
            .arg("-B")
            .arg(build),
    );
    run_ok(Command::new("cmake").arg("--build").arg(build));
}

/// One entry of [`tree_snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub is_dir: bool,
    pub len: u64,
    pub mtime: std::time::SystemTime,
}

/// Every file, symlink and directory under `root` (not following symlinks), with size and mtime.
pub fn tree_snapshot(root: &Path) -> std::collections::BTreeMap<PathBuf, TreeEntry> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in rd.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.insert(
                path,
                TreeEntry {
                    is_dir: meta.is_dir(),
                    len: meta.len(),
                    mtime: meta.modified().expect("mtime"),
                },
            );
        }
    }
    out
}

/// Creates and builds a real CMake + Ninja project under `dir` with `n_sources` tiny C sources
/// (spread over static libraries of 500 sources each, linked into one executable), and returns its
/// build directory. The build keeps the compilers' depfiles (`ninja -d keepdepfile`), so the build
/// directory holds about `2 * n_sources` files: `10_000` sources make the ~20,000-file tree the
/// clean-plan benchmark compares with `ninja -n -t clean`. Building takes a while (all sources are
/// compiled, two at a time).
pub fn make_large_cmake_build(dir: &Path, n_sources: usize) -> PathBuf {
    let project = dir.join("large");
    let build = project.join("build");
    let per_lib = 500;
    let libs = n_sources.div_ceil(per_lib).max(1);
    let mut cmake = String::from("cmake_minimum_required(VERSION 3.16)\nproject(large C)\n");
    let mut main = String::new();
    for lib in 0..libs {
        let lib_dir = project.join(format!("lib{lib}"));
        std::fs::create_dir_all(&lib_dir).unwrap();
        let start = lib * per_lib;
        let end = ((lib + 1) * per_lib).min(n_sources);
        let mut sources = String::new();
        for i in start..end {
            std::fs::write(
                lib_dir.join(format!("f{i}.c")),
                format!("int f{i}(int x) {{ return x + {i}; }}\n"),
            )
            .unwrap();
            sources.push_str(&format!(" lib{lib}/f{i}.c"));
        }
        cmake.push_str(&format!("add_library(lib{lib} STATIC{sources})\n"));
        if start < end {
            main.push_str(&format!("int f{start}(int);\n"));
        }
    }
    main.push_str("int main(void) { return 0");
    for lib in 0..libs {
        let start = lib * per_lib;
        if start < n_sources {
            main.push_str(&format!(" + f{start}(0)"));
        }
    }
    main.push_str("; }\n");
    std::fs::write(project.join("main.c"), main).unwrap();
    cmake.push_str("add_executable(app main.c)\ntarget_link_libraries(app");
    for lib in 0..libs {
        cmake.push_str(&format!(" lib{lib}"));
    }
    cmake.push_str(")\n");
    std::fs::write(project.join("CMakeLists.txt"), cmake).unwrap();
    run_ok(
        Command::new("cmake")
            .arg("-G")
            .arg("Ninja")
            .arg("-S")
            .arg(&project)
            .arg("-B")
            .arg(&build),
    );
    run_ok(
        Command::new("ninja")
            .arg("-C")
            .arg(&build)
            .args(["-j2", "-d", "keepdepfile"]),
    );
    build
}

/// The stand-in ESP-IDF (`tests/fixtures/standin-idf`): an ESP-IDF tree for tests that configures with real
/// CMake and kconfgen and builds with the host's compilers (see its README.md).
pub fn standin_idf_path() -> PathBuf {
    repo_path("tests/fixtures/standin-idf")
        .canonicalize()
        .expect("tests/fixtures/standin-idf")
}

/// A copy of the fixture project `tests/fixtures/projects/<name>` in a fresh temp dir: the temp dir's root
/// holds what the fixture's directory holds.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let source = repo_path(&format!("tests/fixtures/projects/{name}"));
    assert!(source.is_dir(), "no fixture project {}", source.display());
    let dir = tempfile::Builder::new()
        .prefix(&format!("espctl-{name}-"))
        .tempdir()
        .expect("tempdir");
    copy_tree(&source, dir.path());
    dir
}

/// Copies the files and directories under `from` into `to` (created if needed).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let source = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&source, &target);
        } else {
            std::fs::copy(&source, &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        }
    }
}

fn peers_required() -> bool {
    std::env::var("ESPCTL_REQUIRE_PEERS").as_deref() == Ok("1")
}

/// A Python that can `import kconfgen` (esp-idf-kconfig): `$IDF_PYTHON`, else `python3` on PATH.
pub fn kconfgen_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("IDF_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let works = Command::new(&candidate)
        .args(["-c", "import kconfgen"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(candidate)
}

/// The environment the stand-in ESP-IDF's `export.sh` sets up (IDF_PATH, PATH with the stand-in cross tools and
/// the Python environment first, IDF_PYTHON_ENV_PATH, ESP_IDF_VERSION), found by sourcing it in bash with
/// `IDF_PYTHON` pointing at a Python that has kconfgen.
///
/// `None`, after a message, when CMake, Ninja, bash or such a Python is missing: the caller skips its test.
/// With `ESPCTL_REQUIRE_PEERS=1` a missing peer is a failure instead.
pub fn standin_env() -> Option<Vec<(String, String)>> {
    let skip = |what: &str| -> Option<Vec<(String, String)>> {
        if peers_required() {
            panic!("ESPCTL_REQUIRE_PEERS=1 but {what}");
        }
        eprintln!("skipping: {what}");
        None
    };
    if !cmake_and_ninja_available() {
        return skip("cmake or ninja is not installed");
    }
    let Some(python) = kconfgen_python() else {
        return skip("no Python with esp-idf-kconfig (kconfgen) was found: set IDF_PYTHON");
    };
    let export = standin_idf_path().join("export.sh");
    let script = format!(
        ". '{}' >/dev/null && printf '%s\\0' \"$IDF_PATH\" \"$PATH\" \"$IDF_PYTHON_ENV_PATH\" \"$ESP_IDF_VERSION\"",
        export.display()
    );
    let out = match Command::new("bash")
        .args(["-c", &script])
        .env("IDF_PYTHON", &python)
        .env_remove("IDF_PATH")
        .output()
    {
        Ok(out) => out,
        Err(_) => return skip("bash is not installed"),
    };
    assert!(
        out.status.success(),
        "sourcing {} failed:\n{}",
        export.display(),
        describe(&out)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 environment");
    let values: Vec<&str> = text.split('\0').collect();
    let names = ["IDF_PATH", "PATH", "IDF_PYTHON_ENV_PATH", "ESP_IDF_VERSION"];
    Some(
        names
            .iter()
            .zip(values)
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
    )
}

/// A current-thread runtime for a test's blocking calls.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// JSON-RPC named params from a JSON object.
pub fn named_params(v: serde_json::Value) -> jsonrpsee::core::params::ObjectParams {
    let mut p = jsonrpsee::core::params::ObjectParams::new();
    for (k, v) in v.as_object().expect("params must be an object") {
        p.insert(k, v.clone()).expect("serializable param");
    }
    p
}

/// Calls `method` on the daemon over a fresh WebSocket connection; the error is the client's text.
pub fn rpc_call(
    socket: &Path,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, String> {
    use jsonrpsee::core::client::ClientT;
    runtime().block_on(async {
        let c = ws_client(socket).await;
        c.request::<serde_json::Value, _>(method, named_params(params))
            .await
            .map_err(|e| e.to_string())
    })
}
