//! The method catalog: every method the daemon answers, listed once.
//!
//! The daemon registers a handler for each entry (and a test checks there is exactly one per entry), the
//! CLI calls methods by the [`Method`] markers, and the MCP shim derives its tools and resources from the
//! entries marked as tools or resources. Adding a method here is the one step that makes it reach all three.

use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::methods::{self, Method};

/// How a method is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// Request and response.
    Call,
    /// A subscription: the call returns a subscription id, then the daemon sends `notification`
    /// messages until the subscription ends or the client calls `unsubscribe`.
    Subscription {
        notification: &'static str,
        unsubscribe: &'static str,
    },
}

/// Who may use a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Any client, and assistants as an MCP tool.
    Tool,
    /// Any client, but not offered to assistants as a tool: subscriptions (the MCP shim maps some of
    /// them to resources) and read-only listings better served otherwise.
    Client,
    /// Administrative: the daemon's own lifecycle. Never exposed to assistants.
    Admin,
}

/// One method of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct MethodSpec {
    /// The wire name, spelled as the build-lifecycle spec spells it.
    pub name: &'static str,
    /// Other names that reach the same handler (`build` for `build.start`).
    pub aliases: &'static [&'static str],
    /// What it does, written for an assistant: when to use it, what it returns, what to call next.
    pub description: &'static str,
    pub kind: MethodKind,
    pub audience: Audience,
    /// True when the method works on a project and takes its directory as `path`.
    pub project_scoped: bool,
    /// The MCP resource URI template that serves this subscription, if any.
    pub resource_template: Option<&'static str>,
    params_schema: fn(&mut SchemaGenerator) -> Schema,
    result_schema: fn(&mut SchemaGenerator) -> Schema,
}

impl MethodSpec {
    /// JSON Schema of the params object.
    pub fn params_schema(&self) -> Schema {
        (self.params_schema)(&mut SchemaGenerator::default())
    }

    /// JSON Schema of the result (or, for a subscription, of each notification's payload).
    pub fn result_schema(&self) -> Schema {
        (self.result_schema)(&mut SchemaGenerator::default())
    }

    pub fn is_tool(&self) -> bool {
        self.audience == Audience::Tool
    }

    /// The name and its aliases.
    pub fn all_names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

fn root_schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.root_schema_for::<T>()
}

const fn spec<M: Method>(
    aliases: &'static [&'static str],
    description: &'static str,
    kind: MethodKind,
    audience: Audience,
) -> MethodSpec {
    MethodSpec {
        name: M::NAME,
        aliases,
        description,
        kind,
        audience,
        project_scoped: false,
        resource_template: None,
        params_schema: root_schema::<M::Params>,
        result_schema: root_schema::<M::Result>,
    }
}

static CATALOG: &[MethodSpec] = &[
    spec::<methods::DaemonInfo>(
        &[],
        "Describe the running daemon: version, protocol version, pid, uptime, socket, data directory and \
         every method it answers.",
        MethodKind::Call,
        Audience::Admin,
    ),
    spec::<methods::DaemonShutdown>(
        &[],
        "Stop the daemon: refuse new work, cancel running tasks, then exit.",
        MethodKind::Call,
        Audience::Admin,
    ),
    spec::<methods::TaskList>(
        &[],
        "List tasks (builds, bundles), newest first. Filter by `status` and `kind`; `limit` caps the count \
         (default 50). Use it to find a task id you lost, then call build.status or read build://log/{task_id}.",
        MethodKind::Call,
        Audience::Tool,
    ),
    spec::<methods::BuildStatus>(
        &[],
        "Check on a task by task_id. Returns status (pending, running, succeeded, failed, canceled), progress \
         0.0-1.0, phase, timestamps, and on failure the error and exit code; on success the result. Poll every \
         1-3 s at most; prefer subscribing to build://log/{task_id} to follow output.",
        MethodKind::Call,
        Audience::Tool,
    ),
    spec::<methods::BuildCancel>(
        &[],
        "Stop a pending or running task. Best effort: the work is asked to stop, then forced after a short \
         grace period. Canceling a finished task is a no-op that returns its final status.",
        MethodKind::Call,
        Audience::Tool,
    ),
    MethodSpec {
        resource_template: Some("build://log/{task_id}"),
        ..spec::<methods::BuildLog>(
            &[],
            "Subscribe to a task's log: replays lines from `offset`, then sends new lines as they are written, \
             and ends when the task ends (the last notification has eof=true).",
            MethodKind::Subscription {
                notification: "build.log",
                unsubscribe: "build.log_unsubscribe",
            },
            Audience::Client,
        )
    },
    spec::<methods::BuildLogRead>(
        &[],
        "Read a bounded range of a task's log lines. Without `offset` it returns the last `limit` lines \
         (default 1000). Pass `next_offset` back as `offset` to continue; `eof` is true once the task has \
         ended and everything was read.",
        MethodKind::Call,
        Audience::Client,
    ),
    spec::<methods::TaskSubscribe>(
        &[],
        "Subscribe to task changes: sends a task.status notification with the full task on every change of \
         one task (`task_id`) or of all tasks. The current state of a named task is sent at once.",
        MethodKind::Subscription {
            notification: "task.status",
            unsubscribe: "task.unsubscribe",
        },
        Audience::Client,
    ),
    spec::<methods::BuildRustElf>(
        &[],
        "Build a flash bundle from a Rust no_std ELF: merges the second-stage bootloader, a default partition \
         table and the app into one image flashed at 0x0, and writes a tar.gz with manifest.json and \
         files/firmware.bin. Needs an absolute `elf_path`; `target` defaults to esp32s3 (esp32, esp32s2, \
         esp32s3, esp32c2, esp32c3, esp32c6, esp32h2). Waits for the work (well under a second) and returns \
         bundle_path, bundle_size_bytes, manifest and task_id. Next: flash the bundle.",
        MethodKind::Call,
        Audience::Tool,
    ),
    MethodSpec {
        project_scoped: true,
        ..spec::<methods::GenerateBuildPlan>(
            &[],
            "Tell what a build of the project at `path` would do, without running it and without writing \
             anything: recipe_id, the resolved ESP-IDF version and install, target (and which rule chose it), \
             profile, build_dir, command_pipeline (each step's argv, cwd, env and why it is needed), \
             expected_artifacts, components (with declared requirements, sources, include dirs), build_order, \
             warnings and errors, exactness (`configured` from fresh build metadata, else `estimated`) and \
             estimated_duration_secs. Same inputs as `build` (target, profile, idf_version, clean, params). \
             Use it to review a build before starting it, or to answer questions about the project's \
             components; `errors` non-empty means `build` would fail.",
            MethodKind::Call,
            Audience::Tool,
        )
    },
    MethodSpec {
        project_scoped: true,
        ..spec::<methods::GetCleanPlan>(
            &[],
            "Tell what `idf.py clean` (scope `clean`: the build outputs Ninja knows, generator outputs kept) \
             or `idf.py fullclean` (scope `fullclean`: the whole build directory's contents) would delete \
             for the project at `path`, without deleting anything: would_delete (paths relative to the \
             project), total_files and total_bytes. A fullclean of a directory that is not a CMake build \
             directory is refused with the reason.",
            MethodKind::Call,
            Audience::Tool,
        )
    },
    MethodSpec {
        project_scoped: true,
        ..spec::<methods::SetTarget>(
            &[],
            "Record the project's default target chip in `<path>/.espctl.toml` (default_target). \
             Configuration only: nothing is built or reconfigured (use `set_target.run` for idf.py \
             set-target). Later plans and builds without an explicit target use it.",
            MethodKind::Call,
            Audience::Tool,
        )
    },
    MethodSpec {
        project_scoped: true,
        ..spec::<methods::BuildStart>(
            &["build"],
            "Start a firmware build of the ESP-IDF project at `path` in the local daemon; returns at once with \
             task_id and status `pending`. Inputs as for generate_build_plan (target, profile debug|release, \
             idf_version, clean, params) plus sbom and elf (keep the unstripped ELF). Follow it with \
             build.status or, better, by reading build://log/{task_id}; on success build.status's result lists \
             the artifacts and the flash bundle (build/flash_bundle.tar.gz); on failure its error is the first \
             compiler error and `diagnostics` lists every error and warning with file and line.",
            MethodKind::Call,
            Audience::Tool,
        )
    },
    MethodSpec {
        project_scoped: true,
        ..spec::<methods::SetTargetRun>(
            &[],
            "Run idf.py set-target for the project at `path`: a full clean, sdkconfig kept as sdkconfig.old, \
             and a configure for the new `target`; also records it as the project's default. Returns task_id, \
             target and recipe_id `idf_set_target` at once; follow it with build.status.",
            MethodKind::Call,
            Audience::Tool,
        )
    },
    MethodSpec {
        project_scoped: true,
        ..spec::<methods::ProjectWatch>(
            &[],
            "Open the project at `path` in the daemon and follow it: the first plan.changed \
             notification carries the current plan summary and the next build's cost, then one \
             arrives after every settled batch of file changes, with the batch's class \
             (reconfigure, recompile, relink_only, nothing), the reason, the changed paths, the \
             re-planned summary and, once a build directory is configured, what the next build must \
             rebuild (objects_to_rebuild, components, relink, estimated_secs). Clients watching one \
             project share one watcher; it closes with the last subscription.",
            MethodKind::Subscription {
                notification: "plan.changed",
                unsubscribe: "project.unwatch",
            },
            Audience::Client,
        )
    },
    spec::<methods::SbomCreate>(
        &[],
        "Write an SPDX 2.3 SBOM (build/sbom.spdx) for a finished, successful build task: the project, every \
         component with its version, and the toolchain. Returns the path and the number of packages.",
        MethodKind::Call,
        Audience::Tool,
    ),
    spec::<methods::BuildElf>(
        &[],
        "Get the unstripped application ELF a build kept (it must have been started with elf: true), for \
         debugging: returns its path, or copies it to `out_path`.",
        MethodKind::Call,
        Audience::Tool,
    ),
];

/// Every method, in a stable order.
pub fn catalog() -> &'static [MethodSpec] {
    CATALOG
}

/// The entry that answers `name` (its own name or an alias).
pub fn find_method(name: &str) -> Option<&'static MethodSpec> {
    CATALOG.iter().find(|m| m.all_names().any(|n| n == name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for m in catalog() {
            for n in m.all_names() {
                assert!(seen.insert(n), "duplicate method name {n}");
                assert!(
                    n.chars()
                        .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                    "{n} is not a noun.verb name"
                );
            }
            if let MethodKind::Subscription {
                notification,
                unsubscribe,
            } = m.kind
            {
                assert!(seen.insert(unsubscribe), "duplicate {unsubscribe}");
                assert!(!notification.is_empty());
                assert!(!m.is_tool(), "subscriptions are never tools: {}", m.name);
            }
        }
    }

    #[test]
    fn admin_methods_are_not_tools() {
        for m in catalog() {
            if m.name.starts_with("daemon.") {
                assert_eq!(m.audience, Audience::Admin, "{}", m.name);
            }
        }
    }

    #[test]
    fn every_schema_is_an_object_schema() {
        for m in catalog() {
            let params = serde_json::to_value(m.params_schema()).unwrap();
            assert_eq!(params["type"], "object", "{} params: {params}", m.name);
            let result = serde_json::to_value(m.result_schema()).unwrap();
            assert!(result.is_object(), "{} result", m.name);
            assert!(
                m.description.len() > 40,
                "{} needs a real description",
                m.name
            );
        }
    }

    #[test]
    fn find_by_name() {
        assert_eq!(find_method("build.status").unwrap().name, "build.status");
        assert!(find_method("build.nope").is_none());
    }
}
