//! `espctl build`: the flags of the build-lifecycle spec, validated into one [`BuildMode`], and the
//! Rust no_std path (`--rust-elf`) carried out through `build.rust_elf`.
//!
//! Arguments are handled in two stages: clap parses [`BuildArgs`] as written, then [`BuildArgs::mode`]
//! checks the combinations and says what the invocation means. Only [`BuildMode::RustElf`] runs in this
//! version; ESP-IDF project builds and remote builds are parsed and validated completely, and refused
//! with exit code 2.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use espctl::ClientError;
use espctl_protocol::events::PipelineEvent;
use espctl_protocol::methods::BuildRustElfResult;
use espctl_protocol::methods::{
    BuildLogRead, BuildLogReadParams, BuildRustElf, BuildRustElfParams,
};
use espctl_protocol::task::TaskKind;

use super::output::{self, Color, Output};
use super::{CliError, Outcome};

/// The stage name `--json` reports for bundling a Rust ELF.
const RUST_ELF_STAGE: &str = "bundling";

/// Log lines read per `build.log_read` call.
const LOG_PAGE: u32 = 1000;

#[derive(Debug, Default, Args)]
pub struct BuildArgs {
    /// Project directory (.espctl.toml and .idf-version are read from it) [default: .]
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,

    /// Chip: esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c6, esp32h2, ... [default: the project's
    /// default_target; esp32s3 with --rust-elf]
    #[arg(long, value_name = "CHIP")]
    pub target: Option<String>,

    /// Clean the build directory first (local builds only)
    #[arg(long)]
    pub clean: bool,

    /// Build on this build server instead of locally
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,

    /// Only print the build plan; compile nothing
    #[arg(long)]
    pub local: bool,

    /// Have the build server clone this repository instead of uploading the project (remote only)
    #[arg(long, value_name = "URL")]
    pub git_url: Option<String>,

    /// Branch, tag or commit to check out with --git-url [default: the default branch]
    #[arg(long, value_name = "REF")]
    pub git_ref: Option<String>,

    /// Pin the ESP-IDF version [default: .idf-version, then .espctl.toml, then the default]
    #[arg(long, value_name = "VER")]
    pub idf_version: Option<String>,

    /// Also write an SPDX SBOM to build/sbom.spdx
    #[arg(long)]
    pub sbom: bool,

    /// Keep the unstripped application ELF for later JTAG debugging
    #[arg(long)]
    pub elf: bool,

    /// Make a flash bundle from this Rust no_std ELF
    #[arg(long, value_name = "ELF")]
    pub rust_elf: Option<PathBuf>,

    /// Where to write the bundle (with --rust-elf) [default: <elf>-flash-bundle.tar.gz next to the ELF]
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// debug (default: build/, sdkconfig) or release (build-release/, sdkconfig.release)
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<super::plan::ProfileArg>,

    /// Build without network access (inside the sandbox)
    #[arg(long)]
    pub no_network: bool,

    /// Recipe parameter KEY=VALUE: cmake.<VAR>=<value>, sdkconfig.<CONFIG_X>=<value>, build_dir=<dir>, jobs=<n>
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,

    /// Print the task id and return at once instead of following the build
    #[arg(long)]
    pub detach: bool,
}

/// What a validated `espctl build` invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildMode {
    /// Bundle a Rust no_std ELF.
    RustElf {
        elf: PathBuf,
        target: Option<String>,
        out: Option<PathBuf>,
    },
    /// Compile an ESP-IDF project with the local daemon.
    Project(ProjectBuild),
    /// `--local`: print the build plan without compiling.
    Plan(ProjectBuild),
    /// `--remote` and/or `--git-url`: build on a build server.
    Remote {
        url: Option<String>,
        git_url: Option<String>,
        git_ref: Option<String>,
        project: ProjectBuild,
    },
}

/// The settings every ESP-IDF project build shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectBuild {
    pub path: PathBuf,
    pub target: Option<String>,
    pub clean: bool,
    pub idf_version: Option<String>,
    pub sbom: bool,
    pub keep_elf: bool,
    pub profile: Option<super::plan::ProfileArg>,
    pub no_network: bool,
    pub params: Vec<String>,
    pub detach: bool,
}

impl BuildArgs {
    /// Check the flag combinations and say what they mean.
    pub fn mode(&self) -> Result<BuildMode, CliError> {
        if let Some(elf) = &self.rust_elf {
            let mut conflicts = Vec::new();
            if self.path.is_some() {
                conflicts.push("a project PATH");
            }
            for (set, flag) in [
                (self.profile.is_some(), "--profile"),
                (self.no_network, "--no-network"),
                (!self.params.is_empty(), "--param"),
                (self.detach, "--detach"),
                (self.remote.is_some(), "--remote"),
                (self.local, "--local"),
                (self.git_url.is_some(), "--git-url"),
                (self.git_ref.is_some(), "--git-ref"),
                (self.clean, "--clean"),
                (self.sbom, "--sbom"),
                (self.idf_version.is_some(), "--idf-version"),
                (self.elf, "--elf"),
            ] {
                if set {
                    conflicts.push(flag);
                }
            }
            if !conflicts.is_empty() {
                return Err(CliError::usage(format!(
                    "--rust-elf cannot be combined with {}: a Rust no_std ELF is bundled locally \
                     as it is, without ESP-IDF",
                    join_words(&conflicts)
                ))
                .with_hint(
                    "use `espctl build --rust-elf <ELF> [--target <chip>] [--out <bundle>]`",
                ));
            }
            return Ok(BuildMode::RustElf {
                elf: elf.clone(),
                target: self.target.clone(),
                out: self.out.clone(),
            });
        }
        if self.out.is_some() {
            return Err(CliError::usage("--out requires --rust-elf").with_hint(
                "ESP-IDF project builds write build/flash_bundle.tar.gz in the project",
            ));
        }
        if self.remote.is_some() && self.local {
            return Err(CliError::usage(
                "--remote and --local conflict: --local only prints the build plan, --remote builds \
                 on a server",
            ));
        }
        if self.git_ref.is_some() && self.git_url.is_none() {
            return Err(CliError::usage("--git-ref requires --git-url"));
        }
        if self.git_url.is_some() && self.local {
            return Err(CliError::usage(
                "--git-url is for remote builds and cannot be combined with --local",
            ));
        }
        let project = ProjectBuild {
            path: self.path.clone().unwrap_or_else(|| PathBuf::from(".")),
            target: self.target.clone(),
            clean: self.clean,
            idf_version: self.idf_version.clone(),
            sbom: self.sbom,
            keep_elf: self.elf,
            profile: self.profile,
            no_network: self.no_network,
            params: self.params.clone(),
            detach: self.detach,
        };
        if self.remote.is_some() || self.git_url.is_some() {
            return Ok(BuildMode::Remote {
                url: self.remote.clone(),
                git_url: self.git_url.clone(),
                git_ref: self.git_ref.clone(),
                project,
            });
        }
        if self.local {
            return Ok(BuildMode::Plan(project));
        }
        Ok(BuildMode::Project(project))
    }
}

/// "a", "a and b", "a, b and c".
fn join_words(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

pub async fn run(args: BuildArgs, socket: &Path, out: Output) -> Outcome {
    let result = run_mode(args, socket, out).await;
    if out.json
        && let Err(err) = &result
    {
        // Whatever failed, the stream ends with exactly one `error` event.
        output::json_line(&error_event(err))?;
    }
    result
}

async fn run_mode(args: BuildArgs, socket: &Path, out: Output) -> Outcome {
    match args.mode()? {
        BuildMode::RustElf {
            elf,
            target,
            out: bundle,
        } => rust_elf(&elf, target, bundle.as_deref(), socket, out).await,
        BuildMode::Remote { .. } => Err(CliError::usage(
            "remote builds are not available in this version of espctl yet",
        )
        .with_hint("build Rust no_std firmware with `espctl build --rust-elf <ELF>`")
        .into()),
        BuildMode::Plan(project) => {
            let args = super::plan::PlanArgs {
                path: Some(project.path.clone()),
                target: project.target.clone(),
                profile: project.profile,
                clean: project.clean,
                idf_version: project.idf_version.clone(),
                params: project.params.clone(),
            };
            super::plan::plan(args, socket, out).await
        }
        BuildMode::Project(project) => {
            let params = espctl_protocol::methods::BuildStartParams {
                path: super::plan::project_path(Some(&project.path))?,
                target: project.target.clone(),
                profile: project.profile.map(Into::into),
                idf_version: project.idf_version.clone(),
                clean: project.clean,
                params: super::plan::parse_params(&project.params)?,
                sbom: project.sbom,
                elf: project.keep_elf,
                no_network: project.no_network,
                env: super::plan::caller_env(),
            };
            super::project_build::run(
                super::project_build::ProjectBuildArgs {
                    params,
                    detach: project.detach,
                },
                socket,
                out,
            )
            .await
        }
    }
}

/// A path made absolute against the current directory (the daemon has its own working directory).
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

async fn rust_elf(
    elf: &Path,
    target: Option<String>,
    bundle: Option<&Path>,
    socket: &Path,
    out: Output,
) -> Outcome {
    let params = BuildRustElfParams {
        elf_path: absolute(elf)?.to_string_lossy().into_owned(),
        target,
        out_path: bundle
            .map(absolute)
            .transpose()?
            .map(|p| p.to_string_lossy().into_owned()),
        flash_mode: None,
        flash_freq: None,
        flash_size: None,
    };
    let spinner = out.progress.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!("bundling {}", elf.display()));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    let outcome = async {
        let client = super::connect(socket).await?;
        let result = client.call::<BuildRustElf>(&params).await?;
        Ok::<_, ClientError>((client, result))
    }
    .await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let (client, result) = outcome?;
    if out.json {
        for event in success_events(&client, &result).await? {
            output::json_line(&event)?;
        }
    } else {
        for line in summary(&result, &out) {
            output::line(&line)?;
        }
    }
    Ok(0)
}

/// The `--json` stream of a finished bundle: the task, its stage with every log line, the manifest.
async fn success_events(
    client: &espctl::Client,
    result: &BuildRustElfResult,
) -> anyhow::Result<Vec<PipelineEvent>> {
    let mut events = vec![
        PipelineEvent::Task {
            task_id: result.task_id.to_string(),
            kind: TaskKind::RustElf.as_str().to_string(),
        },
        PipelineEvent::StageStart {
            stage: RUST_ELF_STAGE.to_string(),
        },
    ];
    let mut offset = 0;
    loop {
        let chunk = client
            .call::<BuildLogRead>(&BuildLogReadParams {
                task_id: result.task_id.clone(),
                offset: Some(offset),
                limit: Some(LOG_PAGE),
            })
            .await
            .context("reading the task log")?;
        let read = chunk.lines.len();
        events.extend(
            chunk
                .lines
                .into_iter()
                .map(|line| PipelineEvent::Log { line }),
        );
        if chunk.eof || read == 0 || chunk.next_offset >= chunk.total_lines {
            break;
        }
        offset = chunk.next_offset;
    }
    events.push(PipelineEvent::StageEnd {
        stage: RUST_ELF_STAGE.to_string(),
        ok: true,
    });
    events.push(PipelineEvent::Manifest {
        task_id: result.task_id.to_string(),
        bundle_path: result.bundle_path.clone(),
        bundle_size_bytes: result.bundle_size_bytes,
        manifest: Box::new(result.manifest.clone()),
    });
    Ok(events)
}

/// The final `error` event for a failed build.
pub fn error_event(err: &anyhow::Error) -> PipelineEvent {
    let exit_code = super::error_exit_code(err);
    let kind = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<ClientError>().map(ClientError::kind))
        .unwrap_or_else(|| {
            let kind = if exit_code == 2 {
                "invalid_input"
            } else {
                "runtime"
            };
            kind.to_string()
        });
    PipelineEvent::Error {
        message: format!("{err:#}"),
        kind,
        exit_code,
        hint: super::error_hint(err),
        task_id: err.chain().find_map(|cause| {
            cause
                .downcast_ref::<ClientError>()
                .and_then(ClientError::task_id)
        }),
    }
}

/// The human summary of a bundle.
pub fn summary(result: &BuildRustElfResult, out: &Output) -> Vec<String> {
    let manifest = &result.manifest;
    let label = |name: &str| out.paint(Color::Bold, &format!("{name:<9}"));
    let mut lines = vec![
        format!(
            "{} {}",
            label("Bundle"),
            out.paint(Color::Green, &result.bundle_path)
        ),
        format!(
            "{} {}",
            label("Size"),
            output::size(result.bundle_size_bytes)
        ),
        format!("{} {}", label("Target"), manifest.build.target),
        format!(
            "{} {} (ref {}, {})",
            label("Project"),
            manifest.build.project,
            manifest.build.git_ref,
            manifest.build.idf_version
        ),
    ];
    for (i, segment) in manifest.flash.segments.iter().enumerate() {
        let name = if i == 0 { "Segments" } else { "" };
        lines.push(format!(
            "{} {:<8} {}  sha256 {}",
            label(name),
            segment.offset,
            segment.file,
            output::short_hash(&segment.sha256)
        ));
    }
    lines.push(format!(
        "{} mode {}, freq {}, size {}",
        label("Flash"),
        manifest.flash.flash_mode,
        manifest.flash.flash_freq,
        manifest.flash.flash_size
    ));
    lines.push(format!("{} {}", label("Task"), result.task_id));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use espctl_protocol::bundle::{Manifest, ManifestBuild, ManifestFlash, Segment};
    use espctl_protocol::{ErrorCode, ErrorData};

    fn rust_elf_args() -> BuildArgs {
        BuildArgs {
            rust_elf: Some(PathBuf::from("app.elf")),
            ..BuildArgs::default()
        }
    }

    #[test]
    fn rust_elf_alone_or_with_target_and_out_is_valid() {
        let mut args = rust_elf_args();
        args.target = Some("esp32c3".into());
        args.out = Some(PathBuf::from("b.tar.gz"));
        assert_eq!(
            args.mode().unwrap(),
            BuildMode::RustElf {
                elf: PathBuf::from("app.elf"),
                target: Some("esp32c3".into()),
                out: Some(PathBuf::from("b.tar.gz")),
            }
        );
    }

    #[test]
    fn rust_elf_excludes_every_project_flag() {
        type Setter = fn(&mut BuildArgs);
        let cases: [(&str, Setter); 9] = [
            ("--remote", |a| a.remote = Some("https://x".into())),
            ("--local", |a| a.local = true),
            ("--git-url", |a| a.git_url = Some("https://g".into())),
            ("--git-ref", |a| a.git_ref = Some("v1".into())),
            ("--clean", |a| a.clean = true),
            ("--sbom", |a| a.sbom = true),
            ("--idf-version", |a| a.idf_version = Some("v5.3".into())),
            ("--elf", |a| a.elf = true),
            ("a project PATH", |a| a.path = Some(PathBuf::from("proj"))),
        ];
        for (flag, set) in cases {
            let mut args = rust_elf_args();
            set(&mut args);
            let err = args.mode().unwrap_err();
            assert_eq!(err.exit_code, 2, "{flag}");
            assert!(err.message.contains(flag), "{flag}: {}", err.message);
            assert!(err.message.starts_with("--rust-elf cannot be combined"));
        }
        let mut args = rust_elf_args();
        args.clean = true;
        args.sbom = true;
        args.local = true;
        let err = args.mode().unwrap_err();
        assert!(
            err.message.contains("--local, --clean and --sbom"),
            "{}",
            err.message
        );
    }

    #[test]
    fn out_requires_rust_elf() {
        let args = BuildArgs {
            out: Some(PathBuf::from("x.tar.gz")),
            ..BuildArgs::default()
        };
        let err = args.mode().unwrap_err();
        assert_eq!(err.exit_code, 2);
        assert_eq!(err.message, "--out requires --rust-elf");
    }

    #[test]
    fn project_modes_follow_the_mode_resolution() {
        let plain = BuildArgs::default().mode().unwrap();
        let BuildMode::Project(project) = plain else {
            panic!("plain build is a project build")
        };
        assert_eq!(project.path, PathBuf::from("."));

        let local = BuildArgs {
            local: true,
            clean: true,
            target: Some("esp32s3".into()),
            ..BuildArgs::default()
        };
        assert!(matches!(local.mode().unwrap(), BuildMode::Plan(p) if p.clean));

        let remote = BuildArgs {
            remote: Some("https://staging.example.com".into()),
            ..BuildArgs::default()
        };
        assert!(matches!(
            remote.mode().unwrap(),
            BuildMode::Remote { url: Some(_), .. }
        ));

        let git = BuildArgs {
            git_url: Some("https://github.com/espressif/esp-idf".into()),
            git_ref: Some("v5.3.1".into()),
            ..BuildArgs::default()
        };
        assert!(matches!(
            git.mode().unwrap(),
            BuildMode::Remote { url: None, .. }
        ));
    }

    #[test]
    fn conflicting_project_flags_are_usage_errors() {
        let both = BuildArgs {
            remote: Some("https://x".into()),
            local: true,
            ..BuildArgs::default()
        };
        assert_eq!(both.mode().unwrap_err().exit_code, 2);
        let dangling_ref = BuildArgs {
            git_ref: Some("main".into()),
            ..BuildArgs::default()
        };
        assert_eq!(
            dangling_ref.mode().unwrap_err().message,
            "--git-ref requires --git-url"
        );
        let local_git = BuildArgs {
            git_url: Some("https://g".into()),
            local: true,
            ..BuildArgs::default()
        };
        assert_eq!(local_git.mode().unwrap_err().exit_code, 2);
    }

    #[test]
    fn words_join_like_prose() {
        assert_eq!(join_words(&["a"]), "a");
        assert_eq!(join_words(&["a", "b"]), "a and b");
        assert_eq!(join_words(&["a", "b", "c"]), "a, b and c");
    }

    fn result() -> BuildRustElfResult {
        BuildRustElfResult {
            bundle_path: "/home/dev/blink-flash-bundle.tar.gz".into(),
            bundle_size_bytes: 119675,
            manifest: Manifest {
                schema_version: 1,
                build: ManifestBuild {
                    job_id: "20260505T025256Z-blink".into(),
                    task_id: None,
                    project: "blink".into(),
                    git_ref: "unknown".into(),
                    idf_version: "n/a-rust-no_std".into(),
                    target: "esp32c3".into(),
                    created_at: "2026-05-05T02:52:56Z".into(),
                },
                flash: ManifestFlash {
                    segments: vec![Segment {
                        offset: "0x0".into(),
                        file: "files/firmware.bin".into(),
                        sha256: "e1d36f00112233445566778899aabbccddeeff00112233445566778899aabbcc"
                            .into(),
                    }],
                    flash_mode: "dio".into(),
                    flash_freq: "80mhz".into(),
                    flash_size: "16mb".into(),
                },
            },
            task_id: "0123456789abcdef0123456789abcdef".parse().unwrap(),
        }
    }

    #[test]
    fn summary_names_bundle_segments_flash_and_task() {
        let lines = summary(&result(), &Output::plain(false));
        assert_eq!(
            lines,
            vec![
                "Bundle    /home/dev/blink-flash-bundle.tar.gz",
                "Size      119675 bytes (116.9 KiB)",
                "Target    esp32c3",
                "Project   blink (ref unknown, n/a-rust-no_std)",
                "Segments  0x0      files/firmware.bin  sha256 e1d36f001122",
                "Flash     mode dio, freq 80mhz, size 16mb",
                "Task      0123456789abcdef0123456789abcdef",
            ]
        );
    }

    #[test]
    fn error_events_carry_the_daemon_error() {
        let err = ClientError::Daemon {
            code: ErrorCode::InvalidTarget.code(),
            message: "unknown target `esp99`".into(),
            data: Some(ErrorData {
                kind: "invalid_target".into(),
                exit_code: 2,
                hint: Some("use esp32c3".into()),
                task_id: None,
            }),
        };
        let json = serde_json::to_value(error_event(&anyhow::Error::new(err))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "event": "error",
                "message": "unknown target `esp99`",
                "kind": "invalid_target",
                "exit_code": 2,
                "hint": "use esp32c3",
            })
        );
        let usage = anyhow::Error::new(CliError::usage("--out requires --rust-elf"));
        let json = serde_json::to_value(error_event(&usage)).unwrap();
        assert_eq!(json["kind"], "invalid_input");
        assert_eq!(json["exit_code"], 2);
    }
}
