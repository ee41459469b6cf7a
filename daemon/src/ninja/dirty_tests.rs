//! The dirty scan against real Ninja: build a small manifest with `ninja`, change files, and compare
//! what we predict with what `ninja -n -v -d explain` prints (commands and explanations).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use super::*;
use crate::ninja::deps_log::DepsLogWriter;

fn ninja_available() -> bool {
    Command::new("ninja")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

macro_rules! require_ninja {
    () => {
        if !ninja_available() {
            eprintln!("skipped: ninja is not installed");
            return;
        }
    };
}

const MANIFEST: &str = r#"
rule cc
  command = cp $in $out && printf '%s: %s inc.h\n' $out $in > $out.d
  depfile = $out.d
  deps = gcc
rule cat
  command = cat $in > $out
rule stamp
  command = touch $out
rule gen_same
  command = cmp -s $in $out || cp $in $out
  restat = 1
rule cc_depfile
  command = cp $in $out && printf '%s: %s inc2.h\n' $out $in > $out.d
  depfile = $out.d
flags = -O2
rule flagged
  command = echo $flags > $out
build a.o: cc a.c
build b.o: cc b.c
build app: cat a.o b.o || order.stamp
build order.stamp: stamp
build gen.h: gen_same gen.in
build c.o: cc_depfile c.c
build lib: cat c.o gen.h |@ check
build check: stamp
build f.txt: flagged
build all: phony app lib f.txt
default all
"#;

struct Sandbox {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(tmp.path()).unwrap();
        let s = Sandbox { _tmp: tmp, dir };
        s.write("build.ninja", MANIFEST);
        for f in ["a.c", "b.c", "c.c", "inc.h", "inc2.h", "gen.in"] {
            s.write(f, f);
        }
        // Sources in the past, so that everything built is clearly newer.
        for f in [
            "a.c",
            "b.c",
            "c.c",
            "inc.h",
            "inc2.h",
            "gen.in",
            "build.ninja",
        ] {
            s.age(f, 1000);
        }
        s.ninja(&[]);
        s
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.dir.join(rel), text).unwrap();
    }

    fn set_mtime(&self, rel: &str, t: SystemTime) {
        let f = std::fs::File::options()
            .write(true)
            .open(self.dir.join(rel))
            .unwrap();
        f.set_modified(t).unwrap();
    }

    fn age(&self, rel: &str, secs: u64) {
        self.set_mtime(rel, SystemTime::now() - Duration::from_secs(secs));
    }

    fn touch_future(&self, rel: &str) {
        self.set_mtime(rel, SystemTime::now() + Duration::from_secs(100));
    }

    fn ninja(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new("ninja")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ninja {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// What `ninja -n` would run (commands, sorted) and why (explanations, sorted).
    fn ninja_dry_run(&self) -> (Vec<String>, Vec<String>) {
        let out = self.ninja(&["-n", "-v", "-d", "explain"]);
        let mut commands: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix('[').and_then(|r| r.split_once("] ")))
            .map(|(_, cmd)| cmd.to_string())
            .collect();
        let mut explanations: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| l.strip_prefix("ninja explain: "))
            .map(str::to_string)
            .collect();
        commands.sort();
        explanations.sort();
        (commands, explanations)
    }

    fn ours_with(&self, fs: &dyn FileSystem) -> (Vec<String>, Vec<String>) {
        let mut m = Manifest::load(&self.dir).unwrap();
        let deps = DepsLog::load(&self.dir.join(".ninja_deps")).unwrap();
        let log = BuildLog::load(&self.dir.join(".ninja_log")).unwrap();
        let report = DirtyScan::new(&mut m, fs, Some(&deps), Some(&log), ScanOptions::default())
            .run("build.ninja", &[])
            .unwrap();
        let mut commands: Vec<String> = report
            .edges
            .iter()
            .map(|&e| m.edge_command(e, false).unwrap())
            .collect();
        let mut explanations = report.explanations.clone();
        commands.sort();
        explanations.sort();
        (commands, explanations)
    }

    fn ours(&self) -> (Vec<String>, Vec<String>) {
        self.ours_with(&RealFileSystem::new(&self.dir))
    }

    fn assert_same(&self, what: &str) -> Vec<String> {
        let ninja = self.ninja_dry_run();
        let ours = self.ours();
        assert_eq!(ours.0, ninja.0, "{what}: commands");
        assert_eq!(ours.1, ninja.1, "{what}: explanations");
        ours.0
    }
}

#[test]
fn up_to_date_build_runs_nothing() {
    require_ninja!();
    let s = Sandbox::new();
    assert!(s.assert_same("fresh build").is_empty());
}

#[test]
fn header_from_the_deps_log() {
    require_ninja!();
    let s = Sandbox::new();
    s.touch_future("inc.h");
    let commands = s.assert_same("inc.h touched");
    assert_eq!(commands.len(), 3, "{commands:?}");
    // The same prediction without touching anything: "what if inc.h changed".
    let s = Sandbox::new();
    let real = RealFileSystem::new(&s.dir);
    let changed = ChangedFiles::new(&real, &s.dir, [s.dir.join("inc.h")]);
    let (ours, _) = s.ours_with(&changed);
    assert_eq!(ours, commands);
}

#[test]
fn header_from_a_depfile() {
    require_ninja!();
    let s = Sandbox::new();
    s.touch_future("inc2.h");
    let commands = s.assert_same("inc2.h touched");
    assert_eq!(commands.len(), 2, "{commands:?}");
}

#[test]
fn order_only_inputs_run_but_do_not_dirty() {
    require_ninja!();
    let s = Sandbox::new();
    std::fs::remove_file(s.dir.join("order.stamp")).unwrap();
    assert_eq!(
        s.assert_same("order-only input missing"),
        ["touch order.stamp"]
    );
}

#[test]
fn restat_outputs_still_run_dependents_in_a_dry_run() {
    require_ninja!();
    let s = Sandbox::new();
    s.touch_future("gen.in");
    let commands = s.assert_same("restat input touched");
    assert_eq!(commands.len(), 2, "{commands:?}");
}

#[test]
fn changed_commands() {
    require_ninja!();
    let s = Sandbox::new();
    let text = MANIFEST.replace("flags = -O2", "flags = -O3");
    s.write("build.ninja", &text);
    s.age("build.ninja", 1000);
    assert_eq!(s.assert_same("command changed"), ["echo -O3 > f.txt"]);
}

#[test]
fn missing_logs() {
    require_ninja!();
    let s = Sandbox::new();
    std::fs::remove_file(s.dir.join(".ninja_deps")).unwrap();
    let commands = s.assert_same("no deps log");
    assert_eq!(commands.len(), 3, "{commands:?}");
    let s = Sandbox::new();
    std::fs::remove_file(s.dir.join(".ninja_log")).unwrap();
    s.assert_same("no build log");
}

#[test]
fn missing_outputs_and_validations() {
    require_ninja!();
    let s = Sandbox::new();
    std::fs::remove_file(s.dir.join("check")).unwrap();
    assert_eq!(s.assert_same("validation missing"), ["touch check"]);
    let s = Sandbox::new();
    std::fs::remove_file(s.dir.join("b.o")).unwrap();
    s.assert_same("object missing");
}

#[test]
fn stale_deps_record() {
    require_ninja!();
    let s = Sandbox::new();
    // The object is newer than its deps record: the deps are stale.
    s.touch_future("a.o");
    s.assert_same("output newer than its deps record");
}

#[test]
fn ninja_s_own_deps_log_reads_back() {
    require_ninja!();
    let s = Sandbox::new();
    let log = DepsLog::load(&s.dir.join(".ninja_deps")).unwrap();
    assert_eq!(log.status(), &crate::ninja::deps_log::DepsLogStatus::Loaded);
    let (mtime, deps) = log.dep_paths("a.o").unwrap();
    assert_eq!(deps, ["a.c", "inc.h"]);
    let meta = std::fs::metadata(s.dir.join("a.o")).unwrap();
    assert!(mtime >= ninja_timestamp(&meta));
    let build_log = BuildLog::load(&s.dir.join(".ninja_log")).unwrap();
    let m = Manifest::load(&s.dir).unwrap();
    let e = m.node(m.find("f.txt").unwrap()).in_edge().unwrap();
    assert_eq!(
        build_log.hash_command(&m.edge_command(e, true).unwrap()),
        Some(build_log.lookup("f.txt").unwrap().command_hash)
    );
}

#[test]
fn cycles_and_missing_inputs_are_errors() {
    let mut m =
        Manifest::parse_str("rule r\n  command = x\nbuild a: r b\nbuild b: r a\nbuild c: r nope\n")
            .unwrap();
    let fs = RealFileSystem::new(Path::new("/nonexistent-espctl"));
    let a = m.find("a").unwrap();
    let err = DirtyScan::new(&mut m, &fs, None, None, ScanOptions::default())
        .run("build.ninja", &[a])
        .unwrap_err();
    assert_eq!(err.to_string(), "dependency cycle: a -> b -> a");
    let c = m.find("c").unwrap();
    let err = DirtyScan::new(&mut m, &fs, None, None, ScanOptions::default())
        .run("build.ninja", &[c])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "'nope', needed by 'c', missing and no known rule to make it"
    );
}

#[test]
fn hand_written_deps_log_feeds_the_scan() {
    // No Ninja needed: a fake file system and a deps log written from the documented format.
    struct Fake(FastMap<String, i64>);
    impl FileSystem for Fake {
        fn stat(&self, path: &str) -> io::Result<Option<i64>> {
            Ok(self.0.get(path).copied())
        }
        fn read(&self, _: &str) -> io::Result<Option<Vec<u8>>> {
            Ok(None)
        }
    }
    let mut m = Manifest::parse_str(
        "rule cc\n  command = cc $in\n  deps = gcc\nbuild x.o: cc x.c\nbuild y.o: cc y.c\n",
    )
    .unwrap();
    let mut w = DepsLogWriter::new();
    w.deps("x.o", 100, &["x.c", "/usr/include/stdio.h", "common.h"]);
    w.deps("y.o", 100, &["y.c", "common.h"]);
    let deps = DepsLog::parse(&w.into_bytes());
    let fs = Fake(
        [
            ("x.c", 10),
            ("y.c", 10),
            ("/usr/include/stdio.h", 10),
            ("common.h", 200),
            ("x.o", 100),
            ("y.o", 100),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );
    let report = DirtyScan::new(&mut m, &fs, Some(&deps), None, ScanOptions::default())
        .run("build.ninja", &[])
        .unwrap();
    assert_eq!(report.edges.len(), 2);
    assert!(
        report
            .explanations
            .contains(&"output x.o older than most recent input common.h (100 vs 200)".to_string()),
        "{:?}",
        report.explanations
    );
    // The header became a node with a phony producer, as in Ninja.
    let h = m.find("common.h").unwrap();
    assert!(m.edge(m.node(h).in_edge().unwrap()).generated_by_dep_loader);
}
