//! The ESP-IDF build system API as component and project CMakeLists see it.
//!
//! Mirrors `tools/cmake/component.cmake`, `build.cmake`, `utilities.cmake` and, for the
//! early-expansion pass, `scripts/component_get_requirements.cmake`. Functions that components'
//! `project_include.cmake` files provide (esptool_py, partition_table, spiffs, ...) only create
//! build-time targets: they are recorded.

use std::path::{Path, PathBuf};

use super::commands::{KeywordArguments, parse_keyword_arguments};
use super::expand::{join_list, list_items, list_items_nonempty, split_list_into};
use super::interp::{Flow, Interp, Mode};
use super::paths;
use super::types::*;

/// ESP-IDF commands evaluated here.
const EVALUATED: &[&str] = &[
    "idf_component_register",
    "idf_component_mock",
    "register_component",
    "register_config_only_component",
    "require_idf_targets",
    "idf_component_optional_requires",
    "idf_component_get_property",
    "idf_component_set_property",
    "idf_build_get_property",
    "idf_build_set_property",
    "idf_build_unset_property",
    "idf_build_get_config",
    "idf_build_replace_option_from_property",
    "add_prebuilt_library",
    "spaces2list",
    "lines2list",
    "add_prefix",
    "set_default",
    "make_json_list",
    "include_if_exists",
    "add_subdirectory_if_exists",
    "check_exclusive_args",
    "fail_at_build_time",
    "fail_target",
    "add_deprecated_target_alias",
];

/// ESP-IDF commands that only create build-time targets or compile options: recorded.
const RECORDED: &[&str] = &[
    "target_add_binary_data",
    "target_linker_script",
    "component_compile_options",
    "component_compile_definitions",
    "idf_component_add_link_dependency",
    "idf_build_component",
    "idf_build_process",
    "idf_build_executable",
    "idf_build_add_post_elf_dependency",
    "idf_define_esp_err_codes",
    "add_c_compile_options",
    "add_cxx_compile_options",
    "add_asm_compile_options",
    "file_generate",
    "move_if_different",
    "file_append_line",
    "esptool_py_flash_target_image",
    "esptool_py_flash_target",
    "esptool_py_custom_target",
    "esptool_py_flash_to_partition",
    "partition_table_add_check_size_target",
    "partition_table_add_check_bootloader_size_target",
    "spiffs_create_partition_image",
    "fatfs_create_spiflash_image",
    "fatfs_create_rawflash_image",
    "nvs_create_partition_image",
    "ulp_embed_binary",
    "ulp_add_project",
];

/// ESP-IDF commands that compute a value a plan cannot know (partition table queries run a
/// Python tool): the output variable is left empty, with a warning. (name, output argument)
const UNEVALUATED: &[(&str, usize)] = &[
    ("partition_table_get_partition_info", 0),
    ("esptool_py_partition_needs_encryption", 0),
    ("idf_build_get_post_elf_dependencies", 1),
    ("preprocess_linker_file", 2),
    ("__check_python_package_min_version", 3),
];

pub(crate) fn is_idf_command(name: &str) -> bool {
    EVALUATED.contains(&name)
        || RECORDED.contains(&name)
        || UNEVALUATED.iter().any(|(n, _)| *n == name)
}

const REGISTER_OPTIONS: &[&str] = &["WHOLE_ARCHIVE"];
const REGISTER_SINGLE: &[&str] = &["KCONFIG", "KCONFIG_PROJBUILD"];
const REGISTER_MULTI: &[&str] = &[
    "SRCS",
    "SRC_DIRS",
    "EXCLUDE_SRCS",
    "INCLUDE_DIRS",
    "PRIV_INCLUDE_DIRS",
    "LDFRAGMENTS",
    "REQUIRES",
    "PRIV_REQUIRES",
    "REQUIRED_IDF_TARGETS",
    "EMBED_FILES",
    "EMBED_TXTFILES",
];

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Arguments split into list elements, as `cmake_parse_arguments` sees `${ARGN}`.
fn flatten(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for arg in args {
        split_list_into(arg, false, &mut out);
    }
    out
}

/// `spaces2list`: spaces become list separators.
fn spaces_to_list(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for value in values {
        out.extend(list_items_nonempty(&value.replace(' ', ";")));
    }
    out
}

impl Interp<'_> {
    pub(crate) fn run_idf(&mut self, call: &super::syntax::Call) -> Flow {
        let name = call.name.as_str();
        let Some(args) = self.expand_args(call) else {
            return Flow::Stop;
        };
        if RECORDED.contains(&name) {
            self.idf_recorded_side_effects(name, &args);
            self.record(name, args);
            return Flow::Normal;
        }
        if let Some((_, index)) = UNEVALUATED.iter().find(|(n, _)| *n == name) {
            if let Some(var) = args.get(*index).cloned() {
                self.set_var(&var, "");
            }
            self.warn(format!(
                "command `{name}` is not evaluated (it needs the build's tools); its result is left empty"
            ));
            self.record(name, args);
            return Flow::Normal;
        }
        match name {
            "idf_component_register" => self.idf_component_register(args),
            "idf_component_mock" => self.idf_component_mock(args),
            "register_component" | "register_config_only_component" => {
                self.legacy_register_component()
            }
            "require_idf_targets" => {
                if self.pass() == Some(ComponentPass::Processing) {
                    self.check_required_targets(&args);
                }
                if self.stopped {
                    Flow::Stop
                } else {
                    Flow::Normal
                }
            }
            "idf_component_optional_requires" => {
                let Some(visibility) = args.first().cloned() else {
                    self.fail("idf_component_optional_requires() invoked with incorrect arguments");
                    return Flow::Stop;
                };
                let components = flatten(&args[1..]);
                self.out.optional_requires.push(OptionalRequires {
                    visibility,
                    components,
                    file: self.file.to_path_buf(),
                    line: self.line,
                });
                Flow::Normal
            }
            "idf_component_get_property" => self.idf_component_get_property(args),
            "idf_component_set_property" => {
                if args.len() < 3 {
                    self.fail("idf_component_set_property() invoked with incorrect arguments");
                    return Flow::Stop;
                }
                let component = args[0].trim_start_matches("idf::").to_owned();
                let append = args[3..].iter().any(|a| a == "APPEND");
                let key = (component.clone(), args[1].clone());
                let value = args[2].clone();
                let slot = self.component_properties.entry(key).or_default();
                if append && !slot.is_empty() {
                    slot.push(';');
                    slot.push_str(&value);
                } else {
                    *slot = value.clone();
                }
                self.out.component_property_sets.push(ComponentPropertySet {
                    component,
                    name: args[1].clone(),
                    value,
                    append,
                    file: self.file.to_path_buf(),
                    line: self.line,
                });
                Flow::Normal
            }
            "idf_build_get_property" | "idf_build_get_config" => {
                let [var, property, rest @ ..] = args.as_slice() else {
                    self.fail(format!("{name}() invoked with incorrect arguments"));
                    return Flow::Stop;
                };
                let value = if rest.iter().any(|a| a == "GENERATOR_EXPRESSION") {
                    Some(format!("$<TARGET_PROPERTY:__idf_build_target,{property}>"))
                } else if name == "idf_build_get_property" {
                    self.build_property(property)
                } else {
                    self.config_value(property)
                };
                // `set(${var} ${val} PARENT_SCOPE)`: unquoted, so empty elements vanish and an
                // empty value unsets the variable.
                let items = value.map(|v| list_items_nonempty(&v)).unwrap_or_default();
                if items.is_empty() {
                    self.unset_var(var);
                } else {
                    self.set_var(var, join_list(&items));
                }
                Flow::Normal
            }
            "idf_build_set_property" | "idf_build_unset_property" => {
                let unset = name == "idf_build_unset_property";
                let (Some(property), value) = (args.first().cloned(), args.get(1).cloned()) else {
                    self.fail(format!("{name}() invoked with incorrect arguments"));
                    return Flow::Stop;
                };
                let Some(value) = (if unset { Some(String::new()) } else { value }) else {
                    self.fail(format!("{name}() invoked with incorrect arguments: a property and a value are needed"));
                    return Flow::Stop;
                };
                let append = !unset && args[2..].iter().any(|a| a == "APPEND");
                self.set_build_property(&property, &value, append);
                Flow::Normal
            }
            "idf_build_replace_option_from_property" => {
                let [property, remove, rest @ ..] = args.as_slice() else {
                    self.fail(
                        "idf_build_replace_option_from_property() invoked with incorrect arguments",
                    );
                    return Flow::Stop;
                };
                let replacement = rest.first().cloned().unwrap_or_default();
                let current = self.build_property(property).unwrap_or_default();
                let items: Vec<String> = list_items(&current)
                    .into_iter()
                    .filter_map(|item| {
                        if item == *remove {
                            if replacement.is_empty() {
                                None
                            } else {
                                Some(replacement.clone())
                            }
                        } else {
                            Some(item)
                        }
                    })
                    .collect();
                let value = join_list(&items);
                self.set_build_property(property, &value, false);
                Flow::Normal
            }
            "add_prebuilt_library" => self.add_prebuilt_library(args),
            "spaces2list" => {
                if let Some(var) = args.first().cloned() {
                    let value = self.var_or_empty(&var).replace(' ', ";");
                    self.set_var(&var, value);
                }
                Flow::Normal
            }
            "lines2list" => {
                if let Some(var) = args.first().cloned() {
                    let value = self
                        .var_or_empty(&var)
                        .replace("\r\n", ";")
                        .replace('\n', ";")
                        .replace(";;", ";");
                    self.set_var(&var, value);
                }
                Flow::Normal
            }
            "add_prefix" => {
                let [var, prefix, items @ ..] = args.as_slice() else {
                    self.fail("add_prefix() invoked with incorrect arguments");
                    return Flow::Stop;
                };
                let prefixed: Vec<String> = flatten(items)
                    .iter()
                    .map(|i| format!("{prefix}{i}"))
                    .collect();
                self.set_var(var, join_list(&prefixed));
                Flow::Normal
            }
            "set_default" => {
                let [var, default, ..] = args.as_slice() else {
                    self.fail("set_default() invoked with incorrect arguments");
                    return Flow::Stop;
                };
                let current = self.var(var);
                let truthy = current
                    .as_deref()
                    .is_some_and(|v| !super::condition::is_off(v));
                if !truthy {
                    match self.env_var(var).filter(|v| !v.is_empty()) {
                        Some(env) => self.set_var(var, env),
                        None => {
                            let default = list_items_nonempty(default);
                            if default.is_empty() {
                                self.unset_var(var);
                            } else {
                                self.set_var(var, join_list(&default));
                            }
                        }
                    }
                }
                Flow::Normal
            }
            "make_json_list" => {
                let [list, var, ..] = args.as_slice() else {
                    self.fail("make_json_list() invoked with incorrect arguments");
                    return Flow::Stop;
                };
                let value = if list_items(list).is_empty() {
                    "[]".to_owned()
                } else {
                    format!("[ \"{}\" ]", list.replace(';', "\", \""))
                };
                self.set_var(var, value);
                Flow::Normal
            }
            "include_if_exists" => {
                let Some(path) = args.first().cloned() else {
                    return Flow::Normal;
                };
                if paths::is_full_path(&path)
                    && self.note_exists(Path::new(&path), ExistsKind::Exists)
                {
                    self.include(vec![path])
                } else {
                    Flow::Normal
                }
            }
            "add_subdirectory_if_exists" => {
                let Some(dir) = args.first().cloned() else {
                    self.fail("add_subdirectory_if_exists() invoked with incorrect arguments");
                    return Flow::Stop;
                };
                let base = self.current_list_dir();
                let absolute = paths::absolute(Path::new(&dir), &base);
                if self.note_exists(&absolute, ExistsKind::Exists) {
                    self.add_subdirectory(args)
                } else {
                    self.message(
                        MessageLevel::Status,
                        format!(
                            "Subdirectory '{}' does not exist, skipped.",
                            absolute.display()
                        ),
                    );
                    Flow::Normal
                }
            }
            "check_exclusive_args" => {
                let [names, prefix, ..] = args.as_slice() else {
                    self.fail("check_exclusive_args() invoked with incorrect arguments");
                    return Flow::Stop;
                };
                let mut seen = false;
                for arg in spaces_to_list(std::slice::from_ref(names)) {
                    let value = self.var(&format!("{prefix}_{arg}"));
                    if value.is_some_and(|v| !super::condition::is_off(&v)) {
                        if seen {
                            self.fail(format!("{names} are exclusive arguments"));
                            return Flow::Stop;
                        }
                        seen = true;
                    }
                }
                Flow::Normal
            }
            "fail_at_build_time" | "fail_target" | "add_deprecated_target_alias" => {
                if let Some(target) = args.first().cloned()
                    && let Err(e) = self.create_target(&target, "UTILITY", false)
                {
                    self.fail(format!("{name}(): {e}"));
                    return Flow::Stop;
                }
                self.record(name, args);
                Flow::Normal
            }
            _ => {
                self.warn_not_evaluated(name);
                Flow::Normal
            }
        }
    }

    /// Effects of recorded commands that later commands can observe (targets they create).
    fn idf_recorded_side_effects(&mut self, name: &str, args: &[String]) {
        if name == "ulp_embed_binary"
            && let Some(app) = args.first()
        {
            self.targets.insert(app.clone());
        }
    }

    /// A CONFIG value as `idf_build_get_config` reads it: only once sdkconfig is loaded.
    fn config_value(&mut self, name: &str) -> Option<String> {
        if self.pass() == Some(ComponentPass::EarlyExpansion) {
            return None;
        }
        let value = self.values.variables.get(name).cloned();
        self.note_input(
            InputKey::Variable(name.to_owned()),
            self.values.variable(name),
        );
        value
    }

    pub(crate) fn set_build_property(&mut self, property: &str, value: &str, append: bool) {
        let current = if append {
            self.build_property(property)
        } else {
            None
        };
        let new = match current {
            Some(c) if !c.is_empty() => {
                if value.is_empty() {
                    c
                } else {
                    format!("{c};{value}")
                }
            }
            _ => value.to_owned(),
        };
        self.build_properties.insert(property.to_owned(), new);
        self.out.build_property_sets.push(BuildPropertySet {
            name: property.to_owned(),
            value: value.to_owned(),
            append,
            file: self.file.to_path_buf(),
            line: self.line,
        });
    }

    fn component_dir(&self) -> PathBuf {
        match &self.mode {
            Mode::Component { dir, .. } => dir.clone(),
            Mode::Project => PathBuf::new(),
        }
    }

    /// `idf_component_register()`.
    fn idf_component_register(&mut self, args: Vec<String>) -> Flow {
        let values = flatten(&args);
        let parsed = parse_keyword_arguments(
            &values,
            &strings(REGISTER_OPTIONS),
            &strings(REGISTER_SINGLE),
            &strings(REGISTER_MULTI),
        );
        self.register(parsed)
    }

    fn register(&mut self, parsed: KeywordArguments) -> Flow {
        let Mode::Component { name, pass, .. } = self.mode.clone() else {
            self.warn("idf_component_register() outside a component is not evaluated");
            return Flow::Normal;
        };
        let component_dir = self.component_dir();
        let list_dir = self.current_list_dir();
        let source_dir = self.current_source_dir();
        let get = |key: &str| parsed.values.get(key).cloned().unwrap_or_default();
        let abs = |items: Vec<String>, base: &Path| -> Vec<PathBuf> {
            items
                .iter()
                .map(|i| paths::absolute(Path::new(i), base))
                .collect()
        };
        let single = |key: &str| parsed.values.get(key).and_then(|v| v.first().cloned());
        let alias = format!("idf::{name}");
        let requirements = |key: &str| {
            let mut seen = std::collections::HashSet::new();
            spaces_to_list(&get(key))
                .into_iter()
                .filter(|r| *r != name && *r != alias && seen.insert(r.clone()))
                .collect::<Vec<_>>()
        };
        let mut registration = ComponentRegistration {
            srcs: abs(get("SRCS"), &component_dir),
            src_dirs: abs(get("SRC_DIRS"), &component_dir),
            exclude_srcs: abs(get("EXCLUDE_SRCS"), &source_dir),
            include_dirs: abs(spaces_to_list(&get("INCLUDE_DIRS")), &list_dir),
            priv_include_dirs: abs(get("PRIV_INCLUDE_DIRS"), &list_dir),
            embed_files: abs(get("EMBED_FILES"), &source_dir),
            embed_txtfiles: abs(get("EMBED_TXTFILES"), &source_dir),
            kconfig: single("KCONFIG").map(|k| paths::absolute(Path::new(&k), &component_dir)),
            kconfig_projbuild: single("KCONFIG_PROJBUILD")
                .map(|k| paths::absolute(Path::new(&k), &component_dir)),
            ldfragments: abs(spaces_to_list(&get("LDFRAGMENTS")), &source_dir),
            requires: requirements("REQUIRES"),
            priv_requires: requirements("PRIV_REQUIRES"),
            required_idf_targets: get("REQUIRED_IDF_TARGETS"),
            whole_archive: parsed.options.iter().any(|o| o == "WHOLE_ARCHIVE"),
            sources: Vec::new(),
            unparsed_arguments: parsed.unparsed.clone(),
            file: self.file.to_path_buf(),
            line: self.line,
        };
        if pass == ComponentPass::EarlyExpansion {
            // component_get_requirements.cmake: record the arguments, then return().
            self.out.registrations.push(registration);
            return Flow::Return(Vec::new());
        }
        let lib = format!("__idf_{name}");
        if self.targets.contains(&lib) {
            self.fail(format!(
                "idf_component_register() called again: ESP-IDF cannot create the library target {lib} a second time"
            ));
            return Flow::Stop;
        }
        self.check_required_targets(&registration.required_idf_targets.clone());
        if self.stopped {
            return Flow::Stop;
        }
        registration.sources = self.component_sources(&registration);
        if self.stopped {
            return Flow::Stop;
        }
        let is_library = !registration.sources.is_empty()
            || !registration.embed_files.is_empty()
            || !registration.embed_txtfiles.is_empty();
        let mut checked: Vec<PathBuf> = registration.include_dirs.clone();
        if is_library {
            checked.extend(registration.priv_include_dirs.iter().cloned());
        }
        for dir in checked {
            if !self.note_exists(&dir, ExistsKind::IsDirectory) {
                self.fail(format!(
                    "Include directory '{}' is not a directory.",
                    dir.display()
                ));
                return Flow::Stop;
            }
        }
        let kind = if is_library {
            "STATIC_LIBRARY"
        } else {
            "INTERFACE_LIBRARY"
        };
        if let Err(e) = self.create_target(&lib, kind, false) {
            self.fail(e);
            return Flow::Stop;
        }
        self.targets.insert(alias.clone());
        self.set_var("COMPONENT_LIB", lib.clone());
        self.set_var("COMPONENT_TARGET", lib);
        // The component properties ESP-IDF sets from the registration.
        let own = [
            (
                "COMPONENT_TYPE",
                (if is_library { "LIBRARY" } else { "CONFIG_ONLY" }).to_owned(),
            ),
            (
                "SRCS",
                join_list(
                    &registration
                        .sources
                        .iter()
                        .map(|p| paths::to_cmake(p))
                        .collect::<Vec<_>>(),
                ),
            ),
            ("INCLUDE_DIRS", join_list(&get("INCLUDE_DIRS"))),
            (
                "PRIV_INCLUDE_DIRS",
                if is_library {
                    join_list(&get("PRIV_INCLUDE_DIRS"))
                } else {
                    String::new()
                },
            ),
            ("LDFRAGMENTS", join_list(&get("LDFRAGMENTS"))),
            ("EMBED_FILES", join_list(&get("EMBED_FILES"))),
            ("EMBED_TXTFILES", join_list(&get("EMBED_TXTFILES"))),
            (
                "REQUIRED_IDF_TARGETS",
                join_list(&get("REQUIRED_IDF_TARGETS")),
            ),
            (
                "WHOLE_ARCHIVE",
                if registration.whole_archive {
                    "TRUE".into()
                } else {
                    "FALSE".into()
                },
            ),
        ];
        for (key, value) in own {
            self.component_properties
                .insert((name.clone(), key.to_owned()), value);
        }
        self.out.registrations.push(registration);
        Flow::Normal
    }

    fn check_required_targets(&mut self, targets: &[String]) {
        if targets.is_empty() {
            return;
        }
        let target = self.build_property("IDF_TARGET").unwrap_or_default();
        if !targets.contains(&target) {
            let name = self.component_name().unwrap_or_default().to_owned();
            self.fail(format!(
                "Component {name} only supports targets: {}",
                join_list(targets)
            ));
        }
    }

    /// `__component_add_sources`: SRCS, or the globbed SRC_DIRS minus EXCLUDE_SRCS.
    fn component_sources(&mut self, registration: &ComponentRegistration) -> Vec<PathBuf> {
        let mut sources: Vec<PathBuf> = Vec::new();
        if !registration.srcs.is_empty() {
            if !registration.src_dirs.is_empty() {
                self.message(
                    MessageLevel::Warning,
                    "SRCS and SRC_DIRS are both specified; ignoring SRC_DIRS.".into(),
                );
            }
            sources.extend(registration.srcs.iter().cloned());
        } else {
            for dir in &registration.src_dirs {
                if !self.note_exists(dir, ExistsKind::IsDirectory) {
                    self.fail(format!(
                        "SRC_DIRS entry '{}' does not exist.",
                        dir.display()
                    ));
                    return Vec::new();
                }
                let base = paths::to_cmake(dir);
                let patterns = vec![
                    format!("{base}/*.c"),
                    format!("{base}/*.cpp"),
                    format!("{base}/*.S"),
                ];
                let matched = self.run_glob(patterns, false, true, false);
                if matched.is_empty() {
                    self.message(
                        MessageLevel::Warning,
                        format!(
                            "No source files found for SRC_DIRS entry '{}'.",
                            dir.display()
                        ),
                    );
                }
                sources.extend(matched);
            }
            sources.retain(|s| !registration.exclude_srcs.contains(s));
        }
        let mut seen = std::collections::HashSet::new();
        sources.retain(|s| seen.insert(s.clone()));
        sources
    }

    fn idf_component_mock(&mut self, args: Vec<String>) -> Flow {
        let values = flatten(&args);
        let parsed = parse_keyword_arguments(
            &values,
            &[],
            &strings(&["MOCK_SUBDIR"]),
            &strings(&["MOCK_HEADER_FILES", "INCLUDE_DIRS", "REQUIRES"]),
        );
        let mut requires = parsed.values.get("REQUIRES").cloned().unwrap_or_default();
        requires.push("cmock".into());
        let mut include_dirs = parsed
            .values
            .get("INCLUDE_DIRS")
            .cloned()
            .unwrap_or_default();
        let mut srcs = Vec::new();
        if self.pass() == Some(ComponentPass::Processing) {
            let mock_dir = paths::to_cmake(&self.current_binary_dir().join("mocks"));
            include_dirs.push(mock_dir.clone());
            let subdir = parsed
                .values
                .get("MOCK_SUBDIR")
                .and_then(|v| v.first().cloned());
            for header in parsed
                .values
                .get("MOCK_HEADER_FILES")
                .cloned()
                .unwrap_or_default()
            {
                let stem = paths::filename_stem(&header, false).to_owned();
                srcs.push(match &subdir {
                    Some(sub) => format!("{mock_dir}/{sub}/Mock{stem}.c"),
                    None => format!("{mock_dir}/Mock{stem}.c"),
                });
            }
        }
        let mut register = KeywordArguments::default();
        register.values.insert("REQUIRES".into(), requires);
        register.values.insert("INCLUDE_DIRS".into(), include_dirs);
        register.values.insert("SRCS".into(), srcs);
        self.record("idf_component_mock", args);
        self.register(register)
    }

    /// ESP-IDF 3.x style `register_component()` from COMPONENT_* variables.
    fn legacy_register_component(&mut self) -> Flow {
        let mut register = KeywordArguments::default();
        for (var, key) in [
            ("COMPONENT_SRCS", "SRCS"),
            ("COMPONENT_SRCDIRS", "SRC_DIRS"),
            ("COMPONENT_ADD_INCLUDEDIRS", "INCLUDE_DIRS"),
            ("COMPONENT_PRIV_INCLUDEDIRS", "PRIV_INCLUDE_DIRS"),
            ("COMPONENT_REQUIRES", "REQUIRES"),
            ("COMPONENT_PRIV_REQUIRES", "PRIV_REQUIRES"),
            ("COMPONENT_ADD_LDFRAGMENTS", "LDFRAGMENTS"),
            ("COMPONENT_EMBED_FILES", "EMBED_FILES"),
            ("COMPONENT_EMBED_TXTFILES", "EMBED_TXTFILES"),
            ("COMPONENT_SRCEXCLUDE", "EXCLUDE_SRCS"),
        ] {
            let value = self.var_or_empty(var).replace(' ', ";");
            register
                .values
                .insert(key.into(), list_items_nonempty(&value));
        }
        self.register(register)
    }

    fn idf_component_get_property(&mut self, args: Vec<String>) -> Flow {
        let [var, component, property, rest @ ..] = args.as_slice() else {
            self.fail("idf_component_get_property() invoked with incorrect arguments");
            return Flow::Stop;
        };
        let component = component
            .strip_prefix("idf::")
            .unwrap_or(component)
            .to_owned();
        if rest.iter().any(|a| a == "GENERATOR_EXPRESSION") {
            self.set_var(
                var,
                format!("$<TARGET_PROPERTY:___idf_{component},{property}>"),
            );
            return Flow::Normal;
        }
        let key = (component.clone(), property.clone());
        let value = if let Some(v) = self.component_properties.get(&key) {
            Some(v.clone())
        } else if Some(component.as_str()) == self.component_name() {
            self.own_component_property(property)
        } else {
            let known = self.values.component_properties.contains_key(&component);
            let explicit = self
                .values
                .component_property(&component, property)
                .map(str::to_owned);
            self.note_input(
                InputKey::ComponentProperty(component.clone(), property.clone()),
                explicit.as_deref(),
            );
            if !known && !self.values.component_properties.is_empty() {
                if self.pass() == Some(ComponentPass::Processing) {
                    self.fail(format!("Failed to resolve component '{component}'"));
                    return Flow::Stop;
                }
                None
            } else {
                explicit.or_else(|| derived_component_property(&component, property))
            }
        };
        self.set_var(var, value.unwrap_or_default());
        Flow::Normal
    }

    fn own_component_property(&mut self, property: &str) -> Option<String> {
        let name = self.component_name()?.to_owned();
        match property {
            "COMPONENT_DIR" => Some(paths::to_cmake(&self.component_dir())),
            _ => {
                let explicit = self
                    .values
                    .component_property(&name, property)
                    .map(str::to_owned);
                self.note_input(
                    InputKey::ComponentProperty(name.clone(), property.to_owned()),
                    explicit.as_deref(),
                );
                explicit.or_else(|| derived_component_property(&name, property))
            }
        }
    }

    fn add_prebuilt_library(&mut self, args: Vec<String>) -> Flow {
        let [target, lib_path, rest @ ..] = args.as_slice() else {
            self.fail("add_prebuilt_library() invoked with incorrect arguments");
            return Flow::Stop;
        };
        let parsed = parse_keyword_arguments(
            &flatten(rest),
            &[],
            &[],
            &strings(&["REQUIRES", "PRIV_REQUIRES"]),
        );
        let base = self.current_list_dir();
        let path = paths::absolute(Path::new(lib_path), &base);
        if let Err(e) = self.create_target(target, "STATIC_LIBRARY", true) {
            self.fail(e);
            return Flow::Stop;
        }
        self.out.prebuilt_libraries.push(PrebuiltLibrary {
            target: target.clone(),
            path,
            requires: parsed.values.get("REQUIRES").cloned().unwrap_or_default(),
            priv_requires: parsed
                .values
                .get("PRIV_REQUIRES")
                .cloned()
                .unwrap_or_default(),
            file: self.file.to_path_buf(),
            line: self.line,
        });
        self.record("add_prebuilt_library", args);
        Flow::Normal
    }
}

/// Component properties that follow from the name alone.
fn derived_component_property(component: &str, property: &str) -> Option<String> {
    match property {
        "COMPONENT_NAME" => Some(component.to_owned()),
        "COMPONENT_LIB" => Some(format!("__idf_{component}")),
        "COMPONENT_ALIAS" => Some(format!("idf::{component}")),
        "COMPONENT_TARGET" => Some(format!("___idf_{component}")),
        _ => None,
    }
}
