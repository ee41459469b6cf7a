//! Tests of the manifest parser: every syntax feature, scoping, escapes and errors.

use super::*;

fn parse(text: &str) -> Manifest {
    Manifest::parse_str(text).unwrap_or_else(|e| panic!("parse failed: {e}"))
}

fn parse_err(text: &str) -> ParseError {
    Manifest::parse_str(text).expect_err("should fail")
}

fn parse_files(files: &[(&str, &str)]) -> Result<Manifest, ParseError> {
    let mut reader = MemoryReader::new(files.iter().copied());
    Manifest::parse(&mut reader, files[0].0, ParseOptions::default())
}

fn edge_of(m: &Manifest, output: &str) -> EdgeId {
    let node = m.find(output).unwrap_or_else(|| panic!("no node {output}"));
    m.node(node).in_edge().expect("no in-edge")
}

fn command(m: &Manifest, output: &str) -> String {
    m.edge_command(edge_of(m, output), false).unwrap()
}

fn paths(m: &Manifest, ids: &[NodeId]) -> Vec<String> {
    ids.iter().map(|&n| m.node(n).path().to_string()).collect()
}

const CAT: &str = "rule cat\n  command = cat $in > $out\n";

#[test]
fn rules_edges_and_lazy_rule_variables() {
    let m = parse(
        "rule cc\n  command = gcc $flags -c $in -o $out\n  depfile = $out.d\n  deps = gcc\n  \
         description = CC $out\nflags = -O2\nbuild a.o: cc a.c\nbuild b.o: cc b.c\n  flags = -O0\n",
    );
    assert_eq!(command(&m, "a.o"), "gcc -O2 -c a.c -o a.o");
    assert_eq!(command(&m, "b.o"), "gcc -O0 -c b.c -o b.o");
    let e = edge_of(&m, "a.o");
    assert_eq!(m.edge_depfile(e).unwrap(), "a.o.d");
    assert_eq!(m.edge_binding(e, "deps").unwrap(), "gcc");
    assert_eq!(m.edge_binding(e, "description").unwrap(), "CC a.o");
    assert_eq!(m.rule(m.edge(e).rule).name, "cc");
}

#[test]
fn top_level_variables_are_evaluated_immediately() {
    let m = parse(&format!(
        "{CAT}x = one\ny = ${{x}}-two\nx = three\nbuild out: cat in\n  v = $y $x\nrule echo\n  \
         command = echo $v\nbuild out2: echo\n  v = $y\n"
    ));
    assert_eq!(m.var("y"), Some("one-two"));
    assert_eq!(m.var("x"), Some("three"));
    let e = edge_of(&m, "out");
    assert_eq!(m.edge_binding(e, "v").unwrap(), "one-two three");
    assert_eq!(command(&m, "out2"), "echo one-two");
}

#[test]
fn edge_variables_see_the_enclosing_scope_not_each_other() {
    // `y = $x` is evaluated in the file's scope: it sees the top-level x, not the edge's.
    let m = parse("rule r\n  command = echo $x $y\nx = X0\nbuild a: r\n  x = X1\n  y = $x\n");
    assert_eq!(command(&m, "a"), "echo X1 X0");
}

#[test]
fn paths_are_evaluated_with_the_edges_variables() {
    let m = parse(&format!(
        "{CAT}dir = out\nbuild $dir/$name: cat $dir/in\n  name = file\n"
    ));
    assert!(m.find("out/file").is_some());
    assert_eq!(command(&m, "out/file"), "cat out/in > out/file");
}

#[test]
fn file_scope_variables_shadow_rule_variables_for_edges_without_variables() {
    // Ninja's quirk: an edge with no variables of its own uses the file scope as its environment,
    // so a top-level `command` overrides the rule's; an edge with variables does not.
    let m = parse(
        "rule r\n  command = echo rule-command $out\ncommand = echo TOPLEVEL\nbuild a: r\nbuild b: r\n  x = 1\n",
    );
    assert_eq!(command(&m, "a"), "echo TOPLEVEL");
    assert_eq!(command(&m, "b"), "echo rule-command b");
}

#[test]
fn rule_variables_can_use_each_other_and_cycles_are_errors() {
    let m = parse(
        "rule r\n  command = $description && $description\n  description = run $out\nbuild x: r\n\
         rule loop\n  command = $depfile\n  depfile = $rspfile\n  rspfile = $depfile\n  \
         rspfile_content = x\nbuild y: loop\n",
    );
    assert_eq!(command(&m, "x"), "run x && run x");
    let err = m.edge_command(edge_of(&m, "y"), false).unwrap_err();
    assert_eq!(err.0, "depfile -> rspfile -> depfile");
}

#[test]
fn in_out_and_in_newline_use_explicit_paths_only() {
    let m = parse(
        "rule r\n  command = x $in : $out\n  rspfile = $out.rsp\n  rspfile_content = $in_newline\n\
         build o1 o2 | io: r i1 i2 | ii || oo |@ vv\nbuild oo ii vv: phony\n",
    );
    let e = edge_of(&m, "o1");
    assert_eq!(m.edge_command(e, false).unwrap(), "x i1 i2 : o1 o2");
    assert_eq!(
        m.edge_command(e, true).unwrap(),
        "x i1 i2 : o1 o2;rspfile=i1\ni2"
    );
    assert_eq!(m.edge_rspfile(e).unwrap(), "o1 o2.rsp");
    let edge = m.edge(e);
    assert_eq!(paths(&m, &edge.outputs), ["o1", "o2", "io"]);
    assert_eq!(edge.implicit_outs, 1);
    assert_eq!(paths(&m, edge.explicit_outputs()), ["o1", "o2"]);
    assert_eq!(paths(&m, &edge.inputs), ["i1", "i2", "ii", "oo"]);
    assert_eq!(paths(&m, edge.explicit_inputs()), ["i1", "i2"]);
    assert_eq!(paths(&m, edge.implicit_inputs()), ["ii"]);
    assert_eq!(paths(&m, edge.order_only_inputs()), ["oo"]);
    assert!(edge.is_order_only(3) && !edge.is_order_only(2));
    assert_eq!(paths(&m, &edge.validations), ["vv"]);
    let vv = m.find("vv").unwrap();
    assert_eq!(m.node(vv).validation_out_edges(), [e]);
    assert_eq!(m.node(m.find("io").unwrap()).in_edge(), Some(e));
}

#[test]
fn in_and_out_are_shell_escaped_in_commands_but_not_in_depfiles() {
    let m = parse(
        "rule r\n  command = cp $in $out\n  depfile = $out.d\nbuild a$ b.o: r it's$ here.c\n",
    );
    let e = edge_of(&m, "a b.o");
    assert_eq!(
        m.edge_command(e, false).unwrap(),
        "cp 'it'\\''s here.c' 'a b.o'"
    );
    assert_eq!(m.edge_depfile(e).unwrap(), "a b.o.d");
}

#[test]
fn escapes_and_line_continuations() {
    let m = parse(&format!(
        "{CAT}build a$ b c$:d e$$f: cat $\n      in1 $\n  in2\n  v = one $\n      two$ $ three $$four\n"
    ));
    let e = edge_of(&m, "a b");
    assert_eq!(paths(&m, &m.edge(e).outputs), ["a b", "c:d", "e$f"]);
    assert_eq!(paths(&m, &m.edge(e).inputs), ["in1", "in2"]);
    assert_eq!(m.edge_binding(e, "v").unwrap(), "one two  three $four");
}

#[test]
fn braces_allow_dots_in_variable_names() {
    let m = parse(&format!(
        "{CAT}a.b = dotted\na = plain\nbuild ${{a.b}} $a.b: cat x\n"
    ));
    assert!(m.find("dotted").is_some());
    assert!(m.find("plain.b").is_some());
}

#[test]
fn crlf_line_endings() {
    let m = parse("rule cat\r\n  command = cat $in > $out\r\nbuild out: cat in\r\n  v = x\r\n");
    assert_eq!(command(&m, "out"), "cat in > out");
    assert_eq!(m.edge_binding(edge_of(&m, "out"), "v").unwrap(), "x");
}

#[test]
fn comments_and_blank_lines() {
    let m = parse(&format!(
        "# header\n\n{CAT}   # indented comment\nbuild out: cat in # not a comment\n"
    ));
    // `#` is not special inside a path.
    assert_eq!(
        paths(&m, &m.edge(edge_of(&m, "out")).inputs),
        ["in", "#", "not", "a", "comment"]
    );
}

#[test]
fn paths_are_canonicalised() {
    let m = parse(&format!("{CAT}build ./out/../a//b: cat ./x/./y/../z\n"));
    let e = edge_of(&m, "a/b");
    assert_eq!(paths(&m, &m.edge(e).inputs), ["x/z"]);
    assert_eq!(m.find("./a/b"), Some(m.edge(e).outputs[0]));
}

#[test]
fn generator_restat_and_deps_variables() {
    let m = parse(
        "rule gen\n  command = regen\n  generator = 1\nrule stamp\n  command = touch $out\n  restat = $R\n\
         build build.ninja: gen build.in\nbuild s1: stamp\n  R = 1\nbuild s2: stamp\n",
    );
    assert!(
        m.edge_bool(edge_of(&m, "build.ninja"), "generator")
            .unwrap()
    );
    assert!(m.edge_bool(edge_of(&m, "s1"), "restat").unwrap());
    assert!(!m.edge_bool(edge_of(&m, "s2"), "restat").unwrap());
}

#[test]
fn phony_edges_and_self_references() {
    let m = parse(&format!(
        "{CAT}build a: cat b\nbuild all: phony a all\nbuild alias: phony\n"
    ));
    let e = edge_of(&m, "all");
    assert!(m.edge(e).is_phony());
    // The self-reference is dropped, as Ninja does by default for old CMake output.
    assert_eq!(paths(&m, &m.edge(e).inputs), ["a"]);
    assert_eq!(m.warnings().len(), 1);
    assert!(m.edge(edge_of(&m, "alias")).inputs.is_empty());
}

#[test]
fn defaults_and_root_nodes() {
    let m = parse(&format!(
        "{CAT}build a: cat in\nbuild b: cat a\nbuild c: cat in\n"
    ));
    assert!(m.defaults().is_empty());
    assert_eq!(paths(&m, &m.default_targets()), ["b", "c"]);
    let m = parse(&format!(
        "{CAT}build a: cat in\nbuild b: cat a\nbuild c: cat in\ndefault a $\n  c\ndefault b\n"
    ));
    assert_eq!(paths(&m, m.defaults()), ["a", "c", "b"]);
    let err = parse_err(&format!("{CAT}build a: cat in\ndefault nope\n"));
    assert_eq!(err.line, 4);
    assert_eq!(err.message, "unknown target 'nope'");
}

#[test]
fn pools() {
    let m = parse(&format!(
        "{CAT}pool link\n  depth = 2\nrule ld\n  command = ld\n  pool = link\nbuild a: ld\n\
         build b: cat\n  pool = console\n"
    ));
    let a = m.edge(edge_of(&m, "a"));
    assert_eq!(m.pool(a.pool).name, "link");
    assert_eq!(m.pool(a.pool).depth, 2);
    assert_eq!(m.edge(edge_of(&m, "b")).pool, PoolId::CONSOLE);

    assert_eq!(
        parse_err(&format!("{CAT}build a: cat\n  pool = nope\n")).message,
        "unknown pool name 'nope'"
    );
    assert_eq!(
        parse_err("pool p\n  depth = 1\npool p\n  depth = 2\n").message,
        "duplicate pool 'p'"
    );
    assert_eq!(
        parse_err("pool p\n  depth = -1\n").message,
        "invalid pool depth"
    );
    assert_eq!(
        parse_err("pool p\n  size = 1\n").message,
        "unexpected variable 'size'"
    );
    assert_eq!(parse_err("pool p\n").message, "expected 'depth =' line");
}

#[test]
fn include_shares_the_scope() {
    let m = parse_files(&[
        (
            "build.ninja",
            "x = top\ninclude rules.ninja\nbuild out: cat $y\n",
        ),
        (
            "rules.ninja",
            "rule cat\n  command = cat $in > $out # $x\ny = from-include-$x\n",
        ),
    ])
    .unwrap();
    assert_eq!(command(&m, "out"), "cat from-include-top > out # top");
    assert_eq!(m.files(), ["build.ninja", "rules.ninja"]);
}

#[test]
fn subninja_gets_a_child_scope() {
    let m = parse_files(&[
        (
            "build.ninja",
            "x = top\nrule cat\n  command = cat $in > $out [$x]\nsubninja sub/build.ninja\n\
             build top.out: cat in\nbuild top2.out: sub_rule in\n",
        ),
        (
            "sub/build.ninja",
            "x = sub\nrule sub_rule\n  command = sub $x\nrule cat\n  command = subcat $x\n\
             build sub.out: cat in\nbuild sub2.out: sub_rule in\n",
        ),
    ]);
    // `sub_rule` is not visible in the parent.
    let err = parse_err_from(m);
    assert_eq!(err.message, "unknown build rule 'sub_rule'");
    assert_eq!(err.file, "build.ninja");
    assert_eq!(err.line, 6);

    let m = parse_files(&[
        (
            "build.ninja",
            "x = top\nrule cat\n  command = cat $in > $out [$x]\nsubninja sub/build.ninja\n\
             build top.out: cat in\n",
        ),
        (
            "sub/build.ninja",
            "x = sub\nrule sub_rule\n  command = sub $x\nrule cat\n  command = subcat $x\n\
             build sub.out: cat in\nbuild sub2.out: sub_rule in\n",
        ),
    ])
    .unwrap();
    // The subninja's `x` and `cat` shadow the parent's inside it only.
    assert_eq!(command(&m, "top.out"), "cat in > top.out [top]");
    assert_eq!(command(&m, "sub.out"), "subcat sub");
    assert_eq!(command(&m, "sub2.out"), "sub sub");
    assert_eq!(m.var("x"), Some("top"));
    let sub_edge = m.edge(edge_of(&m, "sub.out"));
    assert_eq!(m.scope(sub_edge.scope).parent, Some(ScopeId::ROOT));
}

fn parse_err_from(r: Result<Manifest, ParseError>) -> ParseError {
    r.expect_err("should fail")
}

#[test]
fn subninja_sees_parent_variables() {
    let m = parse_files(&[
        (
            "build.ninja",
            "flags = -g\nrule cc\n  command = cc $flags $in\nsubninja sub.ninja\n",
        ),
        (
            "sub.ninja",
            "build a.o: cc a.c\nbuild b.o: cc b.c\n  flags = -O3\n",
        ),
    ])
    .unwrap();
    assert_eq!(command(&m, "a.o"), "cc -g a.c");
    assert_eq!(command(&m, "b.o"), "cc -O3 b.c");
}

#[test]
fn duplicate_rules() {
    assert_eq!(
        parse_err(&format!("{CAT}{CAT}")).message,
        "duplicate rule 'cat'"
    );
    // `phony` is built in at the top level...
    assert_eq!(
        parse_err("rule phony\n  command = x\n").message,
        "duplicate rule 'phony'"
    );
    // ...but a subninja may define its own rule of any name.
    parse_files(&[
        ("build.ninja", &format!("{CAT}subninja s.ninja\n")),
        (
            "s.ninja",
            "rule cat\n  command = other\nrule phony\n  command = p\n",
        ),
    ])
    .unwrap();
}

#[test]
fn include_errors_are_reported_at_the_include() {
    let err = parse_err("x = 1\ninclude missing.ninja\n");
    assert_eq!(err.file, "build.ninja");
    assert_eq!(err.line, 2);
    assert_eq!(
        err.message,
        "loading 'missing.ninja': No such file or directory"
    );
    let err = parse_files(&[
        ("build.ninja", "include sub.ninja\n"),
        ("sub.ninja", "\n\nbuild x: nope\n"),
    ])
    .unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("sub.ninja", 3));
    assert_eq!(err.message, "unknown build rule 'nope'");
}

#[test]
fn errors_carry_line_numbers_and_ninjas_messages() {
    let cases: &[(&str, usize, &str)] = &[
        ("rule cat\n", 2, "expected 'command =' line"),
        (
            "rule cat\n  command = x\n  foo = y\n",
            3,
            "unexpected variable 'foo'",
        ),
        (
            "rule cat\n  command = x\n  rspfile = r\n",
            4,
            "rspfile and rspfile_content need to be both specified",
        ),
        ("\n\nbuild x: nope\n", 3, "unknown build rule 'nope'"),
        ("build: phony\n", 1, "expected path"),
        (
            "build x y\n",
            1,
            "expected ':', got newline ($ also escapes ':')",
        ),
        (
            "build x: phony\nbuild x: phony\n",
            3,
            "multiple rules generate x",
        ),
        (
            "build x x: phony\n",
            2,
            "x is defined as an output multiple times",
        ),
        ("x = $\n", 2, "unexpected EOF"),
        ("\tx = 1\n", 1, "tabs are not allowed, use spaces"),
        ("  x = 1\n", 1, "unexpected indent"),
        ("x 1\n", 1, "expected '=', got identifier"),
        ("default\n", 1, "expected target name"),
        ("build x: phony\n  = 1\n", 2, "expected variable name"),
        ("rule\n", 1, "expected rule name"),
        ("pool\n", 1, "expected pool name"),
        ("= 1\n", 1, "unexpected '='"),
        ("e =\nbuild $e: phony\n", 3, "empty path"),
        (
            "rule r\n  command = x\n  dyndep = dd\nbuild out: r in\n",
            5,
            "dyndep 'dd' is not an input",
        ),
        (
            "x = $%\n",
            1,
            "bad $-escape (literal $ must be written as $$)",
        ),
    ];
    for (text, line, message) in cases {
        let err = parse_err(text);
        assert_eq!(
            (err.line, err.message.as_str()),
            (*line, *message),
            "for {text:?}"
        );
    }
}

#[test]
fn error_display_matches_ninja() {
    let err = parse_err("rule cat\n  command = cat\nbuild out: cat in\nbuild x: dog y\n");
    assert_eq!(
        err.to_string(),
        "build.ninja:4: unknown build rule 'dog'\nbuild x: dog y\n         ^ near here"
    );
}

#[test]
fn duplicate_outputs_can_be_tolerated() {
    let mut reader = MemoryReader::new([(
        "build.ninja",
        "rule cat\n  command = cat\nbuild a | b: cat\nbuild b | a: cat\nbuild c | a: cat\n",
    )]);
    let options = ParseOptions {
        dupe_edges_are_errors: false,
        ..ParseOptions::default()
    };
    let m = Manifest::parse(&mut reader, "build.ninja", options).unwrap();
    // The second statement loses both outputs and disappears; the third keeps `c`.
    assert_eq!(m.edges().len(), 2);
    let c = m.edge(edge_of(&m, "c"));
    assert_eq!(paths(&m, &c.outputs), ["c"]);
    assert_eq!(c.implicit_outs, 0);
    assert_eq!(m.warnings().len(), 3);
}

#[test]
fn dyndep_binding_names_an_input() {
    let m = parse(
        "rule r\n  command = x\n  dyndep = $out.dd\nbuild out: r in || out.dd\nbuild out.dd: phony\n",
    );
    let e = m.edge(edge_of(&m, "out"));
    assert_eq!(e.dyndep, m.find("out.dd"));
    assert!(m.node(e.dyndep.unwrap()).dyndep_pending);
}

#[test]
fn required_version_and_empty_file() {
    let m = parse("ninja_required_version = 1.5\n");
    assert_eq!(m.required_version(), Some("1.5"));
    let m = parse("");
    assert!(m.edges().is_empty());
    assert_eq!(parse_version("1.10.2"), (1, 10));
    assert_eq!(parse_version("1"), (1, 0));
}

#[test]
fn missing_top_level_file() {
    let mut reader = MemoryReader::default();
    let err = Manifest::parse(&mut reader, "build.ninja", ParseOptions::default()).unwrap_err();
    assert_eq!(err.line, 0);
    assert_eq!(
        err.to_string(),
        "loading 'build.ninja': No such file or directory"
    );
}
