//! Garbage and hostile input: evaluation ends, with a diagnostic, and never panics.

use super::*;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn assert_no_internal_error(result: &ComponentEval, src: &str) {
    if let Some(fatal) = &result.fatal {
        assert!(
            !fatal.message.contains("internal error"),
            "panic while evaluating {src:?}"
        );
    }
}

#[test]
fn random_bytes_never_panic_the_parser() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = syntax::parse(&text);
    }
}

const TOKENS: &[&str] = &[
    "set(",
    "if(",
    "elseif(",
    "else()",
    "endif()",
    "foreach(",
    "endforeach()",
    "while(",
    "endwhile()",
    "function(",
    "endfunction()",
    "macro(",
    "endmacro()",
    "list(",
    "string(",
    "math(",
    "file(",
    "return()",
    "break()",
    "continue()",
    "include(",
    "message(",
    "idf_component_register(",
    "add_subdirectory(",
    "block()",
    "endblock()",
    ")",
    "(",
    "\"",
    "[[",
    "]]",
    "[=[",
    "]=]",
    "#",
    "#[[",
    "\\",
    "\\;",
    ";",
    "${",
    "}",
    "$ENV{",
    "$CACHE{",
    "x",
    "y",
    "APPEND",
    "GET",
    "REMOVE_ITEM",
    "RANGE",
    "IN",
    "LISTS",
    "ITEMS",
    "ZIP_LISTS",
    "NOT",
    "AND",
    "OR",
    "STREQUAL",
    "MATCHES",
    "EXISTS",
    "DEFINED",
    "EXPR",
    "REGEX",
    "REPLACE",
    "SUBSTRING",
    "-1",
    "0",
    "1",
    "99999999999999999999",
    "*",
    "/",
    "..",
    ".*",
    "\n",
    " ",
    "\t",
    "SRCS",
    "REQUIRES",
    "PARENT_SCOPE",
    "CACHE",
    "FORCE",
    "GLOB",
    "READ",
    "ARGN",
    "${ARGV}",
    "@",
    "é",
    "\u{0}",
];

#[test]
fn random_token_soup_never_panics_the_evaluator() {
    let fixture = Fixture::new();
    let evaluator = Evaluator::new();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..400 {
        let n = rng.below(60);
        let src: String = (0..n).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
        fixture.component("comp", &src);
        let result = evaluator.eval_component(&fixture.input("comp", ComponentPass::Processing));
        assert_no_internal_error(&result, &src);
    }
}

#[test]
fn structured_garbage_never_panics() {
    let fixture = Fixture::new();
    let evaluator = Evaluator::new();
    let mut rng = Rng(42);
    let commands = [
        "set(x ${x}${x}a)",
        "list(APPEND l ${l} b)",
        "list(GET l 5 y)",
        "list(SUBLIST l 3 -7 y)",
        "list(INSERT l -99 z)",
        "list(TRANSFORM l REPLACE \"(\" x)",
        "list(TRANSFORM l APPEND x FOR 0 99)",
        "string(SUBSTRING \"${x}\" 99 -5 y)",
        "string(REGEX REPLACE \"a*\" b y \"${x}\")",
        "string(REPEAT \"${x}\" 99999999 y)",
        "math(EXPR y \"9223372036854775807 + 1 * -9223372036854775808 / -1\")",
        "math(EXPR y \"1 << 99\")",
        "math(EXPR y \"((((((((((1))))))))))\")",
        "if(${x} MATCHES \"[\")\nendif()",
        "foreach(i RANGE 2000000000)\nendforeach()",
        "foreach(i RANGE -5)\nendforeach()",
        "cmake_parse_arguments(PARSE_ARGV 99 p a b c)",
        "get_filename_component(y \"${x}\" ABSOLUTE)",
        "cmake_path(GET x PARENT_PATH y)",
        "file(GLOB_RECURSE y ${CMAKE_CURRENT_LIST_DIR}/*.c)",
        "idf_component_register(SRCS ${l} REQUIRES ${x})",
        "idf_build_get_property(y)",
        "add_library()",
        "return(PROPAGATE x)",
        "include(${CMAKE_CURRENT_LIST_FILE})",
        "add_subdirectory(.)",
        "message(FATAL_ERROR ${x})",
    ];
    for _ in 0..200 {
        let n = 1 + rng.below(6);
        let src: String = (0..n)
            .map(|_| format!("{}\n", commands[rng.below(commands.len())]))
            .collect();
        fixture.component("comp", &src);
        let result = evaluator.eval_component(&fixture.input("comp", ComponentPass::Processing));
        assert_no_internal_error(&result, &src);
    }
}

#[test]
fn runaway_programs_stop_with_a_diagnostic() {
    let cases = [
        ("function(f)\nf()\nendfunction()\nf()\n", "depth"),
        ("macro(m)\nm()\nendmacro()\nm()\n", "depth"),
        ("include(${CMAKE_CURRENT_LIST_FILE})\n", "depth"),
        ("add_subdirectory(${CMAKE_CURRENT_LIST_DIR})\n", "depth"),
        (
            "function(f)\nforeach(i RANGE 1000)\nforeach(j RANGE 1000)\nset(x 1)\nendforeach()\nendforeach()\nendfunction()\nf()\n",
            "commands",
        ),
        ("string(REPEAT abc 100000000 y)\n", "too large"),
    ];
    for (src, expected) in cases {
        let (_f, r) = eval(src);
        let fatal = r.fatal.unwrap_or_else(|| panic!("no fatal for {src:?}"));
        assert!(
            fatal.message.contains(expected),
            "{src:?}: {}",
            fatal.message
        );
    }
    let (_f, r) = eval("foreach(i RANGE 2000000)\nendforeach()\nmessage(done)\n");
    assert_eq!(messages(&r), vec!["done"]);
    assert!(r.warnings[0].message.contains("iterations"));
}

#[test]
fn globs_are_bounded() {
    let started = std::time::Instant::now();
    let (_f, r) =
        eval("file(GLOB_RECURSE nothing /*.no_file_has_this_extension)\nmessage(after)\n");
    assert_eq!(r.fatal, None);
    assert_eq!(messages(&r), vec!["after"]);
    let glob = &r.inputs.globs[0];
    assert_eq!(glob.entry_limit, fsops::GLOB_ENTRY_LIMIT);
    assert!(glob.matched.is_empty());
    // Whether the walk hit the limit depends on the machine; when it did, the plan was told.
    for w in &r.warnings {
        assert!(w.message.contains("incomplete"), "{w}");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let depth = 5000;
    let src = format!(
        "{}{}",
        "if(TRUE)\n".repeat(depth),
        "endif()\n".repeat(depth)
    );
    let (_f, r) = eval(&src);
    assert!(
        r.fatal
            .expect("fatal")
            .message
            .contains("nested too deeply")
    );
    let src = format!("if({}x{})\nendif()\n", "(".repeat(depth), ")".repeat(depth));
    let (_f, r) = eval(&src);
    assert!(r.fatal.is_some());
}

#[test]
fn binary_and_invalid_utf8_files() {
    let fixture = Fixture::new();
    let path = fixture.component_dir("comp").join("CMakeLists.txt");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"message(\"\xff\xfe caf\xc3\xa9\")\n\x00\x01").unwrap();
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_no_internal_error(&r, "binary");
    assert!(r.fatal.is_some());
}
