//! file(), paths, math, targets and properties, recorded and unknown commands.

use super::*;

#[test]
fn file_glob_forms() {
    let fixture = Fixture::new();
    for f in [
        "src/a.c",
        "src/b.c",
        "src/c.h",
        "src/sub/d.c",
        "src/sub/deeper/e.c",
        "other/x.c",
    ] {
        fixture.write(&format!("components/comp/{f}"), "");
    }
    let dir = fixture.component_dir("comp");
    let d = paths::to_cmake(&dir);
    fixture.component(
        "comp",
        &format!(
            "file(GLOB rel src/*.c)\nmessage(\"${{rel}}\")\n\
             file(GLOB abs {d}/src/*.c {d}/other/*.c)\nlist(LENGTH abs n)\nmessage(${{n}})\n\
             file(GLOB with_dirs RELATIVE {d} src/*)\nmessage(\"${{with_dirs}}\")\n\
             file(GLOB no_dirs LIST_DIRECTORIES false RELATIVE {d} src/*)\nmessage(\"${{no_dirs}}\")\n\
             file(GLOB_RECURSE all RELATIVE {d}/src src/*.c)\nmessage(\"${{all}}\")\n\
             file(GLOB_RECURSE dirs_too LIST_DIRECTORIES true RELATIVE {d}/src src/*)\nmessage(\"${{dirs_too}}\")\n\
             file(GLOB nothing src/*.zig)\nmessage(\"[${{nothing}}]\")\n\
             file(GLOB question RELATIVE {d}/src src/?.[ch])\nmessage(\"${{question}}\")\n"
        ),
    );
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        messages(&r),
        vec![
            format!("{d}/src/a.c;{d}/src/b.c"),
            "3".into(),
            "src/a.c;src/b.c;src/c.h;src/sub".into(),
            "src/a.c;src/b.c;src/c.h".into(),
            "a.c;b.c;sub/d.c;sub/deeper/e.c".into(),
            "a.c;b.c;c.h;sub;sub/d.c;sub/deeper;sub/deeper/e.c".into(),
            "[]".into(),
            "a.c;b.c;c.h".into(),
        ]
    );
    assert_eq!(r.inputs.globs.len(), 8);
    assert_eq!(r.inputs.globs[0].patterns, vec![format!("{d}/src/*.c")]);
    assert_eq!(
        r.inputs.globs[0].matched,
        vec![dir.join("src/a.c"), dir.join("src/b.c")]
    );
}

#[test]
fn file_read_and_strings() {
    let fixture = Fixture::new();
    fixture.write("components/comp/version.txt", "1.2.3\n");
    fixture.write(
        "components/comp/list.txt",
        "first line\n# comment\nsecond;with semicolon\n\nthird\n",
    );
    fixture.component(
        "comp",
        "file(READ version.txt v)\nstring(STRIP \"${v}\" v)\nmessage(${v})\n\
         file(READ version.txt part OFFSET 2 LIMIT 1)\nmessage(${part})\n\
         file(READ version.txt hex LIMIT 2 HEX)\nmessage(${hex})\n\
         file(STRINGS list.txt lines)\nlist(LENGTH lines n)\nmessage(\"${n}\")\n\
         file(STRINGS list.txt filtered REGEX \"^[a-z]\")\nmessage(\"${filtered}\")\n\
         file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/out.txt hello)\n\
         file(SIZE version.txt size)\nmessage(${size})\n",
    );
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        messages(&r),
        vec![
            "1.2.3",
            "2",
            "312e",
            "5",
            "first line;second\\;with semicolon;third",
            "6"
        ]
    );
    let read: Vec<_> = r
        .inputs
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(read, vec!["CMakeLists.txt", "version.txt", "list.txt"]);
    assert!(
        r.recorded
            .iter()
            .any(|c| c.name == "file" && c.args[0] == "WRITE")
    );
    assert!(
        !fixture.path("build/esp-idf/comp/out.txt").exists(),
        "file(WRITE) must not write"
    );
    assert!(fatal("file(READ missing.txt x)\n").contains("cannot read"));
}

#[test]
fn get_filename_component_modes() {
    let out = output(
        "set(f /a/b/name.tar.gz)\n\
         foreach(mode DIRECTORY PATH NAME EXT NAME_WE LAST_EXT NAME_WLE)\n\
           get_filename_component(r ${f} ${mode})\nmessage(\"${mode}=${r}\")\n\
         endforeach()\n\
         get_filename_component(r x/../y/./z.c ABSOLUTE BASE_DIR /base)\nmessage(${r})\n\
         get_filename_component(r /abs/./p ABSOLUTE)\nmessage(${r})\n\
         get_filename_component(r file.c DIRECTORY)\nmessage(\"[${r}]\")\n\
         get_filename_component(r /file.c DIRECTORY)\nmessage(\"${r}\")\n\
         get_filename_component(r /a/b/ DIRECTORY)\nmessage(\"${r}\")\n",
    );
    assert_eq!(
        out,
        vec![
            "DIRECTORY=/a/b",
            "PATH=/a/b",
            "NAME=name.tar.gz",
            "EXT=.tar.gz",
            "NAME_WE=name",
            "LAST_EXT=.gz",
            "NAME_WLE=name.tar",
            "/base/y/z.c",
            "/abs/p",
            "[]",
            "/",
            "/a"
        ]
    );
    let (f, r) = eval("get_filename_component(r src/x.c ABSOLUTE)\nmessage(${r})\n");
    assert_eq!(
        messages(&r),
        vec![format!(
            "{}/src/x.c",
            paths::to_cmake(&f.component_dir("comp"))
        )]
    );
}

#[test]
fn cmake_path_operations() {
    let out = output(
        "set(p /a/b/file.tar.gz)\n\
         foreach(c ROOT_NAME ROOT_DIRECTORY ROOT_PATH FILENAME EXTENSION STEM RELATIVE_PART PARENT_PATH)\n\
           cmake_path(GET p ${c} r)\nmessage(\"${c}=${r}\")\n\
         endforeach()\n\
         cmake_path(GET p EXTENSION LAST_ONLY e)\ncmake_path(GET p STEM LAST_ONLY s)\nmessage(\"${e} ${s}\")\n\
         set(h /x/.hidden)\ncmake_path(GET h EXTENSION he)\ncmake_path(GET h FILENAME hf)\nmessage(\"[${he}] ${hf}\")\n\
         set(d /x/y/)\ncmake_path(GET d FILENAME df)\ncmake_path(GET d PARENT_PATH dp)\nmessage(\"[${df}] ${dp}\")\n\
         set(q a)\ncmake_path(APPEND q b c)\nmessage(${q})\n\
         cmake_path(APPEND q /abs OUTPUT_VARIABLE q2)\nmessage(\"${q} ${q2}\")\n\
         set(r a/b/c.txt)\ncmake_path(REPLACE_EXTENSION r .md)\nmessage(${r})\n\
         cmake_path(REMOVE_FILENAME r)\nmessage(${r})\n\
         set(n a/./b/../c/)\ncmake_path(NORMAL_PATH n)\nmessage(${n})\n\
         cmake_path(SET s NORMALIZE x/y/..)\nmessage(${s})\n\
         set(rp /a/b/c)\ncmake_path(RELATIVE_PATH rp BASE_DIRECTORY /a/x)\nmessage(${rp})\n\
         set(ap rel/f)\ncmake_path(ABSOLUTE_PATH ap BASE_DIRECTORY /base)\nmessage(${ap})\n\
         cmake_path(IS_ABSOLUTE ap ia)\ncmake_path(HAS_EXTENSION p he2)\nmessage(\"${ia} ${he2}\")\n\
         set(pre /a/b)\ncmake_path(IS_PREFIX pre /a/b/c result)\nmessage(${result})\n\
         cmake_path(COMPARE /a/b EQUAL /a/b eq)\nmessage(${eq})\n",
    );
    assert_eq!(
        out,
        vec![
            "ROOT_NAME=",
            "ROOT_DIRECTORY=/",
            "ROOT_PATH=/",
            "FILENAME=file.tar.gz",
            "EXTENSION=.tar.gz",
            "STEM=file",
            "RELATIVE_PART=a/b/file.tar.gz",
            "PARENT_PATH=/a/b",
            ".gz file.tar",
            "[] .hidden",
            "[] /x/y",
            "a/b/c",
            "a/b/c /abs",
            "a/b/c.md",
            "a/b/",
            "a/c/",
            "x/",
            "../b/c",
            "/base/rel/f",
            "ON ON",
            "ON",
            "ON"
        ]
    );
}

#[test]
fn math_expressions() {
    let out = output(
        "math(EXPR a \"1 + 2 * 3\")\nmath(EXPR b \"(1 + 2) * 3\")\nmath(EXPR c \"0x10 | 1\")\n\
         math(EXPR d \"-7 / 2\")\nmath(EXPR e \"7 % 3 << 2\")\nmath(EXPR f \"~0 & 0xff\")\n\
         math(EXPR g \"255\" OUTPUT_FORMAT HEXADECIMAL)\nmath(EXPR h \"1 ^ 3\")\n\
         message(\"${a} ${b} ${c} ${d} ${e} ${f} ${g} ${h}\")\n",
    );
    assert_eq!(out, vec!["7 9 17 -3 4 255 0xff 2"]);
    assert!(fatal("math(EXPR x \"1 / 0\")\n").contains("divide by zero"));
    assert!(fatal("math(EXPR x \"1 +\")\n").contains("cannot evaluate"));
}

#[test]
fn targets_and_properties() {
    let out = output(
        "add_library(mylib STATIC a.c b.c)\n\
         target_sources(mylib PRIVATE c.c)\n\
         get_target_property(type mylib TYPE)\nget_target_property(srcs mylib SOURCES)\nmessage(\"${type} ${srcs}\")\n\
         set_target_properties(mylib PROPERTIES OUTPUT_NAME renamed)\nget_target_property(o mylib OUTPUT_NAME)\nmessage(${o})\n\
         get_target_property(missing mylib NOT_SET)\nmessage(${missing})\n\
         set_property(GLOBAL APPEND PROPERTY MY_LIST one)\nset_property(GLOBAL APPEND PROPERTY MY_LIST two)\n\
         get_property(g GLOBAL PROPERTY MY_LIST)\nmessage(\"${g}\")\n\
         set(var_prop x)\nget_property(vp VARIABLE PROPERTY var_prop)\nmessage(${vp})\n\
         get_property(is_set GLOBAL PROPERTY MY_LIST SET)\nmessage(${is_set})\n\
         set_source_files_properties(a.c PROPERTIES COMPILE_FLAGS -O0)\nget_source_file_property(fl a.c COMPILE_FLAGS)\nmessage(${fl})\n\
         add_library(alias_lib ALIAS mylib)\nget_target_property(at alias_lib ALIASED_TARGET)\nmessage(${at})\n\
         add_library(iface INTERFACE)\nget_target_property(it iface TYPE)\nmessage(${it})\n",
    );
    assert_eq!(
        out,
        vec![
            "STATIC_LIBRARY a.c;b.c;c.c",
            "renamed",
            "missing-NOTFOUND",
            "one;two",
            "x",
            "1",
            "-O0",
            "mylib",
            "INTERFACE_LIBRARY"
        ]
    );
    assert!(
        fatal("add_library(x STATIC a.c)\nadd_library(x STATIC b.c)\n").contains("already exists")
    );
}

#[test]
fn unknown_properties_of_foreign_targets_warn() {
    let (_f, r) = eval("get_target_property(x idf::freertos COMPILE_OPTIONS)\nmessage(${x})\n");
    assert_eq!(r.fatal, None);
    assert_eq!(messages(&r), vec!["x-NOTFOUND"]);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0]
            .message
            .contains("not created by this component")
    );
}

#[test]
fn compile_only_commands_are_recorded_silently() {
    let (f, r) = eval(
        "add_library(lib STATIC x.c)\n\
         target_compile_options(lib PRIVATE -Wno-unused)\n\
         target_compile_definitions(lib PUBLIC FOO=1)\n\
         target_include_directories(lib PUBLIC include)\n\
         target_link_libraries(lib INTERFACE \"-u symbol\")\n\
         set_source_files_properties(x.c PROPERTIES COMPILE_FLAGS -O2)\n\
         add_custom_command(OUTPUT gen.c COMMAND python gen.py)\n\
         add_custom_target(gen DEPENDS gen.c)\n\
         add_dependencies(lib gen)\n\
         add_compile_options(-Wall)\nadd_definitions(-DX)\ninstall(TARGETS lib)\n\
         configure_file(in.h.in out.h)\ncmake_minimum_required(VERSION 3.16)\ncmake_policy(SET CMP0057 NEW)\n\
         target_sources(lib PRIVATE extra.c $<$<CONFIG:Debug>:debug.c>)\n",
    );
    assert_eq!(r.fatal, None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let names: Vec<&str> = r.recorded.iter().map(|c| c.name.as_str()).collect();
    for expected in [
        "target_compile_options",
        "target_compile_definitions",
        "target_include_directories",
        "target_link_libraries",
        "set_source_files_properties",
        "add_custom_command",
        "add_custom_target",
        "add_dependencies",
        "add_compile_options",
        "add_definitions",
        "install",
        "configure_file",
        "target_sources",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not recorded: {names:?}"
        );
    }
    let compile = r
        .recorded
        .iter()
        .find(|c| c.name == "target_compile_options")
        .unwrap();
    assert_eq!(compile.args, vec!["lib", "PRIVATE", "-Wno-unused"]);
    assert_eq!(compile.line, 2);
    assert_eq!(compile.source_dir, f.component_dir("comp"));
    assert_eq!(
        r.target_sources("lib"),
        vec![f.component_dir("comp").join("extra.c")]
    );
}

#[test]
fn unknown_commands_warn_with_file_and_line_and_continue() {
    let (f, r) = eval(
        "message(a)\nsome_vendor_macro(x y)\nexecute_process(COMMAND git describe OUTPUT_VARIABLE v)\nfind_package(Threads)\nmessage(b)\n",
    );
    assert_eq!(r.fatal, None);
    assert_eq!(messages(&r), vec!["a", "b"]);
    let list_file = f.component_dir("comp").join("CMakeLists.txt");
    let rendered: Vec<String> = r.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        rendered,
        vec![
            format!(
                "{}:2: command `some_vendor_macro` is not evaluated; the plan assumes it has no effect on sources or requirements",
                list_file.display()
            ),
            format!(
                "{}:3: command `execute_process` is not evaluated; the plan assumes it has no effect on sources or requirements",
                list_file.display()
            ),
            format!(
                "{}:4: find_package(Threads) is not evaluated; the plan assumes the package is not found",
                list_file.display()
            ),
        ]
    );
}

#[test]
fn warnings_inside_functions_name_the_call_site() {
    let fixture = Fixture::new();
    fixture.write(
        "components/comp/helpers.cmake",
        "function(helper)\n  mystery_command()\nendfunction()\n",
    );
    fixture.component("comp", "include(helpers.cmake)\n\nhelper()\n");
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.warnings.len(), 1);
    let w = &r.warnings[0];
    assert!(w.file.ends_with("helpers.cmake"));
    assert_eq!(w.line, 2);
    assert!(w.message.contains("called from"), "{}", w.message);
    assert!(w.message.contains("CMakeLists.txt:3"), "{}", w.message);
}

#[test]
fn option_and_separate_arguments() {
    let out = output(
        "option(MY_OPT \"doc\" ON)\noption(OTHER \"doc\")\nset(PRESET 1)\noption(PRESET \"doc\" OFF)\n\
         message(\"${MY_OPT} ${OTHER} ${PRESET}\")\n\
         separate_arguments(args UNIX_COMMAND \"gcc -DA='x y' \\\"q r\\\" -O2\")\nmessage(\"${args}\")\n\
         set(old \"a b c\")\nseparate_arguments(old)\nmessage(\"${old}\")\n",
    );
    assert_eq!(out, vec!["ON OFF 1", "gcc;-DA=x y;q r;-O2", "a;b;c"]);
}

#[test]
fn add_subdirectory_runs_in_a_child_scope() {
    let fixture = Fixture::new();
    fixture.write(
        "components/comp/port/CMakeLists.txt",
        "message(\"sub ${CMAKE_CURRENT_SOURCE_DIR} ${from_parent}\")\nset(local 1)\nset(up 2 PARENT_SCOPE)\n\
         target_sources(${COMPONENT_LIB} PRIVATE port.c)\n",
    );
    fixture.component(
        "comp",
        "set(from_parent p)\nidf_component_register(SRCS main.c)\nadd_subdirectory(port)\nmessage(\"[${local}] ${up}\")\n",
    );
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    let dir = fixture.component_dir("comp");
    assert_eq!(
        messages(&r),
        vec![
            format!("sub {} p", paths::to_cmake(&dir.join("port"))),
            "[] 2".into()
        ]
    );
    assert_eq!(r.subdirectories.len(), 1);
    assert_eq!(
        r.target_sources("__idf_comp"),
        vec![dir.join("port/port.c")]
    );
    assert!(fatal("add_subdirectory(missing)\n").contains("not an existing directory"));
}
