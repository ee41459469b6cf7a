//! The ESP-IDF API, and snippets modelled on real component CMakeLists.

use super::*;

fn touch(fixture: &Fixture, files: &[&str]) {
    for f in files {
        fixture.write(f, "");
    }
}

#[test]
fn register_receives_every_argument() {
    let fixture = Fixture::new();
    touch(
        &fixture,
        &[
            "components/comp/include/.keep",
            "components/comp/private/.keep",
        ],
    );
    fixture.component(
        "comp",
        "idf_component_register(SRCS \"a.c\" sub/b.c\n\
           INCLUDE_DIRS include\n\
           PRIV_INCLUDE_DIRS private\n\
           REQUIRES \"esp_timer driver\" log comp idf::comp log\n\
           PRIV_REQUIRES nvs_flash\n\
           REQUIRED_IDF_TARGETS esp32c3 esp32\n\
           EMBED_FILES cert.pem\n\
           EMBED_TXTFILES page.html\n\
           KCONFIG ${CMAKE_CURRENT_LIST_DIR}/Kconfig.custom\n\
           KCONFIG_PROJBUILD Kconfig.pb\n\
           LDFRAGMENTS \"linker.lf other.lf\"\n\
           WHOLE_ARCHIVE\n\
           MISSPELT_KEYWORD\n\
           )\n",
    );
    let dir = fixture.component_dir("comp");
    for pass in [ComponentPass::EarlyExpansion, ComponentPass::Processing] {
        let r = fixture.eval("comp", pass);
        assert_eq!(r.fatal, None, "{pass:?}");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.registrations.len(), 1);
        let reg = &r.registrations[0];
        assert_eq!(reg.srcs, vec![dir.join("a.c"), dir.join("sub/b.c")]);
        assert_eq!(reg.include_dirs, vec![dir.join("include")]);
        assert_eq!(reg.priv_include_dirs, vec![dir.join("private")]);
        assert_eq!(reg.requires, vec!["esp_timer", "driver", "log"]);
        assert_eq!(reg.priv_requires, vec!["nvs_flash"]);
        assert_eq!(reg.required_idf_targets, vec!["esp32c3", "esp32"]);
        assert_eq!(reg.embed_files, vec![dir.join("cert.pem")]);
        assert_eq!(reg.embed_txtfiles, vec![dir.join("page.html")]);
        assert_eq!(reg.kconfig, Some(dir.join("Kconfig.custom")));
        assert_eq!(reg.kconfig_projbuild, Some(dir.join("Kconfig.pb")));
        assert_eq!(
            reg.ldfragments,
            vec![dir.join("linker.lf"), dir.join("other.lf")]
        );
        assert!(reg.whole_archive);
        assert_eq!(reg.unparsed_arguments, vec!["MISSPELT_KEYWORD"]);
        assert_eq!(reg.line, 1);
        if pass == ComponentPass::Processing {
            assert_eq!(reg.sources, reg.srcs);
        } else {
            assert!(reg.sources.is_empty());
        }
    }
}

#[test]
fn early_expansion_returns_at_registration_processing_continues() {
    let fixture = Fixture::new();
    fixture.component(
        "comp",
        "message(before)\n\
         idf_component_register(SRCS a.c)\n\
         message(\"after ${COMPONENT_LIB}\")\n\
         target_compile_options(${COMPONENT_LIB} PRIVATE -Wall)\n",
    );
    let early = fixture.eval("comp", ComponentPass::EarlyExpansion);
    assert_eq!(messages(&early), vec!["before"]);
    assert!(early.recorded.is_empty());
    let processing = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(messages(&processing), vec!["before", "after __idf_comp"]);
    assert_eq!(
        processing.recorded[0].args,
        vec!["__idf_comp", "PRIVATE", "-Wall"]
    );
}

#[test]
fn src_dirs_are_globbed_minus_exclusions() {
    let fixture = Fixture::new();
    touch(
        &fixture,
        &[
            "components/comp/src/a.c",
            "components/comp/src/b.cpp",
            "components/comp/src/c.S",
            "components/comp/src/d.h",
            "components/comp/src/skip.c",
            "components/comp/port/p.c",
        ],
    );
    fixture.component(
        "comp",
        "idf_component_register(SRC_DIRS src port EXCLUDE_SRCS src/skip.c INCLUDE_DIRS .)\n",
    );
    let dir = fixture.component_dir("comp");
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    let reg = r.registration().expect("registered");
    assert_eq!(
        rel(&reg.sources, &dir),
        vec!["src/a.c", "src/b.cpp", "src/c.S", "port/p.c"]
    );
    assert_eq!(reg.exclude_srcs, vec![dir.join("src/skip.c")]);
    assert_eq!(r.inputs.globs.len(), 2);
    assert_eq!(r.inputs.globs[0].patterns.len(), 3);

    let fixture = Fixture::new();
    fixture.component("comp", "idf_component_register(SRC_DIRS nowhere)\n");
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert!(r.fatal.expect("fatal").message.contains("SRC_DIRS entry"));
    // The early expansion does not glob.
    assert_eq!(
        fixture.eval("comp", ComponentPass::EarlyExpansion).fatal,
        None
    );
}

#[test]
fn processing_checks_mirror_esp_idf() {
    let fixture = Fixture::new();
    fixture.component(
        "comp",
        "idf_component_register(SRCS a.c INCLUDE_DIRS missing_dir)\n",
    );
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert!(
        r.fatal
            .expect("fatal")
            .message
            .contains("is not a directory")
    );

    let fixture = Fixture::new();
    fixture.component(
        "comp",
        "idf_component_register(SRCS a.c REQUIRED_IDF_TARGETS esp32 esp32s3)\n",
    );
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(
        r.fatal.expect("fatal").message,
        "Component comp only supports targets: esp32;esp32s3"
    );

    let fixture = Fixture::new();
    fixture.component(
        "comp",
        "idf_component_register(SRCS a.c)\nidf_component_register(SRCS b.c)\n",
    );
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert!(r.fatal.expect("fatal").message.contains("second time"));
    assert_eq!(r.registrations.len(), 1);
}

#[test]
fn config_only_component() {
    let fixture = Fixture::new();
    fixture.component("comp", "idf_component_register()\nidf_component_get_property(t comp COMPONENT_TYPE)\nmessage(${t})\n");
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    assert_eq!(messages(&r), vec!["CONFIG_ONLY"]);
    assert_eq!(r.registrations.len(), 1);
    assert!(r.registrations[0].sources.is_empty());
}

#[test]
fn optional_requires() {
    let (_f, r) = eval(
        "idf_component_register(SRCS a.c)\n\
         idf_component_optional_requires(PRIVATE esp_psram \"bt;lwip\")\n\
         idf_component_optional_requires(PUBLIC vfs)\n",
    );
    assert_eq!(r.fatal, None);
    assert_eq!(r.optional_requires.len(), 2);
    assert_eq!(r.optional_requires[0].visibility, "PRIVATE");
    assert_eq!(
        r.optional_requires[0].components,
        vec!["esp_psram", "bt", "lwip"]
    );
    assert_eq!(r.optional_requires[0].line, 2);
    assert_eq!(r.optional_requires[1].components, vec!["vfs"]);
}

#[test]
fn build_properties_get_set_append() {
    let (_f, r) = eval(
        "idf_build_get_property(target IDF_TARGET)\nmessage(${target})\n\
         idf_build_get_property(nothing NOT_A_PROPERTY)\nif(NOT DEFINED nothing)\nmessage(unset)\nendif()\n\
         idf_build_set_property(COMPILE_OPTIONS \"-Wno-error\" APPEND)\n\
         idf_build_set_property(COMPILE_OPTIONS \"-O2\" APPEND)\n\
         idf_build_get_property(opts COMPILE_OPTIONS)\nmessage(\"${opts}\")\n\
         idf_build_set_property(MY_PROP first)\nidf_build_set_property(MY_PROP second)\n\
         idf_build_get_property(mine MY_PROP)\nmessage(${mine})\n\
         idf_build_get_property(gen IDF_TARGET GENERATOR_EXPRESSION)\nmessage(\"${gen}\")\n\
         idf_build_unset_property(MY_PROP)\nidf_build_get_property(gone MY_PROP)\nmessage(\"[${gone}]\")\n\
         idf_build_get_config(cfg CONFIG_LOG_DEFAULT_LEVEL)\nmessage(${cfg})\n\
         message(\"${IDF_TARGET} ${BUILD_DIR}\")\n",
    );
    assert_eq!(r.fatal, None);
    let out = messages(&r);
    assert_eq!(out[0], "esp32c3");
    assert_eq!(out[1], "unset");
    assert_eq!(out[2], "-Wno-error;-O2");
    assert_eq!(out[3], "second");
    assert_eq!(out[4], "$<TARGET_PROPERTY:__idf_build_target,IDF_TARGET>");
    assert_eq!(out[5], "[]");
    assert_eq!(out[6], "3");
    assert!(
        out[7].starts_with("esp32c3 /"),
        "build properties are variables too: {}",
        out[7]
    );
    let sets: Vec<(&str, &str, bool)> = r
        .build_property_sets
        .iter()
        .map(|s| (s.name.as_str(), s.value.as_str(), s.append))
        .collect();
    assert_eq!(
        sets,
        vec![
            ("COMPILE_OPTIONS", "-Wno-error", true),
            ("COMPILE_OPTIONS", "-O2", true),
            ("MY_PROP", "first", false),
            ("MY_PROP", "second", false),
            ("MY_PROP", "", false)
        ]
    );
    assert_eq!(r.build_property_sets[0].line, 7);
    let read = &r.inputs.variables;
    assert_eq!(
        read.get(&InputKey::BuildProperty("IDF_TARGET".into())),
        Some(&Some("esp32c3".into()))
    );
    assert_eq!(
        read.get(&InputKey::BuildProperty("NOT_A_PROPERTY".into())),
        Some(&None)
    );
    assert!(fatal("idf_build_set_property(ONLY_NAME)\n").contains("incorrect arguments"));
}

#[test]
fn component_properties_best_effort() {
    let fixture = Fixture::new();
    let mut values = fixture.values.clone();
    let mut freertos = std::collections::HashMap::new();
    freertos.insert(
        "COMPONENT_DIR".to_owned(),
        "/idf/components/freertos".to_owned(),
    );
    values
        .component_properties
        .insert("freertos".into(), freertos);
    values
        .component_properties
        .insert("esp_system".into(), Default::default());
    fixture.component(
        "comp",
        "idf_component_get_property(dir freertos COMPONENT_DIR)\nmessage(${dir})\n\
         idf_component_get_property(lib esp_system COMPONENT_LIB)\nmessage(${lib})\n\
         idf_component_get_property(alias idf::esp_system COMPONENT_ALIAS)\nmessage(${alias})\n\
         idf_component_get_property(own comp COMPONENT_DIR)\nmessage(${own})\n\
         idf_component_register(SRCS a.c)\n\
         idf_component_get_property(type comp COMPONENT_TYPE)\nmessage(${type})\n\
         idf_component_set_property(comp MY_FLAG yes)\nidf_component_get_property(flag comp MY_FLAG)\nmessage(${flag})\n\
         idf_component_get_property(gen freertos COMPONENT_LIB GENERATOR_EXPRESSION)\nmessage(\"${gen}\")\n\
         idf_component_get_property(x not_a_component COMPONENT_DIR)\n",
    );
    let input = ComponentInput::new(
        "comp",
        fixture.component_dir("comp"),
        ComponentPass::Processing,
        Arc::new(values),
    );
    let r = Evaluator::new().eval_component(&input);
    assert_eq!(
        messages(&r),
        vec![
            "/idf/components/freertos".to_owned(),
            "__idf_esp_system".into(),
            "idf::esp_system".into(),
            paths::to_cmake(&fixture.component_dir("comp")),
            "LIBRARY".into(),
            "yes".into(),
            "$<TARGET_PROPERTY:___idf_freertos,COMPONENT_LIB>".into(),
        ]
    );
    assert_eq!(
        r.fatal.expect("unknown component").message,
        "Failed to resolve component 'not_a_component'"
    );
    assert_eq!(r.component_property_sets.len(), 1);
    assert!(
        r.inputs
            .variables
            .contains_key(&InputKey::ComponentProperty(
                "freertos".into(),
                "COMPONENT_DIR".into()
            ))
    );
}

#[test]
fn prebuilt_and_pure_cmake_libraries() {
    let (f, r) = eval(
        "idf_component_register(SRCS a.c)\n\
         add_prebuilt_library(blob lib/libblob.a REQUIRES esp_wifi PRIV_REQUIRES \"nvs_flash\")\n\
         target_link_libraries(${COMPONENT_LIB} PRIVATE blob)\n\
         if(TARGET blob)\nmessage(blob-exists)\nendif()\n",
    );
    assert_eq!(r.fatal, None);
    assert_eq!(messages(&r), vec!["blob-exists"]);
    assert_eq!(r.prebuilt_libraries.len(), 1);
    let lib = &r.prebuilt_libraries[0];
    assert_eq!(lib.target, "blob");
    assert_eq!(lib.path, f.component_dir("comp").join("lib/libblob.a"));
    assert_eq!(lib.requires, vec!["esp_wifi"]);
    assert_eq!(lib.priv_requires, vec!["nvs_flash"]);
    assert!(!r.cmake_library);

    let (f, r) = eval(
        "add_library(comp STATIC cJSON/cJSON.c)\ntarget_include_directories(comp PUBLIC cJSON)\n",
    );
    assert_eq!(r.fatal, None);
    assert!(r.cmake_library);
    assert!(r.registrations.is_empty());
    assert_eq!(
        r.libraries[0].sources,
        vec![f.component_dir("comp").join("cJSON/cJSON.c")]
    );

    let (_f, r) = eval("add_library(${COMPONENT_NAME} INTERFACE)\n");
    assert!(r.cmake_library);
    let (_f, r) = eval("add_library(unrelated STATIC x.c)\n");
    assert!(!r.cmake_library);
}

#[test]
fn utilities_from_esp_idf() {
    let out = output(
        "set(list \"a b  c\")\nspaces2list(list)\nmessage(\"${list}\")\n\
         add_prefix(p \"dir/\" x.c y.c)\nmessage(\"${p}\")\n\
         set(lines \"l1\\nl2\")\nlines2list(lines)\nmessage(\"${lines}\")\n\
         set_default(SOME_VAR fallback)\nmessage(${SOME_VAR})\n\
         make_json_list(\"a;b\" json)\nmessage(\"${json}\")\n\
         target_add_binary_data(${COMPONENT_NAME} cert.pem TEXT)\n\
         target_linker_script(${COMPONENT_NAME} INTERFACE linker.ld)\n",
    );
    assert_eq!(
        out,
        vec![
            "a;b;;c",
            "dir/x.c;dir/y.c",
            "l1;l2",
            "fallback",
            "[ \"a\", \"b\" ]"
        ]
    );
}

#[test]
fn legacy_register_component_and_mock() {
    let fixture = Fixture::new();
    fixture.component(
        "comp",
        "set(COMPONENT_SRCS \"a.c b.c\")\nset(COMPONENT_REQUIRES \"log driver\")\nregister_component()\n",
    );
    let r = fixture.eval("comp", ComponentPass::EarlyExpansion);
    let reg = r.registration().expect("registered");
    assert_eq!(reg.requires, vec!["log", "driver"]);
    assert_eq!(reg.srcs.len(), 2);

    let fixture = Fixture::new();
    fixture.component("comp", "idf_component_mock(INCLUDE_DIRS include REQUIRES freertos MOCK_HEADER_FILES include/x.h)\n");
    let r = fixture.eval("comp", ComponentPass::EarlyExpansion);
    assert_eq!(
        r.registration().expect("registered").requires,
        vec!["freertos", "cmock"]
    );
}

// ------------------------------------------------------------------ realistic snippets

#[test]
fn target_and_config_conditional_sources() {
    let fixture = Fixture::new();
    touch(&fixture, &["components/drv/include/.keep"]);
    fixture.component(
        "drv",
        "idf_build_get_property(target IDF_TARGET)\n\
         set(srcs \"common.c\")\n\
         set(priv_requires esp_timer)\n\
         if(CONFIG_FREERTOS_UNICORE)\n  list(APPEND srcs \"unicore.c\")\nelse()\n  list(APPEND srcs \"smp.c\")\nendif()\n\
         if(CONFIG_SPIRAM)\n  list(APPEND srcs \"psram.c\")\n  list(APPEND priv_requires esp_psram)\nendif()\n\
         if(${target} STREQUAL \"esp32\")\n  list(APPEND srcs \"esp32_only.c\")\nelseif(target MATCHES \"^esp32c\")\n  list(APPEND srcs \"port/${target}/riscv.c\")\nendif()\n\
         if(NOT CONFIG_LOG_DEFAULT_LEVEL EQUAL 0)\n  list(APPEND srcs log_glue.c)\nendif()\n\
         idf_component_register(SRCS \"${srcs}\"\n                       INCLUDE_DIRS \"include\"\n                       PRIV_REQUIRES ${priv_requires})\n",
    );
    let dir = fixture.component_dir("drv");
    let r = fixture.eval("drv", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let reg = r.registration().expect("registered");
    assert_eq!(
        rel(&reg.sources, &dir),
        vec![
            "common.c",
            "unicore.c",
            "port/esp32c3/riscv.c",
            "log_glue.c"
        ]
    );
    assert_eq!(reg.priv_requires, vec!["esp_timer"]);
    let read: Vec<&InputKey> = r.inputs.variables.keys().collect();
    assert!(read.contains(&&InputKey::Variable("CONFIG_FREERTOS_UNICORE".into())));
    assert!(read.contains(&&InputKey::Variable("CONFIG_SPIRAM".into())));
    assert!(read.contains(&&InputKey::BuildProperty("IDF_TARGET".into())));
}

#[test]
fn early_return_for_linux_target() {
    let fixture = Fixture::new();
    fixture.component(
        "hw",
        "idf_build_get_property(target IDF_TARGET)\n\
         if(${target} STREQUAL \"linux\")\n    return() # not supported by the POSIX simulator\nendif()\n\
         idf_component_register(SRCS hw.c)\n",
    );
    let r = fixture.eval("hw", ComponentPass::Processing);
    assert_eq!(r.registrations.len(), 1);

    let mut values = fixture.values.clone();
    values
        .build_properties
        .insert("IDF_TARGET".into(), "linux".into());
    let input = ComponentInput::new(
        "hw",
        fixture.component_dir("hw"),
        ComponentPass::EarlyExpansion,
        Arc::new(values),
    );
    let r = Evaluator::new().eval_component(&input);
    assert_eq!(r.fatal, None);
    assert!(r.registrations.is_empty());
}

#[test]
fn several_registrations_in_branches() {
    let fixture = Fixture::new();
    fixture.component(
        "part",
        "idf_build_get_property(esp_tee_build ESP_TEE_BUILD)\n\
         set(reqs esp_blockdev)\n\
         if(BOOTLOADER_BUILD)\n  idf_component_register(SRCS boot.c REQUIRES ${reqs} spi_flash)\n\
         elseif(esp_tee_build)\n  idf_component_register(SRCS tee.c REQUIRES ${reqs})\n\
         else()\n  set(priv_reqs esp_system spi_flash)\n  idf_component_register(SRCS part.c REQUIRES ${reqs} PRIV_REQUIRES ${priv_reqs})\nendif()\n",
    );
    let r = fixture.eval("part", ComponentPass::EarlyExpansion);
    let reg = r.registration().expect("registered");
    assert_eq!(reg.line, 9);
    assert_eq!(reg.priv_requires, vec!["esp_system", "spi_flash"]);

    let mut values = fixture.values.clone();
    values
        .build_properties
        .insert("BOOTLOADER_BUILD".into(), "1".into());
    let input = ComponentInput::new(
        "part",
        fixture.component_dir("part"),
        ComponentPass::EarlyExpansion,
        Arc::new(values),
    );
    let r = Evaluator::new().eval_component(&input);
    let reg = r.registration().expect("registered");
    assert_eq!(reg.line, 4);
    assert_eq!(reg.requires, vec!["esp_blockdev", "spi_flash"]);
}

#[test]
fn register_from_included_file_uses_its_directory_for_include_dirs() {
    let fixture = Fixture::new();
    touch(&fixture, &["components/comp/v2/include/.keep"]);
    fixture.write(
        "components/comp/v2/register.cmake",
        "idf_component_register(SRCS v2/a.c INCLUDE_DIRS include)\n",
    );
    fixture.component(
        "comp",
        "include(${CMAKE_CURRENT_LIST_DIR}/v2/register.cmake)\nmessage(after)\n",
    );
    let dir = fixture.component_dir("comp");
    let r = fixture.eval("comp", ComponentPass::Processing);
    assert_eq!(r.fatal, None);
    let reg = r.registration().expect("registered");
    assert_eq!(reg.include_dirs, vec![dir.join("v2/include")]);
    assert_eq!(reg.srcs, vec![dir.join("v2/a.c")]);
    // The early expansion returns from the included file only.
    let r = fixture.eval("comp", ComponentPass::EarlyExpansion);
    assert_eq!(messages(&r), vec!["after"]);
}

#[test]
fn command_files_provide_fallback_definitions() {
    let fixture = Fixture::new();
    let helper = fixture.write(
        "project_components/helper/project_include.cmake",
        "function(my_project_helper out)\n  set(${out} from-helper PARENT_SCOPE)\nendfunction()\nmessage(not-run)\n\
         function(esptool_py_flash_target_image)\n  message(should-not-run)\nendfunction()\n",
    );
    fixture.component("comp", "my_project_helper(v)\nmessage(${v})\nesptool_py_flash_target_image(app app 0x10000 x.bin)\n");
    let mut input = fixture.input("comp", ComponentPass::Processing);
    input.command_files = Arc::from([helper.clone()]);
    let r = Evaluator::new().eval_component(&input);
    assert_eq!(r.fatal, None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(messages(&r), vec!["from-helper"]);
    assert!(
        r.recorded
            .iter()
            .any(|c| c.name == "esptool_py_flash_target_image")
    );
    assert!(r.inputs.files.iter().any(|f| f.path == helper));
}

// ------------------------------------------------------------------ project files

#[test]
fn project_file_up_to_project() {
    let fixture = Fixture::new();
    fixture.write(
        "project/cmake/extra.cmake",
        "list(APPEND EXTRA_COMPONENT_DIRS ${CMAKE_CURRENT_LIST_DIR}/../libs)\n",
    );
    let list_file = fixture.write(
        "project/CMakeLists.txt",
        "cmake_minimum_required(VERSION 3.16)\n\
         set(EXTRA_COMPONENT_DIRS $ENV{IDF_PATH}/examples/common_components/led_strip)\n\
         include(cmake/extra.cmake)\n\
         set(COMPONENTS main)\n\
         set(SDKCONFIG_DEFAULTS \"sdkconfig.defaults;sdkconfig.ci\")\n\
         set(ENV{EXTRA} 1)\n\
         include($ENV{IDF_PATH}/tools/cmake/project.cmake)\n\
         idf_build_set_property(MINIMAL_BUILD ON)\n\
         project(hello_world VERSION 1.0)\n\
         idf_build_set_property(COMPILE_OPTIONS \"-Werror\" APPEND)\n\
         message(not-reached)\n",
    );
    let input = ProjectInput::new(fixture.path("project"), Arc::new(fixture.values.clone()));
    assert_eq!(input.list_file, list_file);
    let r = Evaluator::new().eval_project(&input);
    assert_eq!(r.fatal, None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.project_name.as_deref(), Some("hello_world"));
    assert!(r.includes_idf_project_cmake);
    let idf = fixture.values.env["IDF_PATH"].clone();
    let project = paths::to_cmake(&fixture.path("project"));
    assert_eq!(
        r.variables.get("EXTRA_COMPONENT_DIRS").map(String::as_str),
        Some(
            format!("{idf}/examples/common_components/led_strip;{project}/cmake/../libs").as_str()
        )
    );
    assert_eq!(
        r.variables.get("COMPONENTS").map(String::as_str),
        Some("main")
    );
    assert_eq!(
        r.variables.get("SDKCONFIG_DEFAULTS").map(String::as_str),
        Some("sdkconfig.defaults;sdkconfig.ci")
    );
    assert_eq!(
        r.variables.get("PROJECT_VERSION").map(String::as_str),
        Some("1.0")
    );
    assert_eq!(r.env.get("EXTRA").map(String::as_str), Some("1"));
    assert_eq!(r.build_property_sets.len(), 1);
    assert_eq!(r.build_property_sets[0].name, "MINIMAL_BUILD");
    assert!(r.messages.is_empty());
    assert!(
        r.inputs
            .variables
            .contains_key(&InputKey::Env("IDF_PATH".into()))
    );

    fixture.write("project/CMakeLists.txt", "set(X 1)\n");
    let r = Evaluator::new().eval_project(&input);
    assert_eq!(r.project_name, None);
    assert!(r.warnings[0].message.contains("never calls project()"));
}
