//! Generated trees for the planner and clean benchmarks.
//!
//! - [`idf_tree`]: an ESP-IDF-sized tree. It is a copy of the stand-in ESP-IDF (its build system in
//!   `tools/`, `export.sh`, the root `Kconfig` and `CMakeLists.txt`, and its real components, which
//!   the common requirements need) with many generated components added to `components/`, and a
//!   project with `main` beside it. The generated components' `CMakeLists.txt` files use the
//!   patterns real ones do: `idf_build_get_property(target IDF_TARGET)` with per-target sources,
//!   `if(CONFIG_...)` choosing sources from options of their own `Kconfig` (bools, a choice, an int,
//!   options of another component), `SRC_DIRS` with `EXCLUDE_SRCS`, an early `return()` for
//!   unsupported targets, two registrations in different branches, `REQUIRES`/`PRIV_REQUIRES`
//!   between them and on ESP-IDF components, and commands recorded after the registration.
//! - [`large_project`]: an ESP-IDF project with many tiny sources in a few components, to be built
//!   with real CMake and Ninja into a large build directory.
//!
//! Everything is deterministic: the same sizes give the same files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The chips the stand-in ESP-IDF knows (its `tools/cmake/toolchain-<target>.cmake` files).
pub const TARGETS: &[&str] = &[
    "esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32c61",
    "esp32h2", "esp32p4", "linux",
];

/// The chip every benchmark plans and configures for (a RISC-V chip).
pub const TARGET: &str = "esp32c3";

/// ESP-IDF components (of the stand-in) the generated ones require here and there.
const IDF_DEPS: &[&str] = &[
    "esp_timer",
    "nvs_flash",
    "esp_event",
    "esp_driver_gpio",
    "esp_partition",
    "spi_flash",
    "vfs",
    "esp_driver_uart",
];

/// Name prefixes, so the tree reads like an SDK rather than a list of numbers.
const FAMILIES: &[&str] = &["drv", "net", "proto", "svc", "util", "periph"];

/// How big a generated tree is.
#[derive(Debug, Clone, Copy)]
pub struct TreeSpec {
    /// Generated components (added to the stand-in's own).
    pub components: usize,
    /// Source files (`.c` and `.h`) over all generated components, roughly.
    pub source_files: usize,
}

/// A generated tree, as written.
#[derive(Debug, Clone)]
pub struct IdfTree {
    /// The ESP-IDF tree (`IDF_PATH`).
    pub idf: PathBuf,
    /// The project (top-level `CMakeLists.txt`, `sdkconfig.defaults`, `main/`).
    pub project: PathBuf,
    /// Generated components, and how many of them return early for [`TARGET`] (never registered).
    pub generated_components: usize,
    pub unsupported_components: usize,
    /// The stand-in's own components copied along.
    pub standin_components: usize,
    /// `.c` and `.h` files written under the generated components.
    pub generated_sources: usize,
    /// `config` entries in the generated `Kconfig` files.
    pub kconfig_symbols: usize,
    /// Files in the whole ESP-IDF tree.
    pub idf_files: usize,
    /// The component whose `CMakeLists.txt` `plan-replan-cmakelists` rewrites.
    pub edit: EditTarget,
}

/// A component `CMakeLists.txt` to rewrite between plans.
#[derive(Debug, Clone)]
pub struct EditTarget {
    pub component: String,
    pub cmakelists: PathBuf,
    pub original: String,
    /// An existing source that the original does not list; odd revisions add it.
    pub extra_source: PathBuf,
}

impl EditTarget {
    /// Revision `rev` of the file: the original with a comment naming the revision, and on odd
    /// revisions one more source. Returns the text and whether it lists the extra source.
    pub fn revision(&self, rev: usize) -> (String, bool) {
        let add = rev % 2 == 1;
        let mut text = format!("# espctl-bench revision {rev}\n");
        for line in self.original.lines() {
            if add && line.starts_with("idf_component_register(") {
                text.push_str("list(APPEND srcs \"src/bench_extra.c\")\n");
            }
            text.push_str(line);
            text.push('\n');
        }
        (text, add)
    }

    /// Puts the original text back.
    pub fn restore(&self) -> anyhow::Result<()> {
        write(&self.cmakelists, &self.original)
    }
}

/// Writes a file, creating its directory.
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Copies `from` into `to` (created), keeping symbolic links as links and files' permissions.
/// Returns the number of files and links copied.
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut count = 0;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let link = std::fs::read_link(&source)?;
            std::os::unix::fs::symlink(&link, &target)
                .with_context(|| format!("cannot link {}", target.display()))?;
            count += 1;
        } else if kind.is_dir() {
            count += copy_tree(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)
                .with_context(|| format!("cannot copy {}", source.display()))?;
            count += 1;
        }
    }
    Ok(count)
}

/// A small deterministic generator (xorshift), so the requirement graph looks irregular but is the
/// same every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The kinds of generated component, each a pattern found in ESP-IDF's components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `SRCS` built from a list: config-chosen sources (bools, a choice, an int compared), per-arch
    /// and per-target (`port/${target}/`) sources, a source on another component's option.
    Srcs,
    /// `SRC_DIRS` including a per-architecture directory and one on an option, `EXCLUDE_SRCS` on an
    /// option.
    SrcDirs,
    /// A list of supported targets and an early `return()` for the others; per-target sources.
    TargetList,
    /// Two `idf_component_register` calls in different branches of a config condition.
    TwoBranches,
    /// `NON_OS_BUILD`, a `Kconfig.projbuild` instead of a `Kconfig`, commands after registering.
    Projbuild,
}

const KINDS: [Kind; 5] = [
    Kind::Srcs,
    Kind::SrcDirs,
    Kind::TargetList,
    Kind::TwoBranches,
    Kind::Projbuild,
];

struct Component {
    name: String,
    /// The prefix of its config symbols.
    sym: String,
    kind: Kind,
    /// Returns early for [`TARGET`].
    unsupported: bool,
    requires: Vec<String>,
    priv_requires: Vec<String>,
    /// A required generated component whose `..._ENABLE_FEATURE_A` this one reads.
    reads_option_of: Option<String>,
}

/// Source-file counts of one component, from its share of the budget.
struct Budget {
    core: usize,
    feature_a: usize,
    feature_b: usize,
}

impl Budget {
    fn new(per_component: usize, kind: Kind) -> Budget {
        // Fixed files: two headers, two backends, big-buffers, two arch files, with-dep; the
        // per-target ports of the kinds that have them.
        let ports = match kind {
            // A source and an include directory with a header per target.
            Kind::Srcs | Kind::TargetList => 2 * TARGETS.len(),
            _ => 0,
        };
        let fixed = 8 + ports;
        let rest = per_component.saturating_sub(fixed).max(3);
        let feature_a = (rest / 6).max(1);
        let feature_b = (rest / 8).max(1);
        Budget {
            core: (rest - feature_a - feature_b).max(1),
            feature_a,
            feature_b,
        }
    }
}

/// Plans the generated components: names, kinds, requirement graph.
fn components(n: usize) -> Vec<Component> {
    let mut out: Vec<Component> = Vec::with_capacity(n);
    for i in 0..n {
        let family = FAMILIES[i % FAMILIES.len()];
        let name = format!("{family}_{i:03}");
        let sym = name.to_ascii_uppercase();
        let kind = KINDS[i % KINDS.len()];
        // Some target-listing components leave out the benchmark's chip: never in its build, and
        // nothing requires them.
        let unsupported = kind == Kind::TargetList && i % 25 == 7;
        let mut rng = Rng::new(i as u64 + 1);
        let supported: Vec<&Component> = out.iter().filter(|c| !c.unsupported).collect();
        let mut requires = Vec::new();
        let mut priv_requires = Vec::new();
        if !supported.is_empty() {
            // Public requirements close by (layers), private ones further back.
            let near = supported.len().min(12);
            for _ in 0..2 {
                let c = supported[supported.len() - 1 - rng.below(near)];
                if !requires.contains(&c.name) {
                    requires.push(c.name.clone());
                }
            }
            let far = supported.len().min(40);
            for _ in 0..1 + rng.below(2) {
                let c = supported[supported.len() - 1 - rng.below(far)];
                if !requires.contains(&c.name) && !priv_requires.contains(&c.name) {
                    priv_requires.push(c.name.clone());
                }
            }
        }
        if i % 3 == 0 {
            priv_requires.push(IDF_DEPS[rng.below(IDF_DEPS.len())].to_string());
        }
        let reads_option_of = requires.first().cloned();
        out.push(Component {
            name,
            sym,
            kind,
            unsupported,
            requires,
            priv_requires,
            reads_option_of,
        });
    }
    out
}

fn c_source(function: &str, value: usize, header: &str) -> String {
    format!("#include \"{header}\"\n\nint {function}(int x)\n{{\n    return x * 3 + {value};\n}}\n")
}

/// Writes the component's `Kconfig` (or `Kconfig.projbuild`) text.
fn kconfig(c: &Component) -> (String, usize) {
    let s = &c.sym;
    let text = format!(
        r#"# Generated by espctl-bench.
menu "{name} (generated)"

    config {s}_ENABLE_FEATURE_A
        bool "Enable feature A of {name}"
        default y
        help
            Builds the feature A sources of {name}.

    config {s}_ENABLE_FEATURE_B
        bool "Enable feature B of {name}"
        default n
        depends on {s}_ENABLE_FEATURE_A

    choice {s}_BACKEND
        prompt "Backend of {name}"
        default {s}_BACKEND_FAST

        config {s}_BACKEND_FAST
            bool "Fast backend"
        config {s}_BACKEND_SMALL
            bool "Small backend"
    endchoice

    config {s}_BUFFER_SIZE
        int "Buffer size of {name}"
        range 64 8192
        default 4096 if IDF_TARGET_ESP32S3
        default 512

    config {s}_INSTANCE_NAME
        string "Instance name of {name}"
        default "{name}"

endmenu
"#,
        name = c.name
    );
    (text, 6)
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|s| format!(" {s}")).collect()
}

/// The `CMakeLists.txt` of a generated component, and the files it refers to (relative paths of
/// sources, to be written). `budget` sizes the lists.
fn cmakelists(c: &Component, budget: &Budget) -> (String, Vec<String>) {
    let s = &c.sym;
    let n = &c.name;
    let mut files: Vec<String> = Vec::new();
    let mut t = String::from("# Generated by espctl-bench.\n");
    let reqs = quoted(&c.requires);
    let priv_reqs = quoted(&c.priv_requires);
    let list = |prefix: &str, count: usize, files: &mut Vec<String>| -> Vec<String> {
        (0..count)
            .map(|k| {
                let f = format!("{prefix}_{k}.c");
                files.push(f.clone());
                f
            })
            .collect()
    };
    let with_option = |t: &mut String, files: &mut Vec<String>| {
        if let Some(dep) = &c.reads_option_of {
            let dep_sym = dep.to_ascii_uppercase();
            let _ = writeln!(
                t,
                "\n# Glue for {dep}'s feature A, when it has it.\nif(CONFIG_{dep_sym}_ENABLE_FEATURE_A)\n    list(APPEND srcs \"src/with_{dep}.c\")\nendif()"
            );
            files.push(format!("src/with_{dep}.c"));
        }
    };
    let config_sources = |t: &mut String, files: &mut Vec<String>| {
        let a = list("src/feature_a", budget.feature_a, files);
        let b = list("src/feature_b", budget.feature_b, files);
        let _ = writeln!(
            t,
            "\nif(CONFIG_{s}_ENABLE_FEATURE_A)\n    list(APPEND srcs{})\n    if(CONFIG_{s}_ENABLE_FEATURE_B)\n        list(APPEND srcs{})\n    endif()\nendif()",
            quoted_paths(&a),
            quoted_paths(&b)
        );
        let _ = writeln!(
            t,
            "\nif(CONFIG_{s}_BACKEND_SMALL)\n    list(APPEND srcs \"src/backend_small.c\")\nelse()\n    list(APPEND srcs \"src/backend_fast.c\")\nendif()\n\nif(CONFIG_{s}_BUFFER_SIZE GREATER 1024)\n    list(APPEND srcs \"src/big_buffers.c\")\nendif()"
        );
        files.extend(
            [
                "src/backend_small.c",
                "src/backend_fast.c",
                "src/big_buffers.c",
            ]
            .map(String::from),
        );
        let _ = writeln!(
            t,
            "\nif(CONFIG_IDF_TARGET_ARCH_RISCV)\n    list(APPEND srcs \"src/arch/riscv_impl.c\")\nelseif(CONFIG_IDF_TARGET_ARCH_XTENSA)\n    list(APPEND srcs \"src/arch/xtensa_impl.c\")\nendif()"
        );
        files.extend(["src/arch/riscv_impl.c", "src/arch/xtensa_impl.c"].map(String::from));
    };
    match c.kind {
        Kind::Srcs | Kind::TargetList => {
            t.push_str("idf_build_get_property(target IDF_TARGET)\n");
            if c.kind == Kind::TargetList {
                let supported: Vec<&str> = if c.unsupported {
                    vec!["esp32", "esp32s2", "esp32s3"]
                } else {
                    TARGETS.iter().copied().filter(|t| *t != "linux").collect()
                };
                let _ = writeln!(
                    t,
                    "\n# Only these chips have the peripheral.\nset(supported_targets {})\nif(NOT target IN_LIST supported_targets)\n    return()\nendif()",
                    supported.join(" ")
                );
            }
            let core = list("src/core", budget.core, &mut files);
            let _ = writeln!(
                t,
                "\nset(srcs{}\n         \"port/${{target}}/port.c\")",
                quoted_paths(&core)
            );
            for target in TARGETS {
                files.push(format!("port/{target}/port.c"));
            }
            config_sources(&mut t, &mut files);
            let _ = writeln!(
                t,
                "\nif(target STREQUAL \"esp32\" OR target STREQUAL \"esp32s3\" OR target STREQUAL \"esp32p4\")\n    list(APPEND srcs \"src/dual_core.c\")\nendif()"
            );
            files.push("src/dual_core.c".into());
            with_option(&mut t, &mut files);
            let _ = writeln!(
                t,
                "\nidf_component_register(SRCS ${{srcs}}\n                       INCLUDE_DIRS \"include\" \"port/${{target}}/include\"\n                       PRIV_INCLUDE_DIRS \"private\"\n                       REQUIRES{reqs}\n                       PRIV_REQUIRES{priv_reqs})"
            );
            for target in TARGETS {
                files.push(format!("port/{target}/include/{n}_port.h"));
            }
        }
        Kind::SrcDirs => {
            t.push_str("idf_build_get_property(arch IDF_TARGET_ARCH)\n");
            let _ = writeln!(
                t,
                "\nset(src_dirs \"src\" \"src/${{arch}}\")\nif(CONFIG_{s}_ENABLE_FEATURE_A)\n    list(APPEND src_dirs \"src/feature_a\")\nendif()\n\nset(exclude_srcs \"\")\nif(NOT CONFIG_{s}_ENABLE_FEATURE_B)\n    list(APPEND exclude_srcs \"src/feature_b_hooks.c\")\nendif()"
            );
            list("src/core", budget.core, &mut files);
            list("src/feature_a/part", budget.feature_a, &mut files);
            files.push("src/feature_b_hooks.c".into());
            list("src/riscv/impl", 2, &mut files);
            list("src/xtensa/impl", 2, &mut files);
            let _ = writeln!(
                t,
                "\nidf_component_register(SRC_DIRS ${{src_dirs}}\n                       EXCLUDE_SRCS ${{exclude_srcs}}\n                       INCLUDE_DIRS \"include\"\n                       PRIV_INCLUDE_DIRS \"private\"\n                       REQUIRES{reqs}\n                       PRIV_REQUIRES{priv_reqs})"
            );
        }
        Kind::TwoBranches => {
            let core = list("src/core", budget.core, &mut files);
            let _ = writeln!(
                t,
                "# Without feature A only the core is built.\nif(NOT CONFIG_{s}_ENABLE_FEATURE_A)\n    idf_component_register(SRCS{}\n                           INCLUDE_DIRS \"include\"\n                           REQUIRES{reqs}\n                           PRIV_REQUIRES{priv_reqs})\n    return()\nendif()\n\nset(srcs{})",
                quoted_paths(&core),
                quoted_paths(&core)
            );
            config_sources(&mut t, &mut files);
            with_option(&mut t, &mut files);
            let _ = writeln!(
                t,
                "\nidf_component_register(SRCS ${{srcs}}\n                       INCLUDE_DIRS \"include\"\n                       PRIV_INCLUDE_DIRS \"private\"\n                       REQUIRES{reqs}\n                       PRIV_REQUIRES{priv_reqs})"
            );
        }
        Kind::Projbuild => {
            t.push_str(
                "idf_build_get_property(target IDF_TARGET)\nidf_build_get_property(non_os_build NON_OS_BUILD)\n",
            );
            let core = list("src/core", budget.core, &mut files);
            let _ = writeln!(
                t,
                "\nset(srcs{})\nif(NOT non_os_build)\n    list(APPEND srcs \"src/os/{n}_os.c\")\nendif()",
                quoted_paths(&core)
            );
            files.push(format!("src/os/{n}_os.c"));
            config_sources(&mut t, &mut files);
            with_option(&mut t, &mut files);
            let _ = writeln!(
                t,
                "\nidf_component_register(SRCS ${{srcs}}\n                       INCLUDE_DIRS \"include\"\n                       PRIV_INCLUDE_DIRS \"private\"\n                       REQUIRES{reqs}\n                       PRIV_REQUIRES{priv_reqs})\n\ntarget_compile_definitions(${{COMPONENT_LIB}} PRIVATE \"{s}_BUFFER_SIZE=${{CONFIG_{s}_BUFFER_SIZE}}\")\ntarget_compile_options(${{COMPONENT_LIB}} PRIVATE \"-Wno-unused-function\")\nif(CONFIG_{s}_ENABLE_FEATURE_B)\n    target_link_libraries(${{COMPONENT_LIB}} INTERFACE \"-u {n}_feature_b_hook\")\nendif()"
            );
        }
    }
    (t, files)
}

fn quoted_paths(items: &[String]) -> String {
    items.iter().map(|s| format!(" \"{s}\"")).collect()
}

/// Writes the generated tree under `root`: `root/esp-idf` (a copy of `standin` with the generated
/// components added) and `root/project`.
pub fn idf_tree(root: &Path, standin: &Path, spec: TreeSpec) -> anyhow::Result<IdfTree> {
    let idf = root.join("esp-idf");
    let project = root.join("project");
    let idf_files_copied = copy_tree(standin, &idf)
        .with_context(|| format!("copying the stand-in ESP-IDF from {}", standin.display()))?;
    let standin_components = std::fs::read_dir(standin.join("components"))?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("CMakeLists.txt").is_file())
        .count();

    let comps = components(spec.components);
    let per_component = spec.source_files / spec.components.max(1);
    let mut generated_sources = 0;
    let mut kconfig_symbols = 0;
    let mut edit = None;
    let edit_index = spec.components / 2;
    for (i, c) in comps.iter().enumerate() {
        let dir = idf.join("components").join(&c.name);
        let budget = Budget::new(per_component, c.kind);
        let (text, sources) = cmakelists(c, &budget);
        write(&dir.join("CMakeLists.txt"), &text)?;
        let header = format!("{}.h", c.name);
        write(
            &dir.join("include").join(&header),
            &format!("#pragma once\n\nint {}_core_0(int x);\n", c.name),
        )?;
        write(
            &dir.join("private").join(format!("{}_priv.h", c.name)),
            "#pragma once\n",
        )?;
        generated_sources += 2;
        for (k, rel) in sources.iter().enumerate() {
            let path = dir.join(rel);
            if rel.ends_with(".h") {
                write(&path, "#pragma once\n")?;
            } else {
                let stem = Path::new(rel)
                    .file_stem()
                    .map(|s| s.to_string_lossy().replace(['.', '-'], "_"))
                    .unwrap_or_default();
                let parent = Path::new(rel)
                    .parent()
                    .map(|p| p.to_string_lossy().replace(['/', '-'], "_"))
                    .unwrap_or_default();
                write(
                    &path,
                    &c_source(&format!("{}_{parent}_{stem}", c.name), k, &header),
                )?;
            }
            generated_sources += 1;
        }
        let (kc, symbols) = kconfig(c);
        let kconfig_name = if c.kind == Kind::Projbuild {
            "Kconfig.projbuild"
        } else {
            "Kconfig"
        };
        write(&dir.join(kconfig_name), &kc)?;
        kconfig_symbols += symbols;
        // The edited component: a plain SRCS one in the middle of the graph, required by others.
        if edit.is_none() && i >= edit_index && c.kind == Kind::Srcs {
            let extra = dir.join("src").join("bench_extra.c");
            write(
                &extra,
                &c_source(&format!("{}_bench_extra", c.name), 0, &header),
            )?;
            generated_sources += 1;
            edit = Some(EditTarget {
                component: c.name.clone(),
                cmakelists: dir.join("CMakeLists.txt"),
                original: text,
                extra_source: extra,
            });
        }
    }
    let edit = edit.context("the tree is too small to have a component to edit")?;

    // The project: main (which requires every other component, as ESP-IDF's main does when it
    // names no requirements) and defaults that flip some of the generated options.
    write(
        &project.join("CMakeLists.txt"),
        "# Generated by espctl-bench: a project over a generated ESP-IDF-sized tree.\n\
         cmake_minimum_required(VERSION 3.22)\n\
         include($ENV{IDF_PATH}/tools/cmake/project.cmake)\n\
         project(bench_app)\n",
    )?;
    write(
        &project.join("main").join("CMakeLists.txt"),
        "idf_component_register(SRCS \"bench_main.c\"\n                       INCLUDE_DIRS \"\")\n",
    )?;
    write(
        &project.join("main").join("bench_main.c"),
        "void app_main(void)\n{\n}\n",
    )?;
    let mut defaults = String::from("# Generated by espctl-bench.\n");
    for (i, c) in comps.iter().enumerate().filter(|(_, c)| !c.unsupported) {
        if i % 4 == 1 {
            let _ = writeln!(defaults, "CONFIG_{}_ENABLE_FEATURE_B=y", c.sym);
        }
        if i % 6 == 2 {
            let _ = writeln!(defaults, "CONFIG_{}_BACKEND_SMALL=y", c.sym);
        }
        if i % 5 == 3 {
            let _ = writeln!(defaults, "CONFIG_{}_BUFFER_SIZE=2048", c.sym);
        }
        if i % 9 == 4 {
            let _ = writeln!(defaults, "# CONFIG_{}_ENABLE_FEATURE_A is not set", c.sym);
        }
    }
    write(&project.join("sdkconfig.defaults"), &defaults)?;

    Ok(IdfTree {
        idf,
        project,
        generated_components: comps.len(),
        unsupported_components: comps.iter().filter(|c| c.unsupported).count(),
        standin_components,
        generated_sources,
        kconfig_symbols,
        idf_files: idf_files_copied + generated_sources + 2 * comps.len(),
        edit,
    })
}

/// A project for a large build directory, as written.
#[derive(Debug, Clone)]
pub struct LargeProject {
    pub project: PathBuf,
    pub sources: usize,
    pub components: usize,
}

/// Sources per component of [`large_project`] (each component is one static library).
const SOURCES_PER_COMPONENT: usize = 500;

/// Writes an ESP-IDF project with `n_sources` tiny C sources under `dir/large`, spread over
/// components of 500 sources each (`SRC_DIRS "."`), which `main` requires; `MINIMAL_BUILD` keeps
/// the build to those and the common components. `main` calls one function of each component, so
/// everything links.
pub fn large_project(dir: &Path, n_sources: usize) -> anyhow::Result<LargeProject> {
    let project = dir.join("large");
    let components = n_sources.div_ceil(SOURCES_PER_COMPONENT).max(1);
    let mut names = Vec::with_capacity(components);
    let mut decls = String::new();
    let mut calls = String::new();
    for k in 0..components {
        let name = format!("bulk_{k}");
        let cdir = project.join("components").join(&name);
        let start = k * SOURCES_PER_COMPONENT;
        let end = ((k + 1) * SOURCES_PER_COMPONENT).min(n_sources);
        for i in start..end {
            write(
                &cdir.join(format!("f{i}.c")),
                &format!("int f{i}(int x)\n{{\n    return x + {i};\n}}\n"),
            )?;
        }
        write(
            &cdir.join("CMakeLists.txt"),
            "idf_component_register(SRC_DIRS \".\")\n",
        )?;
        if start < end {
            let _ = writeln!(decls, "int f{start}(int x);");
            let _ = writeln!(calls, "    total += f{start}(total);");
        }
        names.push(name);
    }
    write(
        &project.join("CMakeLists.txt"),
        "# Generated by espctl-bench: a project with many sources, for a large build directory.\n\
         cmake_minimum_required(VERSION 3.22)\n\
         include($ENV{IDF_PATH}/tools/cmake/project.cmake)\n\
         idf_build_set_property(MINIMAL_BUILD ON)\n\
         project(large)\n",
    )?;
    write(
        &project.join("main").join("CMakeLists.txt"),
        &format!(
            "idf_component_register(SRCS \"large_main.c\"\n                       PRIV_REQUIRES {})\n",
            names.join(" ")
        ),
    )?;
    write(
        &project.join("main").join("large_main.c"),
        &format!(
            "{decls}\nint large_total;\n\nvoid app_main(void)\n{{\n    int total = 1;\n{calls}    large_total = total;\n}}\n"
        ),
    )?;
    Ok(LargeProject {
        project,
        sources: n_sources,
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_graph_only_points_back_at_supported_components() {
        let comps = components(150);
        assert_eq!(comps.len(), 150);
        let unsupported: Vec<&str> = comps
            .iter()
            .filter(|c| c.unsupported)
            .map(|c| c.name.as_str())
            .collect();
        assert!(!unsupported.is_empty());
        for (i, c) in comps.iter().enumerate() {
            for r in c.requires.iter().chain(&c.priv_requires) {
                assert!(
                    !unsupported.contains(&r.as_str()),
                    "{} requires {r}",
                    c.name
                );
                if let Some(j) = comps.iter().position(|o| &o.name == r) {
                    assert!(j < i, "{} requires a later component {r}", c.name);
                } else {
                    assert!(IDF_DEPS.contains(&r.as_str()), "{r}");
                }
            }
        }
    }

    #[test]
    fn revisions_change_the_text_and_alternate_the_extra_source() {
        let edit = EditTarget {
            component: "x".into(),
            cmakelists: PathBuf::from("/nonexistent"),
            original: "set(srcs a.c)\nidf_component_register(SRCS ${srcs})\n".into(),
            extra_source: PathBuf::from("/nonexistent/bench_extra.c"),
        };
        let (r0, add0) = edit.revision(0);
        let (r1, add1) = edit.revision(1);
        let (r2, _) = edit.revision(2);
        assert!(!add0 && add1);
        assert_ne!(r0, r2);
        assert!(r1.contains("bench_extra.c") && !r0.contains("bench_extra.c"));
    }
}
