//! What `make clean` deletes in a legacy project, and what a full clean (the whole build
//! directory) deletes.
//!
//! `make clean` runs, for each component, the wrapper's `clean` target in the component build
//! directory — `rm -f` of the library, the objects and their `.d` files, the embedded-file objects
//! and the copies they were made from, `COMPONENT_EXTRA_CLEAN` (relative to the component build
//! directory, where the shell expands any glob) and `component_project_vars.mk` — then removes the
//! app's ELF, binary and map, then the generated configuration (`include/config/` and
//! `include/sdkconfig.h` under the build directory). Directories are left in place.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use espctl_protocol::plan::{CleanPlan, CleanScope};

use super::MakeComponent;
use super::paths;

/// Paths the clean targets: files to `rm -f` and directories to `rm -rf` (absolute).
pub(crate) struct CleanTargets {
    pub files: BTreeSet<PathBuf>,
    pub dirs: BTreeSet<PathBuf>,
}

/// The app files, named after the project.
pub(crate) fn app_files(build_dir: &Path, project_name: &str) -> [PathBuf; 3] {
    let name = project_name.trim_matches('"');
    [
        build_dir.join(format!("{name}.elf")),
        build_dir.join(format!("{name}.bin")),
        build_dir.join(format!("{name}.map")),
    ]
}

/// `$(COMPONENT_OBJS:.o=.d)`: words ending in `.o` get `.d`, others stay as they are.
fn dep_file(obj: &Path) -> PathBuf {
    let s = obj.to_string_lossy();
    match s.strip_suffix(".o") {
        Some(stem) => PathBuf::from(format!("{stem}.d")),
        None => obj.to_path_buf(),
    }
}

pub(crate) fn make_clean_targets(
    components: &[MakeComponent],
    build_dir: &Path,
    project_name: &str,
    warnings: &mut Vec<String>,
) -> CleanTargets {
    let mut files = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    for c in components {
        let b = &c.build_dir;
        files.insert(b.join("component_project_vars.mk"));
        if c.config_only {
            continue;
        }
        if c.own_clean_target {
            warnings.push(format!(
                "component {}: COMPONENT_OWNCLEANTARGET is set: what its own `clean` target deletes \
                 is not predicted",
                c.name
            ));
            files.remove(&b.join("component_project_vars.mk"));
            continue;
        }
        files.insert(c.library.clone());
        for obj in &c.objs {
            files.insert(paths::resolve(b, obj));
            files.insert(paths::resolve(b, &dep_file(obj)));
        }
        for obj in &c.embed_objs {
            files.insert(paths::resolve(b, obj));
        }
        for (list, sub) in [
            (&c.embed_files, "embed_bin"),
            (&c.embed_txtfiles, "embed_txt"),
        ] {
            for f in list {
                if let Some(name) = f.file_name() {
                    files.insert(b.join(sub).join(name));
                }
            }
        }
        for extra in &c.extra_clean {
            let text = extra.to_string_lossy();
            let expanded: Vec<PathBuf> = if paths::has_glob(&text) {
                paths::wildcard(&text, b)
                    .into_iter()
                    .map(|m| paths::resolve(b, Path::new(&m)))
                    .collect()
            } else {
                vec![paths::resolve(b, extra)]
            };
            for p in expanded {
                if p.is_dir() {
                    warnings.push(format!(
                        "component {}: COMPONENT_EXTRA_CLEAN entry {} is a directory: `rm -f` \
                         refuses it and make clean stops",
                        c.name,
                        extra.display()
                    ));
                    continue;
                }
                files.insert(p);
            }
        }
    }
    for f in app_files(build_dir, project_name) {
        files.insert(f);
    }
    dirs.insert(build_dir.join("include").join("config"));
    files.insert(build_dir.join("include").join("sdkconfig.h"));
    CleanTargets { files, dirs }
}

/// Regular files (and symlinks) under `dir`, not following symlinks.
fn files_under(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&p, out),
            Ok(_) => {
                out.insert(p);
            }
            Err(_) => {}
        }
    }
}

/// The plan for a scope: paths relative to the project directory (directories end with `/`),
/// sorted and de-duplicated; totals over the files that exist now.
pub(crate) fn to_plan(scope: CleanScope, targets: &CleanTargets, project_dir: &Path) -> CleanPlan {
    let mut shown = BTreeSet::new();
    let mut existing = BTreeSet::new();
    for f in &targets.files {
        shown.insert(paths::relative_to(f, project_dir).display().to_string());
        if let Ok(meta) = f.symlink_metadata()
            && !meta.is_dir()
        {
            existing.insert(f.clone());
        }
    }
    for d in &targets.dirs {
        shown.insert(format!("{}/", paths::relative_to(d, project_dir).display()));
        files_under(d, &mut existing);
    }
    let total_bytes = existing
        .iter()
        .filter_map(|p| p.symlink_metadata().ok())
        .map(|m| m.len())
        .sum();
    CleanPlan {
        scope,
        would_delete: shown.into_iter().collect(),
        total_files: existing.len() as u64,
        total_bytes,
    }
}

/// A full clean: everything in the build directory.
pub(crate) fn fullclean_targets(build_dir: &Path) -> CleanTargets {
    CleanTargets {
        files: BTreeSet::new(),
        dirs: BTreeSet::from([build_dir.to_path_buf()]),
    }
}
