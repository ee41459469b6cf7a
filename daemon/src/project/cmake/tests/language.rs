//! Arguments, expansion, variables, lists, strings, loops, functions and macros, include.

use super::*;

// ------------------------------------------------------------------ arguments

#[test]
fn bracket_arguments_are_literal() {
    let out = output(
        "set(x value)\n\
         message([=[a ${x} \\n ]] b]=])\n\
         message([[\nfirst newline dropped]])\n",
    );
    assert_eq!(out, vec!["a ${x} \\n ]] b", "first newline dropped"]);
}

#[test]
fn comments_everywhere() {
    let out = output(
        "# line comment\n\
         #[[ bracket\n comment ]] message(one)\n\
         message(two # inside the argument list\n\
           three) #[==[ trailing ]==]\n",
    );
    assert_eq!(out, vec!["one", "twothree"]);
}

#[test]
fn quoted_escapes_and_continuation() {
    let out = output(
        "message(\"tab\\there \\\"q\\\" back\\\\slash semi\\;colon\")\n\
         message(\"joined \\\n  line\")\n\
         message(\"real\nnewline\")\n",
    );
    assert_eq!(
        out,
        vec![
            "tab\there \"q\" back\\slash semi\\;colon",
            "joined   line",
            "real\nnewline"
        ]
    );
}

#[test]
fn unquoted_arguments_split_on_semicolons_quoted_do_not() {
    let out = output(
        "function(count)\n  message(\"${ARGC}\")\nendfunction()\n\
         set(l a b c)\n\
         count(${l})\n\
         count(\"${l}\")\n\
         count(a\\;b)\n\
         set(empty \"\")\n\
         count(${empty})\n\
         count(\"${empty}\")\n\
         count(x;;y)\n\
         count([[a;b]])\n",
    );
    assert_eq!(out, vec!["3", "1", "1", "0", "1", "2", "1"]);
}

#[test]
fn escaped_semicolon_survives_in_list_element() {
    // Unquoted, `\;` only protects the element while the arguments are split: `set` joins
    // "a;b" and "c" into a three-element list. Quoted, the escape is kept in the value.
    let out = output(
        "set(x a\\;b c)\nlist(LENGTH x n)\nmessage(${n})\n\
         set(y \"a\\;b\" c)\nlist(LENGTH y n)\nlist(GET y 0 first)\nmessage(\"${n} ${first}\")\n",
    );
    assert_eq!(out, vec!["3", "2 a;b"]);
}

#[test]
fn legacy_unquoted_with_quotes() {
    let out = output("set(x -DNAME=\"a b\")\nmessage(\"${x}\")\n");
    assert_eq!(out, vec!["-DNAME=\"a b\""]);
}

#[test]
fn command_names_are_case_insensitive() {
    let out = output("SET(x 1)\nMessage(\"${x}\")\nIF(x)\nmessage(yes)\nENDIF()\n");
    assert_eq!(out, vec!["1", "yes"]);
}

#[test]
fn syntax_errors_are_fatal_with_their_line() {
    let (_f, r) = eval("message(ok)\nmessage(\"unterminated)\n");
    let fatal = r.fatal.expect("fatal");
    assert_eq!(fatal.line, 2);
    assert!(fatal.message.contains("unterminated"), "{}", fatal.message);
    assert!(fatal.file.ends_with("components/comp/CMakeLists.txt"));

    assert!(fatal_of("message(a) message(b)\n").contains("newline"));
    assert!(fatal_of("message a\n").contains("expected `(`"));
    assert!(fatal_of("if(x)\nmessage(a)\n").contains("never closed"));
    assert!(fatal_of("endif()\n").contains("not properly nested"));
    assert!(fatal_of("foreach(x a)\nendwhile()\n").contains("not properly nested"));
    assert!(fatal_of("message([=[ open\n").contains("bracket"));
    assert!(fatal_of("!\n").contains("expected a command name"));
}

fn fatal_of(src: &str) -> String {
    fatal(src)
}

// ------------------------------------------------------------------ expansion

#[test]
fn nested_references_env_and_cache() {
    let fixture = Fixture::new();
    let mut values = fixture.values.clone();
    values.env.insert("HOME_X".into(), "/home/x".into());
    values.cache.insert("CACHED".into(), "from-cache".into());
    values.variables.insert("CACHED".into(), "normal".into());
    fixture.component(
        "comp",
        "set(name suffix)\nset(var_suffix deep)\nset(ptr name)\n\
         message(\"${var_${name}} ${${ptr}} $ENV{HOME_X} $CACHE{CACHED} ${CACHED} [$ENV{NOPE}]\")\n\
         message(\"${CMAKE_CURRENT_LIST_LINE} \\${name} $notref {x}\")\n",
    );
    let input = ComponentInput::new(
        "comp",
        fixture.component_dir("comp"),
        ComponentPass::Processing,
        Arc::new(values),
    );
    let r = Evaluator::new().eval_component(&input);
    assert_eq!(r.fatal, None);
    assert_eq!(
        messages(&r),
        vec![
            "deep suffix /home/x from-cache normal []",
            "5 ${name} $notref {x}"
        ]
    );
    assert_eq!(
        r.inputs.variables.get(&InputKey::Env("NOPE".into())),
        Some(&None)
    );
    assert_eq!(
        r.inputs.variables.get(&InputKey::Cache("CACHED".into())),
        Some(&Some("from-cache".into()))
    );
}

#[test]
fn expansion_errors_are_fatal() {
    assert!(fatal("message(\"\\d\")\n").contains("invalid character escape"));
    assert!(fatal("message(\"${unterminated\")\n").contains("unterminated"));
    assert!(fatal("message(\"${bad name}\")\n").contains("invalid character"));
    assert!(fatal("message(\"$FOO{x}\")\n").contains("not supported"));
}

// ------------------------------------------------------------------ set / unset

#[test]
fn set_unset_parent_scope_cache_env() {
    let out = output(
        "function(f)\n\
           set(local 1)\n\
           set(up 2 PARENT_SCOPE)\n\
           message(\"in f up=[${up}]\")\n\
           unset(gone PARENT_SCOPE)\n\
         endfunction()\n\
         set(gone here)\n\
         f()\n\
         message(\"local=[${local}] up=[${up}] gone=[${gone}]\")\n\
         set(l a b c)\nmessage(\"${l}\")\n\
         set(l)\nif(DEFINED l)\nmessage(defined)\nendif()\n\
         set(c1 v CACHE STRING \"doc\")\nset(c1 w CACHE STRING \"doc\")\nmessage(\"$CACHE{c1}\")\n\
         set(c1 x CACHE STRING \"doc\" FORCE)\nmessage(\"$CACHE{c1} ${c1}\")\n\
         set(ENV{MY_ENV} hello)\nmessage(\"$ENV{MY_ENV}\")\nunset(ENV{MY_ENV})\n\
         if(NOT DEFINED ENV{MY_ENV})\nmessage(unset-env)\nendif()\n\
         set(n 1)\nunset(n)\nmessage(\"[${n}]\")\n",
    );
    assert_eq!(
        out,
        vec![
            "in f up=[]",
            "local=[] up=[2] gone=[]",
            "a;b;c",
            "v",
            "x x",
            "hello",
            "unset-env",
            "[]"
        ]
    );
}

// ------------------------------------------------------------------ list

#[test]
fn list_reading_subcommands() {
    let out = output(
        "set(l a b c d)\n\
         list(LENGTH l n)\nmessage(${n})\n\
         list(GET l 0 -1 1 g)\nmessage(\"${g}\")\n\
         list(JOIN l - j)\nmessage(${j})\n\
         list(SUBLIST l 1 2 s)\nmessage(\"${s}\")\n\
         list(SUBLIST l 2 -1 s)\nmessage(\"${s}\")\n\
         list(FIND l c f)\nlist(FIND l z nf)\nmessage(\"${f} ${nf}\")\n\
         list(LENGTH undefined_list u)\nmessage(${u})\n\
         set(e \"a;;b\")\nlist(LENGTH e ne)\nmessage(${ne})\n",
    );
    assert_eq!(
        out,
        vec!["4", "a;d;b", "a-b-c-d", "b;c", "c;d", "2 -1", "0", "3"]
    );
    assert!(fatal("set(l a)\nlist(GET l 3 x)\n").contains("out of range"));
}

#[test]
fn list_modifying_subcommands() {
    let out = output(
        "list(APPEND l a b)\nlist(APPEND l c)\nlist(PREPEND l z)\nmessage(\"${l}\")\n\
         list(APPEND fresh)\nif(DEFINED fresh)\nmessage(defined-empty)\nendif()\n\
         list(INSERT l 1 y)\nmessage(\"${l}\")\n\
         list(REMOVE_ITEM l y z missing)\nmessage(\"${l}\")\n\
         list(APPEND l a b)\nlist(REMOVE_DUPLICATES l)\nmessage(\"${l}\")\n\
         list(REMOVE_AT l 0 -1)\nmessage(\"${l}\")\n\
         set(r 1 2 3)\nlist(REVERSE r)\nmessage(\"${r}\")\n\
         set(p 1 2 3)\nlist(POP_BACK p last)\nlist(POP_FRONT p first)\nmessage(\"${p} ${last} ${first}\")\n\
         list(REMOVE_ITEM never_set x)\nif(NOT DEFINED never_set)\nmessage(still-undefined)\nendif()\n",
    );
    assert_eq!(
        out,
        vec![
            "z;a;b;c",
            "defined-empty",
            "z;y;a;b;c",
            "a;b;c",
            "a;b;c",
            "b",
            "3;2;1",
            "2 3 1",
            "still-undefined"
        ]
    );
}

#[test]
fn list_filter_transform_sort() {
    let out = output(
        "set(src a.c b.S c.cpp d.c)\n\
         set(c_only ${src})\nlist(FILTER c_only INCLUDE REGEX \"\\\\.c$\")\nmessage(\"${c_only}\")\n\
         set(no_c ${src})\nlist(FILTER no_c EXCLUDE REGEX \"\\\\.c$\")\nmessage(\"${no_c}\")\n\
         set(t ${src})\nlist(TRANSFORM t PREPEND \"src/\")\nmessage(\"${t}\")\n\
         list(TRANSFORM src APPEND .o OUTPUT_VARIABLE objs)\nmessage(\"${objs}\")\n\
         set(u a b c)\nlist(TRANSFORM u TOUPPER AT 0 2)\nmessage(\"${u}\")\n\
         set(v x1 y2 x3)\nlist(TRANSFORM v REPLACE \"x([0-9])\" \"z\\\\1\" REGEX \"^x\")\nmessage(\"${v}\")\n\
         set(w \" a \" \"b \")\nlist(TRANSFORM w STRIP)\nmessage(\"${w}\")\n\
         set(f 0 1 2 3 4)\nlist(TRANSFORM f PREPEND n FOR 1 3)\nmessage(\"${f}\")\n\
         set(s b C a)\nlist(SORT s)\nmessage(\"${s}\")\n\
         list(SORT s CASE INSENSITIVE ORDER DESCENDING)\nmessage(\"${s}\")\n\
         set(nat f10 f9 f1)\nlist(SORT nat COMPARE NATURAL)\nmessage(\"${nat}\")\n",
    );
    assert_eq!(
        out,
        vec![
            "a.c;d.c",
            "b.S;c.cpp",
            "src/a.c;src/b.S;src/c.cpp;src/d.c",
            "a.c.o;b.S.o;c.cpp.o;d.c.o",
            "A;b;C",
            "z1;y2;z3",
            "a;b",
            "0;n1;n2;n3;4",
            "C;a;b",
            "C;b;a",
            "f1;f9;f10"
        ]
    );
}

// ------------------------------------------------------------------ string

#[test]
fn string_subcommands() {
    let out = output(
        "string(APPEND s a b)\nstring(PREPEND s z)\nmessage(${s})\n\
         string(CONCAT c x y z)\nmessage(${c})\n\
         string(JOIN \", \" j a b c)\nmessage(\"${j}\")\n\
         string(LENGTH \"hello\" n)\nmessage(${n})\n\
         string(SUBSTRING \"hello\" 1 3 sub)\nstring(SUBSTRING \"hello\" 2 -1 tail)\nmessage(\"${sub} ${tail}\")\n\
         string(FIND \"a.b.c\" . f)\nstring(FIND \"a.b.c\" . r REVERSE)\nstring(FIND abc z nf)\nmessage(\"${f} ${r} ${nf}\")\n\
         string(REPLACE . / rep \"a.b.c\")\nmessage(${rep})\n\
         string(TOUPPER abc up)\nstring(TOLOWER ABC low)\nmessage(\"${up} ${low}\")\n\
         string(STRIP \"  x y \\n\" st)\nmessage(\"[${st}]\")\n\
         string(REPEAT ab 3 rp)\nmessage(${rp})\n\
         string(COMPARE LESS a b lt)\nstring(COMPARE EQUAL a b eq)\nmessage(\"${lt} ${eq}\")\n\
         string(MAKE_C_IDENTIFIER \"1-a.b\" id)\nmessage(${id})\n\
         string(GENEX_STRIP \"a;$<$<CONFIG:Debug>:-g>;b\" gs)\nmessage(\"${gs}\")\n\
         string(ASCII 72 105 asc)\nmessage(${asc})\n\
         string(HEX \"AB\" hx)\nmessage(${hx})\n\
         string(SHA256 h \"abc\")\nmessage(${h})\n\
         set(who world)\nstring(CONFIGURE \"hi @who@ ${who}\" cfg)\nstring(CONFIGURE [[@who@ ${who}]] at @ONLY)\nmessage(\"${cfg}|${at}\")\n\
         string(JSON v GET \"{\\\"a\\\":{\\\"b\\\":[1,2]}}\" a b 1)\nmessage(${v})\n",
    );
    assert_eq!(
        out,
        vec![
            "zab",
            "xyz",
            "a, b, c",
            "5",
            "ell llo",
            "1 3 -1",
            "a/b/c",
            "ABC abc",
            "[x y]",
            "ababab",
            "1 0",
            "_1_a_b",
            "a;;b",
            "Hi",
            "4142",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "hi world world|world ${who}",
            "2"
        ]
    );
}

#[test]
fn string_regex() {
    let out = output(
        "string(REGEX MATCH \"v([0-9]+)\\\\.([0-9]+)\" m \"release v4.12 here\")\n\
         message(\"${m} ${CMAKE_MATCH_1} ${CMAKE_MATCH_2} ${CMAKE_MATCH_COUNT}\")\n\
         string(REGEX MATCHALL \"[a-z]+\" all \"ab 12 cd ef\")\nmessage(\"${all}\")\n\
         string(REGEX REPLACE \"([a-z]+)_([a-z]+)\" \"\\\\2-\\\\1\" r \"foo_bar baz_qux\")\nmessage(\"${r}\")\n\
         string(REGEX MATCH \"nomatch\" none \"text\")\nmessage(\"[${none}]\")\n",
    );
    assert_eq!(
        out,
        vec!["v4.12 4 12 2", "ab;cd;ef", "bar-foo qux-baz", "[]"]
    );
    assert!(fatal("string(REGEX REPLACE \"x*\" y out \"abc\")\n").contains("empty string"));
    assert!(fatal("string(REGEX MATCH \"(\" out abc)\n").contains("cannot compile"));
}

// ------------------------------------------------------------------ loops

#[test]
fn foreach_forms() {
    let out = output(
        "foreach(i RANGE 3)\nmessage(r${i})\nendforeach()\n\
         foreach(i RANGE 2 6 2)\nmessage(s${i})\nendforeach()\n\
         foreach(x a b)\nmessage(${x})\nendforeach()\n\
         set(l1 p q)\nset(l2 \"\")\nforeach(x IN LISTS l1 l2 ITEMS i1 i2)\nmessage(${x})\nendforeach()\n\
         set(n1 1 2 3)\nset(n2 one two)\nforeach(a b IN ZIP_LISTS n1 n2)\nmessage(\"${a}=${b}\")\nendforeach()\n\
         foreach(z IN ZIP_LISTS n1 n2)\nmessage(\"${z_0}/${z_1}\")\nbreak()\nendforeach()\n\
         foreach(x 1 2 3 4)\nif(x EQUAL 2)\ncontinue()\nendif()\nif(x EQUAL 4)\nbreak()\nendif()\nmessage(c${x})\nendforeach()\n\
         set(x before)\nforeach(x a)\nendforeach()\nmessage(${x})\n\
         foreach(y a)\nendforeach()\nif(NOT DEFINED y)\nmessage(loop-var-scoped)\nendif()\n",
    );
    assert_eq!(
        out,
        vec![
            "r0",
            "r1",
            "r2",
            "r3",
            "s2",
            "s4",
            "s6",
            "a",
            "b",
            "p",
            "q",
            "i1",
            "i2",
            "1=one",
            "2=two",
            "3=",
            "1/one",
            "c1",
            "c3",
            "before",
            "loop-var-scoped"
        ]
    );
    assert!(fatal("foreach(i RANGE 5 1)\nendforeach()\n").contains("range"));
}

#[test]
fn while_loops_and_limit() {
    let out = output(
        "set(i 0)\nwhile(i LESS 3)\nmessage(w${i})\nmath(EXPR i \"${i} + 1\")\nendwhile()\n\
         set(j 0)\nwhile(TRUE)\nmath(EXPR j \"${j} + 1\")\nif(j GREATER 2)\nbreak()\nendif()\nendwhile()\nmessage(j${j})\n",
    );
    assert_eq!(out, vec!["w0", "w1", "w2", "j3"]);

    let (_f, r) = eval("while(TRUE)\nendwhile()\nmessage(after)\n");
    assert_eq!(r.fatal, None);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].message.contains("10000 iterations"),
        "{}",
        r.warnings[0]
    );
    assert_eq!(r.warnings[0].line, 1);
    assert_eq!(messages(&r), vec!["after"]);
}

// ------------------------------------------------------------------ functions and macros

#[test]
fn function_scope_and_arguments() {
    let out = output(
        "set(outer o)\n\
         function(f a b)\n\
           message(\"${a} ${b} [${ARGN}] ${ARGC} ${ARGV} ${ARGV0} ${ARGV3} ${outer}\")\n\
           set(outer changed)\n\
           set(result \"${a}${b}\" PARENT_SCOPE)\n\
           return()\n\
           message(unreachable)\n\
         endfunction()\n\
         f(1 2 3 4)\n\
         message(\"${outer} ${result}\")\n\
         function(recurse n)\nif(n GREATER 0)\nmath(EXPR m \"${n} - 1\")\nrecurse(${m})\nelse()\nmessage(bottom)\nendif()\nendfunction()\n\
         recurse(3)\n",
    );
    assert_eq!(out, vec!["1 2 [3;4] 4 1;2;3;4 1 4 o", "o 12", "bottom"]);
    assert!(fatal("function(f a b)\nendfunction()\nf(1)\n").contains("incorrect arguments"));
}

#[test]
fn macro_substitutes_text_and_shares_scope() {
    let out = output(
        "macro(m a)\n\
           set(from_macro ${a})\n\
           message(\"${a} [${ARGN}] ${ARGC}\")\n\
           if(ARGN)\nmessage(argn-is-a-variable-here)\nendif()\n\
         endmacro()\n\
         m(x y z)\n\
         message(${from_macro})\n\
         function(outer)\nm(1 2)\nendfunction()\n\
         outer(q)\n\
         macro(ret)\nreturn()\nendmacro()\n\
         function(g)\nret()\nmessage(not-printed)\nendfunction()\n\
         g()\nmessage(done)\n",
    );
    assert_eq!(
        out,
        vec![
            "x [y;z] 3",
            "x",
            "1 [2] 2",
            "argn-is-a-variable-here",
            "done"
        ]
    );
}

#[test]
fn recursion_depth_is_bounded() {
    let (_f, r) = eval("function(f)\nf()\nendfunction()\nf()\n");
    let fatal = r.fatal.expect("fatal");
    assert!(fatal.message.contains("depth"), "{}", fatal.message);
}

#[test]
fn cmake_parse_arguments_forms() {
    let out = output(
        "function(f)\n\
           cmake_parse_arguments(arg \"OPT;OTHER\" \"ONE;MISSING\" \"MULTI;EMPTY\" ${ARGN})\n\
           message(\"${arg_OPT} ${arg_OTHER} [${arg_ONE}] [${arg_MULTI}] [${arg_UNPARSED_ARGUMENTS}] [${arg_KEYWORDS_MISSING_VALUES}]\")\n\
           if(NOT DEFINED arg_MISSING)\nmessage(one-value-undefined)\nendif()\n\
         endfunction()\n\
         f(stray OPT ONE v1 MULTI m1 m2 EMPTY)\n\
         function(g first)\n\
           cmake_parse_arguments(PARSE_ARGV 1 p \"\" \"KEY\" \"LIST\")\n\
           message(\"${first} ${p_KEY} ${p_LIST}\")\n\
         endfunction()\n\
         g(zero KEY k LIST a b)\n\
         cmake_parse_arguments(_ \"\" \"\" \"SRCS\" \"SRCS;a.c;b.c\")\nmessage(\"${__SRCS}\")\n",
    );
    assert_eq!(
        out,
        vec![
            "TRUE FALSE [v1] [m1;m2] [stray] [EMPTY]",
            "one-value-undefined",
            "zero k a;b",
            "a.c;b.c"
        ]
    );
}

#[test]
fn block_scopes_variables() {
    let out = output(
        "set(x outer)\nblock(PROPAGATE y)\nset(x inner)\nset(y out)\nendblock()\nmessage(\"${x} ${y}\")\n\
         block(SCOPE_FOR POLICIES)\nset(z visible)\nendblock()\nmessage(${z})\n",
    );
    assert_eq!(out, vec!["outer out", "visible"]);
}

// ------------------------------------------------------------------ include / return

#[test]
fn include_and_return_semantics() {
    let fixture = Fixture::new();
    fixture.write("components/comp/cmake/helper.cmake", "set(from_helper 1)\nmessage(\"helper ${CMAKE_CURRENT_LIST_DIR}\")\nreturn()\nmessage(after-return)\n");
    fixture.write(
        "components/comp/cmake/guarded.cmake",
        "include_guard()\nmessage(guarded)\n",
    );
    fixture.component(
        "comp",
        "include(cmake/helper.cmake)\n\
         message(\"back ${from_helper} ${CMAKE_CURRENT_LIST_DIR}\")\n\
         include(cmake/guarded.cmake)\ninclude(cmake/guarded.cmake)\n\
         include(cmake/missing.cmake OPTIONAL RESULT_VARIABLE res)\nmessage(${res})\n\
         include(cmake/helper.cmake RESULT_VARIABLE found)\n\
         return()\nmessage(not-reached)\n",
    );
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    let dir = fixture.component_dir("comp");
    let d = paths::to_cmake(&dir);
    assert_eq!(
        messages(&r),
        vec![
            format!("helper {d}/cmake"),
            format!("back 1 {d}"),
            "guarded".into(),
            "NOTFOUND".into(),
            format!("helper {d}/cmake"),
        ]
    );
    let files: Vec<_> = r.inputs.files.iter().map(|f| f.path.clone()).collect();
    assert!(files.contains(&dir.join("cmake/helper.cmake")));
    assert!(
        r.inputs
            .exists_checks
            .iter()
            .any(|c| c.path == dir.join("cmake/missing.cmake") && !c.result)
    );

    let (_f, r) = eval("include(does/not/exist.cmake)\n");
    assert!(r.fatal.expect("fatal").message.contains("could not find"));
}

#[test]
fn include_relative_to_current_source_dir_from_nested_include() {
    let fixture = Fixture::new();
    fixture.write("components/comp/a/first.cmake", "include(b/second.cmake)\n");
    fixture.write("components/comp/b/second.cmake", "message(second)\n");
    fixture.component("comp", "include(a/first.cmake)\n");
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    assert_eq!(messages(&r), vec!["second"]);
}

#[test]
fn message_fatal_error_stops_evaluation() {
    let (_f, r) = eval(
        "message(before)\nif(TRUE)\n  message(FATAL_ERROR \"bad \" \"config\")\nendif()\nmessage(after)\n",
    );
    let fatal = r.fatal.clone().expect("fatal");
    assert_eq!(fatal.message, "bad config");
    assert_eq!(fatal.line, 3);
    assert_eq!(messages(&r), vec!["before", "bad config"]);
    assert_eq!(r.messages[1].level, MessageLevel::FatalError);
}

#[test]
fn cmake_language_call_and_eval() {
    let out = output(
        "function(hello who)\nmessage(\"hello ${who}\")\nendfunction()\n\
         cmake_language(CALL hello world)\n\
         cmake_language(EVAL CODE \"set(evaluated 1)\")\nmessage(${evaluated})\n",
    );
    assert_eq!(out, vec!["hello world", "1"]);
}

#[test]
fn include_searches_the_module_path_and_warns_about_cmake_modules() {
    let fixture = Fixture::new();
    fixture.write("cmake_modules/MyHelpers.cmake", "set(from_module 1)\n");
    fixture.component(
        "comp",
        &format!(
            "set(CMAKE_MODULE_PATH {})\ninclude(MyHelpers)\nmessage(${{from_module}})\ninclude(CheckCCompilerFlag)\n",
            paths::to_cmake(&fixture.path("cmake_modules"))
        ),
    );
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    assert_eq!(messages(&r), vec!["1"]);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].message.contains("CheckCCompilerFlag"),
        "{}",
        r.warnings[0]
    );
    assert_eq!(r.warnings[0].line, 4);
}

#[test]
fn unset_cache_hides_the_input_cache() {
    let fixture = Fixture::new();
    let mut values = fixture.values.clone();
    values.cache.insert("FROM_CACHE".into(), "input".into());
    fixture.component(
        "comp",
        "message(\"[${FROM_CACHE}]\")\nunset(FROM_CACHE CACHE)\nmessage(\"[${FROM_CACHE}]\")\n\
         set(FROM_CACHE again CACHE STRING doc)\nmessage(\"[$CACHE{FROM_CACHE}]\")\n",
    );
    let input = ComponentInput::new(
        "comp",
        fixture.component_dir("comp"),
        ComponentPass::Processing,
        Arc::new(values),
    );
    let r = Evaluator::new().eval_component(&input);
    assert_eq!(messages(&r), vec!["[input]", "[]", "[again]"]);
}
