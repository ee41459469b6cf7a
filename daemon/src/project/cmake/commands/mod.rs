//! Standard CMake commands: which are evaluated, which are recorded, which are warned about.

mod file;
mod list;
mod math;
mod properties;
mod string;

use super::expand;
use super::interp::{Flow, Interp};
use super::syntax::Call;
use super::types::MessageLevel;

/// Commands evaluated here (besides flow control, handled by the interpreter).
const EVALUATED: &[&str] = &[
    "set",
    "unset",
    "list",
    "string",
    "math",
    "message",
    "return",
    "break",
    "continue",
    "include",
    "include_guard",
    "add_subdirectory",
    "cmake_parse_arguments",
    "option",
    "get_filename_component",
    "cmake_path",
    "file",
    "separate_arguments",
    "set_property",
    "get_property",
    "get_target_property",
    "set_target_properties",
    "get_directory_property",
    "set_directory_properties",
    "get_source_file_property",
    "set_source_files_properties",
    "add_library",
    "add_executable",
    "add_custom_target",
    "target_sources",
    "project",
    "cmake_language",
    "mark_as_advanced",
    "cmake_minimum_required",
    "cmake_policy",
    "find_package",
    "find_library",
    "find_path",
    "find_file",
    "find_program",
];

/// Commands that only affect compilation, linking, installation or build-time steps: recorded
/// with their expanded arguments, never a warning.
const RECORDED: &[&str] = &[
    "add_compile_definitions",
    "add_compile_options",
    "add_custom_command",
    "add_definitions",
    "add_dependencies",
    "add_link_options",
    "add_test",
    "configure_file",
    "create_test_sourcelist",
    "define_property",
    "enable_language",
    "enable_testing",
    "export",
    "include_directories",
    "include_external_msproject",
    "install",
    "link_directories",
    "link_libraries",
    "remove_definitions",
    "set_tests_properties",
    "source_group",
    "target_compile_definitions",
    "target_compile_features",
    "target_compile_options",
    "target_include_directories",
    "target_link_directories",
    "target_link_libraries",
    "target_link_options",
    "target_precompile_headers",
    "variable_watch",
    "externalproject_add",
    "externalproject_add_step",
    "externalproject_add_steptargets",
];

/// Commands that compute values from the host or the toolchain, which a plan cannot know:
/// evaluated as "nothing found", with a warning.
const UNEVALUATED: &[&str] = &[
    "execute_process",
    "try_compile",
    "try_run",
    "site_name",
    "get_cmake_property",
    "cmake_host_system_information",
    "aux_source_directory",
    "load_cache",
    "ctest_build",
    "check_c_compiler_flag",
    "check_cxx_compiler_flag",
    "check_compiler_flag",
    "check_include_file",
    "check_include_files",
    "check_symbol_exists",
    "check_c_source_compiles",
    "check_cxx_source_compiles",
    "check_function_exists",
    "check_library_exists",
    "check_type_size",
];

/// Whether a command is known natively (for `if(COMMAND)`).
pub(crate) fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "if" | "elseif"
            | "else"
            | "endif"
            | "foreach"
            | "endforeach"
            | "while"
            | "endwhile"
            | "function"
            | "endfunction"
            | "macro"
            | "endmacro"
            | "block"
            | "endblock"
    ) || EVALUATED.contains(&name)
        || RECORDED.contains(&name)
        || UNEVALUATED.contains(&name)
        || super::idf::is_idf_command(name)
}

/// C `atoi`: leading white space, sign, digits; 0 when there are none.
pub(crate) fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut value: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative { -value } else { value }
}

/// Expanded arguments inside `run_builtin` (an expansion error ends the evaluation).
macro_rules! builtin_args {
    ($interp:ident, $call:ident) => {
        match $interp.expand_args($call) {
            Some(args) => args,
            None => return Some(Flow::Stop),
        }
    };
}

impl Interp<'_> {
    /// Runs a native command; None when no table knows `call.name`.
    pub(crate) fn run_builtin(&mut self, call: &Call) -> Option<Flow> {
        let name = call.name.as_str();
        if super::idf::is_idf_command(name) {
            return Some(self.run_idf(call));
        }
        let flow = match name {
            "set" => {
                let args = builtin_args!(self, call);
                self.cmd_set(args)
            }
            "unset" => {
                let args = builtin_args!(self, call);
                self.cmd_unset(args)
            }
            "list" => {
                let args = builtin_args!(self, call);
                self.cmd_list(args)
            }
            "string" => {
                let args = builtin_args!(self, call);
                self.cmd_string(args)
            }
            "math" => {
                let args = builtin_args!(self, call);
                self.cmd_math(args)
            }
            "message" => {
                let args = builtin_args!(self, call);
                self.cmd_message(args)
            }
            "return" => {
                let args = builtin_args!(self, call);
                match args.first().map(String::as_str) {
                    Some("PROPAGATE") => Flow::Return(args[1..].to_vec()),
                    _ => Flow::Return(Vec::new()),
                }
            }
            "break" => Flow::Break,
            "continue" => Flow::Continue,
            "include" => {
                let args = builtin_args!(self, call);
                self.include(args)
            }
            "include_guard" => {
                let file = self.file.to_path_buf();
                if self.include_guards.insert(file) {
                    Flow::Normal
                } else {
                    Flow::Return(Vec::new())
                }
            }
            "add_subdirectory" => {
                let args = builtin_args!(self, call);
                self.add_subdirectory(args)
            }
            "cmake_parse_arguments" => {
                let args = builtin_args!(self, call);
                self.cmd_parse_arguments(args)
            }
            "option" => {
                let args = builtin_args!(self, call);
                self.cmd_option(args)
            }
            "get_filename_component" => {
                let args = builtin_args!(self, call);
                self.cmd_get_filename_component(args)
            }
            "cmake_path" => {
                let args = builtin_args!(self, call);
                self.cmd_cmake_path(args)
            }
            "file" => {
                let args = builtin_args!(self, call);
                self.cmd_file(args)
            }
            "separate_arguments" => {
                let args = builtin_args!(self, call);
                self.cmd_separate_arguments(args)
            }
            "set_property"
            | "get_property"
            | "get_target_property"
            | "set_target_properties"
            | "get_directory_property"
            | "set_directory_properties"
            | "get_source_file_property"
            | "set_source_files_properties"
            | "add_library"
            | "add_executable"
            | "add_custom_target"
            | "target_sources" => {
                let args = builtin_args!(self, call);
                self.cmd_target_or_property(name, args)
            }
            "project" => {
                let args = builtin_args!(self, call);
                self.cmd_project(args)
            }
            "cmake_language" => {
                let args = builtin_args!(self, call);
                self.cmd_cmake_language(call, args)
            }
            "mark_as_advanced" | "cmake_minimum_required" | "cmake_policy" => {
                let _ = builtin_args!(self, call);
                Flow::Normal
            }
            "find_package" => {
                let args = builtin_args!(self, call);
                if let Some(package) = args.first() {
                    self.set_var(&format!("{package}_FOUND"), "FALSE");
                    let package = package.clone();
                    self.warn(format!(
                        "find_package({package}) is not evaluated; the plan assumes the package is not found"
                    ));
                }
                self.record(name, args);
                Flow::Normal
            }
            "find_library" | "find_path" | "find_file" | "find_program" => {
                let args = builtin_args!(self, call);
                if let Some(var) = args.first() {
                    let var = var.clone();
                    self.set_var(&var, format!("{var}-NOTFOUND"));
                }
                self.warn(format!(
                    "`{name}()` is not evaluated; the plan assumes nothing is found"
                ));
                self.record(name, args);
                Flow::Normal
            }
            _ if RECORDED.contains(&name) => {
                let args = builtin_args!(self, call);
                self.record(name, args);
                Flow::Normal
            }
            _ if UNEVALUATED.contains(&name) => {
                let args = builtin_args!(self, call);
                self.warn_not_evaluated(name);
                self.record(name, args);
                Flow::Normal
            }
            _ => return None,
        };
        Some(flow)
    }

    fn cmd_set(&mut self, args: Vec<String>) -> Flow {
        let Some(name) = args.first() else {
            self.fail("set() called with incorrect number of arguments");
            return Flow::Stop;
        };
        if let Some(env) = name.strip_prefix("ENV{").and_then(|n| n.strip_suffix('}')) {
            let value = args.get(1).cloned().unwrap_or_default();
            if value.is_empty() {
                self.env.insert(env.to_owned(), None);
            } else {
                self.env.insert(env.to_owned(), Some(value));
            }
            return Flow::Normal;
        }
        let name = name.clone();
        let values = &args[1..];
        if values.last().map(String::as_str) == Some("PARENT_SCOPE") {
            let values = &values[..values.len() - 1];
            let value = if values.is_empty() {
                None
            } else {
                Some(expand::join_list(values))
            };
            self.set_parent(&name, value);
            return Flow::Normal;
        }
        let force = values.last().map(String::as_str) == Some("FORCE");
        let cache_pos = values.len().checked_sub(if force { 4 } else { 3 });
        if let Some(pos) = cache_pos.filter(|p| values.get(*p).map(String::as_str) == Some("CACHE"))
        {
            let value = expand::join_list(&values[..pos]);
            let kind = values[pos + 1].as_str();
            let exists = self.cache_var(&name).is_some();
            if !exists || force || kind == "INTERNAL" {
                self.cache.insert(name.clone(), Some(value));
            }
            // CMP0126 OLD (projects declaring CMake < 3.21, as ESP-IDF's do): the normal
            // variable of that name is removed and the cache entry shows through.
            if let Some(cached) = self.cache_var(&name) {
                self.set_var(&name, cached);
            }
            return Flow::Normal;
        }
        if values.is_empty() {
            self.unset_var(&name);
        } else {
            self.set_var(&name, expand::join_list(values));
        }
        Flow::Normal
    }

    fn cmd_unset(&mut self, args: Vec<String>) -> Flow {
        let Some(name) = args.first().cloned() else {
            self.fail("unset() called with incorrect number of arguments");
            return Flow::Stop;
        };
        if let Some(env) = name.strip_prefix("ENV{").and_then(|n| n.strip_suffix('}')) {
            self.env.insert(env.to_owned(), None);
            return Flow::Normal;
        }
        match args.get(1).map(String::as_str) {
            Some("CACHE") => {
                self.cache.insert(name, None);
            }
            Some("PARENT_SCOPE") => self.set_parent(&name, None),
            _ => self.unset_var(&name),
        }
        Flow::Normal
    }

    fn cmd_message(&mut self, args: Vec<String>) -> Flow {
        let (level, rest) = match args.first().map(String::as_str) {
            Some("FATAL_ERROR") => (MessageLevel::FatalError, &args[1..]),
            Some("SEND_ERROR") => (MessageLevel::SendError, &args[1..]),
            Some("WARNING") => (MessageLevel::Warning, &args[1..]),
            Some("AUTHOR_WARNING") => (MessageLevel::AuthorWarning, &args[1..]),
            Some("DEPRECATION") => (MessageLevel::Deprecation, &args[1..]),
            Some("NOTICE") => (MessageLevel::Notice, &args[1..]),
            Some("STATUS") => (MessageLevel::Status, &args[1..]),
            Some("VERBOSE") => (MessageLevel::Verbose, &args[1..]),
            Some("DEBUG") => (MessageLevel::Debug, &args[1..]),
            Some("TRACE") => (MessageLevel::Trace, &args[1..]),
            Some("CHECK_START") => (MessageLevel::CheckStart, &args[1..]),
            Some("CHECK_PASS") => (MessageLevel::CheckPass, &args[1..]),
            Some("CHECK_FAIL") => (MessageLevel::CheckFail, &args[1..]),
            Some("CONFIGURE_LOG") => (MessageLevel::ConfigureLog, &args[1..]),
            _ => (MessageLevel::Notice, &args[..]),
        };
        let text: String = rest.concat();
        self.message(level, text.clone());
        if level == MessageLevel::FatalError {
            self.fail(text);
            return Flow::Stop;
        }
        Flow::Normal
    }

    fn cmd_option(&mut self, args: Vec<String>) -> Flow {
        let Some(name) = args.first().cloned() else {
            self.fail("option() called with incorrect number of arguments");
            return Flow::Stop;
        };
        // A normal variable of that name wins (CMP0077); an existing cache entry too.
        if self.is_defined(&name) {
            return Flow::Normal;
        }
        let value = args.get(2).cloned().unwrap_or_else(|| "OFF".into());
        self.cache.insert(name.clone(), Some(value.clone()));
        Flow::Normal
    }

    fn cmd_parse_arguments(&mut self, args: Vec<String>) -> Flow {
        let (prefix, options, singles, multis, values) =
            if args.first().map(String::as_str) == Some("PARSE_ARGV") {
                if args.len() < 6 {
                    self.fail(
                    "cmake_parse_arguments(PARSE_ARGV) called with incorrect number of arguments",
                );
                    return Flow::Stop;
                }
                let start = atoi(&args[1]).max(0) as usize;
                let count = self.var("ARGC").map_or(0, |c| atoi(&c).max(0) as usize);
                let mut values = Vec::new();
                for i in start..count {
                    values.push(self.var_or_empty(&format!("ARGV{i}")));
                }
                (
                    args[2].clone(),
                    args[3].clone(),
                    args[4].clone(),
                    args[5].clone(),
                    values,
                )
            } else {
                if args.len() < 4 {
                    self.fail("cmake_parse_arguments() called with incorrect number of arguments");
                    return Flow::Stop;
                }
                let mut values = Vec::new();
                for arg in &args[4..] {
                    expand::split_list_into(arg, false, &mut values);
                }
                (
                    args[0].clone(),
                    args[1].clone(),
                    args[2].clone(),
                    args[3].clone(),
                    values,
                )
            };
        let options = expand::list_items_nonempty(&options);
        let singles = expand::list_items_nonempty(&singles);
        let multis = expand::list_items_nonempty(&multis);
        let parsed = parse_keyword_arguments(&values, &options, &singles, &multis);
        for option in &options {
            let on = parsed.options.contains(option);
            self.set_var(
                &format!("{prefix}_{option}"),
                if on { "TRUE" } else { "FALSE" },
            );
        }
        for keyword in singles.iter().chain(multis.iter()) {
            let name = format!("{prefix}_{keyword}");
            match parsed.values.get(keyword) {
                Some(v) if !v.is_empty() => self.set_var(&name, expand::join_list(v)),
                _ => self.unset_var(&name),
            }
        }
        let unparsed = format!("{prefix}_UNPARSED_ARGUMENTS");
        if parsed.unparsed.is_empty() {
            self.unset_var(&unparsed);
        } else {
            self.set_var(&unparsed, expand::join_list(&parsed.unparsed));
        }
        let missing = format!("{prefix}_KEYWORDS_MISSING_VALUES");
        if parsed.missing_values.is_empty() {
            self.unset_var(&missing);
        } else {
            self.set_var(&missing, expand::join_list(&parsed.missing_values));
        }
        Flow::Normal
    }

    fn cmd_separate_arguments(&mut self, args: Vec<String>) -> Flow {
        let Some(var) = args.first().cloned() else {
            self.fail("separate_arguments() called with incorrect number of arguments");
            return Flow::Stop;
        };
        if args.len() == 1 {
            // Old form: spaces of the variable's value become list separators.
            let value = self.var_or_empty(&var).replace(' ', ";");
            self.set_var(&var, value);
            return Flow::Normal;
        }
        let mode = args[1].as_str();
        let text = args[2..]
            .iter()
            .filter(|a| *a != "PROGRAM" && *a != "SEPARATE_ARGS")
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        let items = match mode {
            "WINDOWS_COMMAND" => split_command_line(&text, false),
            _ => split_command_line(&text, true),
        };
        self.set_var(&var, expand::join_list(&items));
        Flow::Normal
    }

    fn cmd_project(&mut self, args: Vec<String>) -> Flow {
        let Some(name) = args.first().cloned() else {
            self.fail("project() called with incorrect number of arguments");
            return Flow::Stop;
        };
        self.record("project", args.clone());
        let source = super::paths::to_cmake(&self.current_source_dir());
        let binary = super::paths::to_cmake(&self.current_binary_dir());
        self.set_var("PROJECT_NAME", name.clone());
        self.set_var("PROJECT_SOURCE_DIR", source.clone());
        self.set_var("PROJECT_BINARY_DIR", binary.clone());
        self.set_var(&format!("{name}_SOURCE_DIR"), source);
        self.set_var(&format!("{name}_BINARY_DIR"), binary);
        if let Some(pos) = args.iter().position(|a| a == "VERSION")
            && let Some(version) = args.get(pos + 1).cloned()
        {
            self.set_var("PROJECT_VERSION", version.clone());
            self.set_var(&format!("{name}_VERSION"), version.clone());
            let parts: Vec<&str> = version.split('.').collect();
            for (i, suffix) in ["MAJOR", "MINOR", "PATCH", "TWEAK"].iter().enumerate() {
                let value = parts.get(i).copied().unwrap_or("").to_owned();
                self.set_var(&format!("PROJECT_VERSION_{suffix}"), value.clone());
                self.set_var(&format!("{name}_VERSION_{suffix}"), value);
            }
        }
        match &self.mode {
            super::interp::Mode::Project => {
                self.out.project_name = Some(name);
                self.stopped = true;
                Flow::Stop
            }
            super::interp::Mode::Component { dir, .. } => {
                let dir = dir.clone();
                let at_component_level = self.current_source_dir() == dir;
                if at_component_level {
                    self.warn(
                        "project() in a component CMakeLists.txt is not evaluated as a project",
                    );
                }
                Flow::Normal
            }
        }
    }

    fn cmd_cmake_language(&mut self, call: &Call, args: Vec<String>) -> Flow {
        match args.first().map(String::as_str) {
            Some("CALL") if args.len() >= 2 => {
                let call = Call {
                    name: args[1].to_ascii_lowercase(),
                    args: args[2..]
                        .iter()
                        .map(|a| super::syntax::Arg {
                            text: a.clone(),
                            kind: super::syntax::ArgKind::Bracket,
                        })
                        .collect(),
                    line: call.line,
                };
                if matches!(
                    call.name.as_str(),
                    "if" | "elseif" | "else" | "endif" | "foreach" | "while" | "function" | "macro"
                ) {
                    self.fail("cmake_language(CALL) cannot call flow-control commands");
                    return Flow::Stop;
                }
                self.run_call(&call)
            }
            Some("EVAL") if args.get(1).map(String::as_str) == Some("CODE") => {
                let code = args[2..].join(" ");
                match super::syntax::parse(&code) {
                    Ok(nodes) => {
                        if self.depth >= super::interp::MAX_DEPTH {
                            self.fail("maximum nesting depth exceeded in cmake_language(EVAL)");
                            return Flow::Stop;
                        }
                        self.depth += 1;
                        let flow = self.run_block(&nodes);
                        self.depth -= 1;
                        flow
                    }
                    Err(e) => {
                        self.fail(format!(
                            "cmake_language(EVAL CODE) syntax error: {}",
                            e.message
                        ));
                        Flow::Stop
                    }
                }
            }
            Some("GET_MESSAGE_LOG_LEVEL") if args.len() >= 2 => {
                self.set_var(&args[1], "STATUS");
                Flow::Normal
            }
            _ => {
                self.warn_not_evaluated("cmake_language");
                Flow::Normal
            }
        }
    }
}

/// The result of splitting arguments on keywords.
#[derive(Debug, Default)]
pub(crate) struct KeywordArguments {
    pub(crate) options: Vec<String>,
    pub(crate) values: std::collections::HashMap<String, Vec<String>>,
    pub(crate) unparsed: Vec<String>,
    pub(crate) missing_values: Vec<String>,
}

/// `cmake_parse_arguments` semantics over already split values.
pub(crate) fn parse_keyword_arguments(
    values: &[String],
    options: &[String],
    singles: &[String],
    multis: &[String],
) -> KeywordArguments {
    let mut out = KeywordArguments::default();
    enum State {
        None,
        Single(String, bool),
        Multi(String, usize),
    }
    let mut state = State::None;
    let close = |state: &State, out: &mut KeywordArguments| match state {
        State::Single(k, false) => out.missing_values.push(k.clone()),
        State::Multi(k, 0) => out.missing_values.push(k.clone()),
        _ => {}
    };
    for value in values {
        let v = value.as_str();
        if options.iter().any(|o| o == v) {
            close(&state, &mut out);
            if !out.options.iter().any(|o| o == v) {
                out.options.push(v.to_owned());
            }
            state = State::None;
        } else if singles.iter().any(|s| s == v) {
            close(&state, &mut out);
            out.values.insert(v.to_owned(), Vec::new());
            state = State::Single(v.to_owned(), false);
        } else if multis.iter().any(|m| m == v) {
            close(&state, &mut out);
            out.values.entry(v.to_owned()).or_default();
            state = State::Multi(v.to_owned(), 0);
        } else {
            match &mut state {
                State::Single(k, consumed @ false) => {
                    out.values.entry(k.clone()).or_default().push(value.clone());
                    *consumed = true;
                }
                State::Multi(k, n) => {
                    out.values.entry(k.clone()).or_default().push(value.clone());
                    *n += 1;
                }
                _ => out.unparsed.push(value.clone()),
            }
        }
    }
    close(&state, &mut out);
    out
}

/// Splits a command line into arguments (POSIX shell quoting with `unix`, else the Windows rules
/// simplified: double quotes only).
fn split_command_line(text: &str, unix: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    out.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '"' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' if unix => {
                            if let Some(e) = chars.next() {
                                current.push(e);
                            }
                        }
                        d => current.push(d),
                    }
                }
            }
            '\'' if unix => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    current.push(d);
                }
            }
            '\\' if unix => {
                in_word = true;
                if let Some(e) = chars.next() {
                    current.push(e);
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        out.push(current);
    }
    out
}
