//! What `ninja -t clean` removes, computed without touching the file system (except to read the
//! dyndep files Ninja would read).
//!
//! Ninja's rules (`clean.cc`):
//! - `ninja -t clean` goes through every edge in manifest order; phony edges are skipped (their
//!   outputs are names, not files), and so are edges whose rule sets `generator` (the manifest and
//!   what regenerates it stay) unless `-g` is given;
//! - for each remaining edge it removes every output (explicit and implicit, including implicit
//!   outputs that existing dyndep files add), then the edge's `depfile` and `rspfile`;
//! - `ninja -t clean <targets>` removes the targets and, recursively, everything they are built from
//!   that has a non-phony producing edge (generator edges included);
//! - `ninja -t clean -r <rules>` removes the outputs, depfiles and rspfiles of the rules' edges;
//! - a path is removed once, compared as written: a depfile named `./x.d` and a node `x.d` are two
//!   names to Ninja, and CMake's absolute and relative names of one output are too;
//! - only what exists is removed (in a dry run: what `stat` finds; a directory is "removed" with
//!   `remove()`, which fails unless it is empty).
//!
//! The functions here return the candidate paths, each once, in Ninja's order; checking what
//! exists is up to the caller.

use super::dyndep;
use super::eval::RuleId;
use super::hash::FastSet;
use super::manifest::{EdgeId, FileReader, Manifest, NodeId, VariableCycle};

/// Collects removal candidates, each once.
#[derive(Debug, Default)]
struct Removals {
    seen: FastSet<String>,
    paths: Vec<String>,
}

impl Removals {
    fn remove(&mut self, path: &str) {
        if !path.is_empty() && !self.seen.contains(path) {
            self.seen.insert(path.to_string());
            self.paths.push(path.to_string());
        }
    }

    fn remove_edge_files(&mut self, m: &Manifest, edge: EdgeId) -> Result<(), VariableCycle> {
        let depfile = m.edge_depfile(edge)?;
        self.remove(&depfile);
        let rspfile = m.edge_rspfile(edge)?;
        self.remove(&rspfile);
        Ok(())
    }
}

/// Load every pending dyndep file that can be loaded, ignoring errors, as the cleaner does.
/// Returns the errors Ninja would have swallowed.
pub fn load_dyndeps(m: &mut Manifest, reader: &mut dyn FileReader) -> Vec<String> {
    let mut errors = Vec::new();
    for i in 0..m.edges().len() {
        let Some(dd) = m.edges()[i].dyndep else {
            continue;
        };
        if !m.node(dd).dyndep_pending {
            continue;
        }
        if let Err(e) = dyndep::load(m, dd, reader) {
            errors.push(e);
        }
    }
    errors
}

/// `ninja -t clean` (`-g`: `generator = true`): every candidate path, in Ninja's order.
pub fn clean_all(
    m: &mut Manifest,
    generator: bool,
    reader: &mut dyn FileReader,
) -> Result<Vec<String>, VariableCycle> {
    load_dyndeps(m, reader);
    let mut r = Removals::default();
    for id in m.edge_ids() {
        let edge = m.edge(id);
        if edge.is_phony() {
            continue;
        }
        if !generator && m.edge_bool(id, "generator")? {
            continue;
        }
        for &out in &edge.outputs {
            r.remove(m.node(out).path());
        }
        r.remove_edge_files(m, id)?;
    }
    Ok(r.paths)
}

/// `ninja -t clean <targets>`.
pub fn clean_targets(
    m: &mut Manifest,
    targets: &[NodeId],
    reader: &mut dyn FileReader,
) -> Result<Vec<String>, VariableCycle> {
    load_dyndeps(m, reader);
    let mut r = Removals::default();
    let mut cleaned = vec![false; m.nodes().len()];
    for &t in targets {
        clean_target(m, t, &mut r, &mut cleaned)?;
    }
    Ok(r.paths)
}

fn clean_target(
    m: &Manifest,
    target: NodeId,
    r: &mut Removals,
    cleaned: &mut Vec<bool>,
) -> Result<(), VariableCycle> {
    // Iterative depth-first walk in Ninja's order (a node, then its producer's inputs in order).
    let mut stack = vec![target];
    while let Some(node) = stack.pop() {
        if cleaned.len() <= node.index() {
            cleaned.resize(node.index() + 1, false);
        }
        if cleaned[node.index()] {
            continue;
        }
        if let Some(e) = m.node(node).in_edge() {
            if !m.edge(e).is_phony() {
                r.remove(m.node(node).path());
                r.remove_edge_files(m, e)?;
            }
            cleaned[node.index()] = true;
            for &input in m.edge(e).inputs.iter().rev() {
                if !cleaned.get(input.index()).copied().unwrap_or(false) {
                    stack.push(input);
                }
            }
        }
        cleaned[node.index()] = true;
    }
    Ok(())
}

/// `ninja -t clean -r <rules>`.
pub fn clean_rules(
    m: &mut Manifest,
    rules: &[RuleId],
    reader: &mut dyn FileReader,
) -> Result<Vec<String>, VariableCycle> {
    load_dyndeps(m, reader);
    let mut r = Removals::default();
    for &rule in rules {
        let name = &m.rule(rule).name;
        for id in m.edge_ids() {
            let edge = m.edge(id);
            if &m.rule(edge.rule).name != name {
                continue;
            }
            for &out in &edge.outputs {
                r.remove(m.node(out).path());
                r.remove_edge_files(m, id)?;
            }
        }
    }
    Ok(r.paths)
}

/// `ninja -t cleandead`: outputs in the build log that the manifest no longer mentions.
pub fn clean_dead(m: &Manifest, log: &super::build_log::BuildLog) -> Vec<String> {
    let mut r = Removals::default();
    let mut outputs: Vec<&str> = log.entries().map(|e| e.output.as_str()).collect();
    outputs.sort_unstable();
    for output in outputs {
        let stale = match m.lookup(output) {
            None => true,
            Some(n) => m.node(n).in_edge().is_none() && m.node(n).out_edges().is_empty(),
        };
        if stale {
            r.remove(output);
        }
    }
    r.paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ninja::manifest::MemoryReader;

    const MANIFEST: &str = "\
rule cc
  command = cc -c $in -o $out
  depfile = $out.d
  deps = gcc
rule link
  command = ld @$out.rsp -o $out
  rspfile = $out.rsp
  rspfile_content = $in
rule gen
  command = cmake
  generator = 1
rule custom
  command = $COMMAND
build a.o: cc a.c
build b.o | b.extra: cc b.c
build app: link a.o b.o
build build.ninja: gen CMakeLists.txt
build gen.h | /abs/build/gen.h: custom
  COMMAND = touch gen.h
build all: phony app gen.h
build ./x/../c.o: cc c.c
  depfile = ./c.o.d
";

    #[test]
    fn clean_all_follows_ninja() {
        let mut m = Manifest::parse_str(MANIFEST).unwrap();
        let paths = clean_all(&mut m, false, &mut MemoryReader::default()).unwrap();
        assert_eq!(
            paths,
            [
                "a.o",
                "a.o.d",
                "b.o",
                "b.extra",
                "b.o.d",
                "app",
                "app.rsp",
                "gen.h",
                "/abs/build/gen.h",
                "c.o",
                "./c.o.d"
            ]
        );
        // With -g the generator's output goes too.
        let with_gen = clean_all(&mut m, true, &mut MemoryReader::default()).unwrap();
        assert!(with_gen.contains(&"build.ninja".to_string()));
    }

    #[test]
    fn clean_targets_walks_inputs() {
        let mut m = Manifest::parse_str(MANIFEST).unwrap();
        let app = m.find("app").unwrap();
        let paths = clean_targets(&mut m, &[app], &mut MemoryReader::default()).unwrap();
        assert_eq!(paths, ["app", "app.rsp", "a.o", "a.o.d", "b.o", "b.o.d"]);
        let all = m.find("all").unwrap();
        let paths = clean_targets(&mut m, &[all], &mut MemoryReader::default()).unwrap();
        assert_eq!(paths[0], "app");
        assert!(paths.contains(&"gen.h".to_string()));
        assert!(!paths.contains(&"all".to_string()));
    }

    #[test]
    fn clean_rules_by_name() {
        let mut m = Manifest::parse_str(MANIFEST).unwrap();
        let rule = m.lookup_rule(crate::ninja::ScopeId::ROOT, "link").unwrap();
        let paths = clean_rules(&mut m, &[rule], &mut MemoryReader::default()).unwrap();
        assert_eq!(paths, ["app", "app.rsp"]);
    }

    #[test]
    fn dyndep_outputs_are_cleaned_when_the_file_exists() {
        let text = "rule fc\n  command = fc\n  dyndep = $out.dd\nbuild m.o: fc m.f || m.o.dd\n\
                    rule dd\n  command = mkdd\nbuild m.o.dd: dd m.f\n";
        let mut m = Manifest::parse_str(text).unwrap();
        let mut files = MemoryReader::new([(
            "m.o.dd",
            "ninja_dyndep_version = 1\nbuild m.o | m.mod: dyndep\n",
        )]);
        let paths = clean_all(&mut m, false, &mut files).unwrap();
        assert_eq!(paths, ["m.o", "m.mod", "m.o.dd"]);
        // Without the file, only what the manifest says.
        let mut m = Manifest::parse_str(text).unwrap();
        let paths = clean_all(&mut m, false, &mut MemoryReader::default()).unwrap();
        assert_eq!(paths, ["m.o", "m.o.dd"]);
    }

    #[test]
    fn clean_dead_lists_outputs_the_manifest_forgot() {
        let m = Manifest::parse_str(MANIFEST).unwrap();
        let log = crate::ninja::build_log::BuildLog::parse(
            b"# ninja log v5\n0\t1\t2\ta.o\t1\n0\t1\t2\told.o\t1\n",
        );
        assert_eq!(clean_dead(&m, &log), ["old.o"]);
    }
}
