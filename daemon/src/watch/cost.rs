//! What the next build costs: Ninja's dirty scan ([`crate::ninja::dirty`]) over the build
//! directory's `build.ninja`, `.ninja_deps` and `.ninja_log`, read into the object files it would
//! compile (header dependencies included, from the deps log), their components, whether the app
//! ELF links again, and a time estimate from the steps' past durations in `.ninja_log`.
//!
//! [`NinjaCache`] keeps the parsed files between predictions and reads them again only when they
//! changed on disk (a configure or a build), so a prediction after a save scans without parsing.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use espctl_protocol::watch::BuildCost;

use crate::ninja::canon::Location;
use crate::ninja::hash::FastSet;
use crate::ninja::{
    BuildLog, ChangedFiles, DepsLog, DirtyScan, Manifest, Normalizer, RealFileSystem, ScanOptions,
};

/// Size and modification time: enough to tell that Ninja or CMake rewrote a file.
type Stamp = Option<(u64, SystemTime)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// The parsed files of one build directory.
struct Loaded {
    build_dir: PathBuf,
    /// `build.ninja`, `.ninja_deps`, `.ninja_log` when they were read.
    stamps: [Stamp; 3],
    manifest: Manifest,
    deps: DepsLog,
    log: BuildLog,
    options: ScanOptions,
    /// Another name of the build directory CMake wrote into the manifest.
    alias: Option<PathBuf>,
    normalizer: Normalizer,
    /// Every path the manifest or the deps log names: what the build reads or writes.
    known: FastSet<Location>,
}

/// Parsed Ninja files of a build directory, kept between predictions.
#[derive(Default)]
pub struct NinjaCache {
    loaded: Option<Loaded>,
}

/// The Ninja whose rules apply: the one that wrote the build log (its format says which).
fn scan_options(log: &BuildLog) -> ScanOptions {
    let ninja_version = match log.version() {
        6 => (1, 12),
        v if v >= 7 => (1, 13),
        _ => (1, 11),
    };
    ScanOptions { ninja_version }
}

fn log_dir(manifest: &Manifest, build_dir: &Path) -> PathBuf {
    match manifest.var("builddir") {
        Some(d) if !d.is_empty() => build_dir.join(d),
        _ => build_dir.to_path_buf(),
    }
}

impl NinjaCache {
    /// Whether a configured build directory exists (a `build.ninja` to predict from).
    pub fn configured(build_dir: &Path) -> bool {
        build_dir.join("build.ninja").is_file()
    }

    fn stamps(build_dir: &Path, log_dir: &Path) -> [Stamp; 3] {
        [
            stamp(&build_dir.join("build.ninja")),
            stamp(&log_dir.join(".ninja_deps")),
            stamp(&log_dir.join(".ninja_log")),
        ]
    }

    /// Loads (or keeps) the build directory's files.
    fn load(&mut self, build_dir: &Path) -> Result<&Loaded, String> {
        let fresh = self.loaded.as_ref().is_some_and(|l| {
            l.build_dir == build_dir
                && Self::stamps(build_dir, &log_dir(&l.manifest, build_dir)) == l.stamps
        });
        if !fresh {
            self.loaded = None;
            let manifest = Manifest::load(build_dir).map_err(|e| format!("build.ninja: {e}"))?;
            let dir = log_dir(&manifest, build_dir);
            let stamps = Self::stamps(build_dir, &dir);
            let deps =
                DepsLog::load(&dir.join(".ninja_deps")).map_err(|e| format!(".ninja_deps: {e}"))?;
            let log =
                BuildLog::load(&dir.join(".ninja_log")).map_err(|e| format!(".ninja_log: {e}"))?;
            let alias = manifest.var("cmake_ninja_workdir").map(PathBuf::from);
            let mut normalizer = Normalizer::new(build_dir);
            if let Some(a) = &alias {
                normalizer.add_alias(a);
            }
            let mut known = FastSet::default();
            for node in manifest.nodes() {
                known.insert(normalizer.locate(node.path()));
            }
            for path in deps.paths() {
                known.insert(normalizer.locate(path));
            }
            self.loaded = Some(Loaded {
                build_dir: build_dir.to_path_buf(),
                stamps,
                options: scan_options(&log),
                manifest,
                deps,
                log,
                alias,
                normalizer,
                known,
            });
        }
        Ok(self.loaded.as_ref().expect("just loaded"))
    }

    /// Whether the build directory's Ninja files name `path` (as loaded by the last prediction).
    pub fn knows(&self, path: &Path) -> bool {
        self.loaded.as_ref().is_some_and(|l| {
            l.known
                .contains(&l.normalizer.locate(&path.to_string_lossy()))
        })
    }

    /// What `ninja all` would run now in `build_dir`, `changed` files counting as newer than
    /// everything (they were just saved). `app_elf` is the application ELF's file name.
    pub fn predict(
        &mut self,
        build_dir: &Path,
        changed: &[PathBuf],
        app_elf: &str,
    ) -> Result<BuildCost, String> {
        let loaded = self.load(build_dir)?;
        let mut manifest = loaded.manifest.clone();
        let real = RealFileSystem::new(build_dir);
        let mut overlay = ChangedFiles::new(&real, build_dir, changed);
        if let Some(alias) = &loaded.alias {
            overlay = overlay.with_alias(alias);
        }
        let targets: Vec<_> = manifest.find("all").into_iter().collect();
        let report = DirtyScan::new(
            &mut manifest,
            &overlay,
            Some(&loaded.deps),
            Some(&loaded.log),
            loaded.options,
        )
        .run("build.ninja", &targets)
        .map_err(|e| format!("Ninja would stop: {e}"))?;
        Ok(cost_of(&manifest, &loaded.log, &report, app_elf))
    }
}

/// Whether a Ninja output is an object file.
fn is_object(path: &str) -> bool {
    path.ends_with(".obj") || path.ends_with(".o")
}

/// The component an object belongs to: ESP-IDF's `__idf_<name>` library targets, else the CMake
/// target whose directory holds it (`<target>.dir`).
pub fn component_of(object: &str) -> String {
    for part in object.split('/') {
        if let Some(name) = part
            .strip_prefix("__idf_")
            .and_then(|p| p.strip_suffix(".dir"))
        {
            return name.to_string();
        }
    }
    object
        .split('/')
        .find_map(|p| p.strip_suffix(".dir"))
        .unwrap_or("(project)")
        .to_string()
}

/// Reads a dirty report into a cost.
fn cost_of(
    m: &Manifest,
    log: &BuildLog,
    report: &crate::ninja::DirtyReport,
    app_elf: &str,
) -> BuildCost {
    let duration_ms = |edge: crate::ninja::EdgeId| -> Option<f64> {
        m.edge(edge)
            .outputs
            .iter()
            .filter_map(|&o| log.lookup(m.node(o).path()))
            .map(|e| f64::from((e.end_ms - e.start_ms).max(0)))
            .reduce(f64::max)
    };
    let mut objects = Vec::new();
    let mut components = std::collections::BTreeSet::new();
    let mut relink = false;
    let mut compile_ms = Vec::new();
    let mut unknown_compiles = 0usize;
    let mut serial_ms = 0.0;
    for &edge in &report.edges {
        let e = m.edge(edge);
        let outputs: Vec<&str> = e
            .explicit_outputs()
            .iter()
            .map(|&o| m.node(o).path())
            .collect();
        if outputs
            .iter()
            .any(|o| Path::new(o).file_name().is_some_and(|n| n == app_elf))
        {
            relink = true;
        }
        if let Some(object) = outputs.iter().find(|o| is_object(o)) {
            objects.push(object.to_string());
            components.insert(component_of(object));
            match duration_ms(edge) {
                Some(ms) => compile_ms.push(ms),
                None => unknown_compiles += 1,
            }
        } else {
            serial_ms += duration_ms(edge).unwrap_or(0.0);
        }
    }
    // Compiles run in parallel (Ninja's default: cores + 2 jobs); links and generators mostly
    // wait for them. Unknown compiles take the median of the known ones.
    let mut known = compile_ms.clone();
    known.sort_by(f64::total_cmp);
    let median = known.get(known.len() / 2).copied().unwrap_or(0.0);
    let total_compile: f64 = compile_ms.iter().sum::<f64>() + median * unknown_compiles as f64;
    let longest = known.last().copied().unwrap_or(median);
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get() as f64)
        .unwrap_or(1.0);
    let compile_wall = if objects.is_empty() {
        0.0
    } else {
        (total_compile / jobs).max(longest)
    };
    let mut notes = report.notes.clone();
    if unknown_compiles > 0 {
        notes.push(format!(
            "{unknown_compiles} of the objects never compiled before: their time is a guess"
        ));
    }
    if !report.manifest_edges.is_empty() {
        notes.push(
            "Ninja re-runs CMake first; the objects are predicted on the current build.ninja"
                .to_string(),
        );
    }
    BuildCost {
        objects_to_rebuild: objects.len() as u32,
        objects,
        components: components.into_iter().collect(),
        relink,
        reconfigure: !report.manifest_edges.is_empty(),
        steps: (report.edges.len() + report.manifest_edges.len()) as u32,
        estimated_secs: ((compile_wall + serial_ms) / 1000.0 * 100.0).round() / 100.0,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_come_from_the_cmake_target_directories() {
        assert_eq!(
            component_of("esp-idf/main/CMakeFiles/__idf_main.dir/hello_main.c.obj"),
            "main"
        );
        assert_eq!(
            component_of("esp-idf/esp-tls/CMakeFiles/__idf_esp-tls.dir/src/a.c.obj"),
            "esp-tls"
        );
        assert_eq!(
            component_of("CMakeFiles/hello.elf.dir/project_elf_src_esp32c3.c.obj"),
            "hello.elf"
        );
        assert_eq!(component_of("x.o"), "(project)");
    }

    /// A real Ninja build in a temp dir: touch a header, predict, compare with `ninja -n`.
    #[test]
    fn a_touched_header_rebuilds_what_ninja_says() {
        if std::process::Command::new("ninja")
            .arg("--version")
            .output()
            .is_err()
            || std::process::Command::new("cc")
                .arg("--version")
                .output()
                .is_err()
        {
            eprintln!("skipped: ninja or cc missing");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.h"), "#define A 1\n").unwrap();
        std::fs::write(d.join("a.c"), "#include \"a.h\"\nint a(void){return A;}\n").unwrap();
        std::fs::write(d.join("b.c"), "int b(void){return 2;}\n").unwrap();
        std::fs::write(
            d.join("m.c"),
            "#include \"a.h\"\nint a(void);int b(void);int main(void){return a()+b()+A;}\n",
        )
        .unwrap();
        std::fs::write(
            d.join("build.ninja"),
            "rule cc\n  command = cc -MD -MF $out.d -c $in -o $out\n  depfile = $out.d\n  deps = gcc\n\
             rule link\n  command = cc $in -o $out\n\
             build a.o: cc a.c\nbuild b.o: cc b.c\nbuild m.o: cc m.c\n\
             build app.elf: link a.o b.o m.o\nbuild all: phony app.elf\ndefault all\n",
        )
        .unwrap();
        let ok = std::process::Command::new("ninja")
            .arg("-C")
            .arg(d)
            .output()
            .unwrap();
        assert!(ok.status.success(), "{ok:?}");
        let mut cache = NinjaCache::default();
        let cost = cache.predict(d, &[], "app.elf").unwrap();
        assert_eq!(cost.objects_to_rebuild, 0, "{cost:?}");
        assert!(!cost.relink);
        assert!(cache.knows(&d.join("a.h")), "the deps log names the header");
        assert!(!cache.knows(&d.join("README")));

        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.join("a.h"), "#define A 3\n").unwrap();
        let cost = cache.predict(d, &[d.join("a.h")], "app.elf").unwrap();
        assert_eq!(cost.objects, ["a.o", "m.o"]);
        assert_eq!(cost.objects_to_rebuild, 2);
        assert!(cost.relink);
        assert_eq!(cost.steps, 3);
        let dry = std::process::Command::new("ninja")
            .arg("-C")
            .arg(d)
            .args(["-n", "-v"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&dry.stdout);
        let mut ran: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split(" -o ").nth(1))
            .filter(|o| o.ends_with(".o"))
            .collect();
        ran.sort();
        assert_eq!(ran, ["a.o", "m.o"], "{text}");
    }
}
