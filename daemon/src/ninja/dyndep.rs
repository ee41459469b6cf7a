//! Dyndep files: dependency information a build step discovers and Ninja loads mid-build (CMake
//! uses them for Fortran and C++ modules). Syntax:
//!
//! ```text
//! ninja_dyndep_version = 1
//! build out.o | out.mod: dyndep | other.mod
//!   restat = 1
//! ```
//!
//! Each statement names an existing edge (by its first output) and adds implicit outputs and
//! inputs to it. `ninja -t clean` loads the dyndep files that exist, so their implicit outputs are
//! cleaned too.

use super::canon::canonicalize;
use super::eval::Tok;
use super::lexer::{Lexer, ParseError, Token};
use super::manifest::{
    EdgeId, FileReader, Manifest, NodeId, expect_token, io_message, parse_let, parse_version,
};

/// What a dyndep file says about one edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dyndeps {
    pub edge: EdgeId,
    pub restat: bool,
    pub implicit_inputs: Vec<NodeId>,
    pub implicit_outputs: Vec<NodeId>,
}

/// Parse a dyndep file against `manifest` (new paths become nodes of it).
pub fn parse(
    manifest: &mut Manifest,
    filename: &str,
    contents: &[u8],
) -> Result<Vec<Dyndeps>, ParseError> {
    let text = String::from_utf8_lossy(contents);
    let mut lexer = Lexer::new(filename, &text);
    let mut have_version = false;
    let mut result: Vec<Dyndeps> = Vec::new();
    loop {
        match lexer.read_token() {
            Token::Build => {
                if !have_version {
                    return Err(lexer.error("expected 'ninja_dyndep_version = ...'"));
                }
                let d = parse_edge(manifest, &mut lexer, &result)?;
                result.push(d);
            }
            Token::Ident => {
                lexer.unread_token();
                if have_version {
                    return Err(lexer.error(format!("unexpected {}", Token::Ident.name())));
                }
                let mut value = Vec::new();
                let name = parse_let(&mut lexer, &mut value)?;
                if name != "ninja_dyndep_version" {
                    return Err(lexer.error("expected 'ninja_dyndep_version = ...'"));
                }
                let version = plain(&value);
                if parse_version(&version) != (1, 0) {
                    return Err(
                        lexer.error(format!("unsupported 'ninja_dyndep_version = {version}'"))
                    );
                }
                have_version = true;
            }
            Token::Error => return Err(lexer.error(lexer.describe_last_error())),
            Token::Eof => {
                if !have_version {
                    return Err(lexer.error("expected 'ninja_dyndep_version = ...'"));
                }
                return Ok(result);
            }
            Token::Newline => {}
            other => return Err(lexer.error(format!("unexpected {}", other.name()))),
        }
    }
}

/// A dyndep file has no variables: references evaluate to nothing.
fn plain(toks: &[Tok<'_>]) -> String {
    let mut s = String::new();
    for t in toks {
        if let Tok::Text(t) = t {
            s.push_str(t);
        }
    }
    s
}

fn parse_edge(
    m: &mut Manifest,
    lexer: &mut Lexer<'_>,
    seen: &[Dyndeps],
) -> Result<Dyndeps, ParseError> {
    let mut out0 = Vec::new();
    if !lexer.read_path(&mut out0)? {
        return Err(lexer.error("expected path"));
    }
    let path = plain(&out0);
    if path.is_empty() {
        return Err(lexer.error("empty path"));
    }
    let path = canonicalize(&path);
    let Some(edge) = m.lookup(&path).and_then(|n| m.node(n).in_edge()) else {
        return Err(lexer.error(format!("no build statement exists for '{path}'")));
    };
    if seen.iter().any(|d| d.edge == edge) {
        return Err(lexer.error(format!("multiple statements for '{path}'")));
    }
    if lexer.read_path(&mut Vec::new())? {
        return Err(lexer.error("explicit outputs not supported"));
    }
    let mut outs = Vec::new();
    if lexer.peek_token(Token::Pipe) {
        read_paths(lexer, &mut outs)?;
    }
    expect_token(lexer, Token::Colon)?;
    if lexer.read_ident() != Some("dyndep") {
        return Err(lexer.error("expected build command name 'dyndep'"));
    }
    if lexer.read_path(&mut Vec::new())? {
        return Err(lexer.error("explicit inputs not supported"));
    }
    let mut ins = Vec::new();
    if lexer.peek_token(Token::Pipe) {
        read_paths(lexer, &mut ins)?;
    }
    if lexer.peek_token(Token::Pipe2) {
        return Err(lexer.error("order-only inputs not supported"));
    }
    expect_token(lexer, Token::Newline)?;
    let mut restat = false;
    if lexer.peek_token(Token::Indent) {
        let mut value = Vec::new();
        let key = parse_let(lexer, &mut value)?;
        if key != "restat" {
            return Err(lexer.error("binding is not 'restat'"));
        }
        restat = !plain(&value).is_empty();
    }
    let mut node_list = |list: Vec<Vec<Tok<'_>>>| -> Result<Vec<NodeId>, ParseError> {
        let mut nodes = Vec::with_capacity(list.len());
        for e in list {
            let p = plain(&e);
            if p.is_empty() {
                return Err(lexer.error("empty path"));
            }
            nodes.push(m.get_node(&canonicalize(&p)));
        }
        Ok(nodes)
    };
    let implicit_inputs = node_list(ins)?;
    let implicit_outputs = node_list(outs)?;
    Ok(Dyndeps {
        edge,
        restat,
        implicit_inputs,
        implicit_outputs,
    })
}

fn read_paths<'a>(lexer: &mut Lexer<'a>, into: &mut Vec<Vec<Tok<'a>>>) -> Result<(), ParseError> {
    loop {
        let mut e = Vec::new();
        if !lexer.read_path(&mut e)? {
            return Ok(());
        }
        into.push(e);
    }
}

/// Load the dyndep file `node` and apply it to every edge that names it, as Ninja's
/// `DyndepLoader` does. Errors are Ninja's messages.
pub fn load(m: &mut Manifest, node: NodeId, reader: &mut dyn FileReader) -> Result<(), String> {
    m.nodes_mut(node).dyndep_pending = false;
    let path = m.node(node).path().to_string();
    let contents = reader
        .read(&path)
        .map_err(|e| format!("loading '{path}': {}", io_message(&e)))?;
    let dyndeps = parse(m, &path, &contents).map_err(|e| e.to_string())?;
    let mut used = vec![false; dyndeps.len()];
    let users: Vec<EdgeId> = m
        .node(node)
        .out_edges()
        .iter()
        .copied()
        .filter(|&e| m.edge(e).dyndep == Some(node))
        .collect();
    for edge in users {
        let Some(i) = dyndeps.iter().position(|d| d.edge == edge) else {
            let out = m.node(m.edge(edge).outputs[0]).path().to_string();
            return Err(format!("'{out}' not mentioned in its dyndep file '{path}'"));
        };
        used[i] = true;
        apply(m, &dyndeps[i])?;
    }
    if let Some(i) = used.iter().position(|u| !u) {
        let out = m
            .node(m.edge(dyndeps[i].edge).outputs[0])
            .path()
            .to_string();
        return Err(format!(
            "dyndep file '{path}' mentions output '{out}' whose build statement does not have a \
             dyndep binding for the file"
        ));
    }
    Ok(())
}

fn apply(m: &mut Manifest, d: &Dyndeps) -> Result<(), String> {
    if d.restat {
        m.edges_mut(d.edge).dyndep_restat = true;
    }
    for &out in &d.implicit_outputs {
        if let Some(old) = m.node(out).in_edge() {
            if !m.edge(old).generated_by_dep_loader {
                return Err(format!("multiple rules generate {}", m.node(out).path()));
            }
            m.edges_mut(old).outputs.clear();
            m.nodes_mut(out).clear_in_edge();
        }
        m.add_implicit_output(d.edge, out)?;
    }
    for &input in &d.implicit_inputs {
        m.add_implicit_input(d.edge, input);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ninja::manifest::MemoryReader;

    const MANIFEST: &str = "rule cc\n  command = cc\n  dyndep = $dd\n\
        build a.o: cc a.f || a.dd\n  dd = a.dd\nbuild b.o: cc b.f || a.dd\n  dd = a.dd\n\
        build a.dd: phony\n";

    #[test]
    fn parse_and_apply() {
        let mut m = Manifest::parse_str(MANIFEST).unwrap();
        let mut files = MemoryReader::new([(
            "a.dd",
            "ninja_dyndep_version = 1.0\nbuild a.o | a.mod: dyndep\n  restat = 1\n\
             build b.o: dyndep | a.mod\n",
        )]);
        let dd = m.find("a.dd").unwrap();
        load(&mut m, dd, &mut files).unwrap();
        let a = m.node(m.find("a.o").unwrap()).in_edge().unwrap();
        let b = m.node(m.find("b.o").unwrap()).in_edge().unwrap();
        let a_mod = m.find("a.mod").unwrap();
        assert_eq!(m.node(a_mod).in_edge(), Some(a));
        assert_eq!(m.edge(a).implicit_outs, 1);
        assert!(m.edge(a).dyndep_restat);
        // The implicit input goes before the order-only ones.
        assert_eq!(m.edge(b).implicit_inputs(), [a_mod]);
        assert_eq!(m.edge(b).order_only_inputs(), [dd]);
        assert!(!m.node(dd).dyndep_pending);
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            (
                "build a.o: dyndep\n",
                "expected 'ninja_dyndep_version = ...'",
            ),
            ("", "expected 'ninja_dyndep_version = ...'"),
            (
                "ninja_dyndep_version = 2\n",
                "unsupported 'ninja_dyndep_version = 2'",
            ),
            ("x = 1\n", "expected 'ninja_dyndep_version = ...'"),
            (
                "ninja_dyndep_version = 1\nbuild nope: dyndep\n",
                "no build statement exists for 'nope'",
            ),
            (
                "ninja_dyndep_version = 1\nbuild a.o x: dyndep\n",
                "explicit outputs not supported",
            ),
            (
                "ninja_dyndep_version = 1\nbuild a.o: cc\n",
                "expected build command name 'dyndep'",
            ),
            (
                "ninja_dyndep_version = 1\nbuild a.o: dyndep x\n",
                "explicit inputs not supported",
            ),
            (
                "ninja_dyndep_version = 1\nbuild a.o: dyndep || x\n",
                "order-only inputs not supported",
            ),
            (
                "ninja_dyndep_version = 1\nbuild a.o: dyndep\n  pool = x\n",
                "binding is not 'restat'",
            ),
            (
                "ninja_dyndep_version = 1\nbuild a.o: dyndep\nbuild a.o: dyndep\n",
                "multiple statements for 'a.o'",
            ),
        ];
        for (text, message) in cases {
            let mut m = Manifest::parse_str(MANIFEST).unwrap();
            let err = parse(&mut m, "a.dd", text.as_bytes()).unwrap_err();
            assert_eq!(err.message, *message, "for {text:?}");
        }
    }

    #[test]
    fn every_user_must_be_mentioned() {
        let mut m = Manifest::parse_str(MANIFEST).unwrap();
        let mut files =
            MemoryReader::new([("a.dd", "ninja_dyndep_version = 1\nbuild a.o: dyndep\n")]);
        let dd = m.find("a.dd").unwrap();
        assert_eq!(
            load(&mut m, dd, &mut files).unwrap_err(),
            "'b.o' not mentioned in its dyndep file 'a.dd'"
        );
    }
}
