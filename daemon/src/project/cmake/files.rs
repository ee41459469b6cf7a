//! Other files: `include()`, `add_subdirectory()`, and the command definitions of
//! `project_include.cmake`-like files.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use super::expand;
use super::interp::{Flow, Interp, MAX_DEPTH, UserCommand, UserKind};
use super::paths;
use super::scope::FrameKind;
use super::syntax::Node;
use super::types::{ExistsKind, Subdirectory};

impl Interp<'_> {
    /// `include()`.
    pub(crate) fn include(&mut self, args: Vec<String>) -> Flow {
        let Some(target) = args.first().cloned() else {
            self.fail("include() called with wrong number of arguments");
            return Flow::Stop;
        };
        let mut optional = false;
        let mut result_var = None;
        let mut i = 1;
        while i < args.len() {
            match args[i].as_str() {
                "OPTIONAL" => optional = true,
                "RESULT_VARIABLE" => {
                    result_var = args.get(i + 1).cloned();
                    i += 1;
                }
                "NO_POLICY_SCOPE" => {}
                other => {
                    self.fail(format!("include() given unknown argument `{other}`"));
                    return Flow::Stop;
                }
            }
            i += 1;
        }
        let normalized = target.replace('\\', "/");
        if normalized.ends_with("tools/cmake/project.cmake")
            || normalized.ends_with("tools/cmake/idf.cmake")
        {
            // ESP-IDF's own build system: the planner models it, it is not evaluated.
            if normalized.ends_with("project.cmake") {
                self.out.includes_idf_project_cmake = true;
            }
            self.record("include", args);
            if let Some(var) = result_var {
                self.set_var(&var, target);
            }
            return Flow::Normal;
        }
        let Some(path) = self.resolve_include(&target) else {
            if optional {
                if let Some(var) = result_var {
                    self.set_var(&var, "NOTFOUND");
                }
            } else {
                self.warn(format!(
                    "CMake module `{target}` is not evaluated (not found in CMAKE_MODULE_PATH)"
                ));
                if let Some(var) = result_var {
                    self.set_var(&var, "NOTFOUND");
                }
            }
            return Flow::Normal;
        };
        if !self.note_exists(&path, ExistsKind::Exists) || path.is_dir() {
            if optional {
                if let Some(var) = result_var {
                    self.set_var(&var, "NOTFOUND");
                }
                return Flow::Normal;
            }
            self.fail(format!("include could not find requested file: {target}"));
            return Flow::Stop;
        }
        if let Some(var) = result_var {
            self.set_var(&var, paths::to_cmake(&path));
        }
        self.run_included(&path)
    }

    /// Where `include(target)` reads from, as CMake resolves it: a relative name is first looked
    /// up as `<name>.cmake` in `CMAKE_MODULE_PATH`, then taken as a path relative to
    /// `CMAKE_CURRENT_SOURCE_DIR`. None: a bare module name found nowhere (one of CMake's own
    /// modules, not evaluated).
    fn resolve_include(&mut self, target: &str) -> Option<PathBuf> {
        if paths::is_full_path(target) {
            return Some(paths::absolute(Path::new(target), Path::new("/")));
        }
        let module_path = self.var_or_empty("CMAKE_MODULE_PATH");
        for dir in expand::list_items_nonempty(&module_path) {
            let candidate = paths::absolute(Path::new(&format!("{target}.cmake")), Path::new(&dir));
            if self.note_exists(&candidate, ExistsKind::Exists) {
                return Some(candidate);
            }
        }
        let base = self.current_source_dir();
        let path = paths::absolute(Path::new(target), &base);
        let bare_module =
            !target.contains('/') && !target.contains('\\') && !target.ends_with(".cmake");
        if bare_module && !self.note_exists(&path, ExistsKind::Exists) {
            return None;
        }
        Some(path)
    }

    /// Runs an included file in the current scope.
    pub(crate) fn run_included(&mut self, path: &Path) -> Flow {
        if self.depth >= MAX_DEPTH {
            self.fail(format!(
                "maximum nesting depth {MAX_DEPTH} exceeded including {}",
                path.display()
            ));
            return Flow::Stop;
        }
        let nodes = match self.load(path) {
            Ok(nodes) => nodes,
            Err(e) => {
                let line = self.line;
                let saved = std::mem::replace(&mut self.file, Arc::from(path));
                self.fail(e);
                self.file = saved;
                self.line = line;
                return Flow::Stop;
            }
        };
        self.depth += 1;
        let old_file = self.var("CMAKE_CURRENT_LIST_FILE");
        let old_dir = self.var("CMAKE_CURRENT_LIST_DIR");
        let old_parent = self.var("CMAKE_PARENT_LIST_FILE");
        if let Some(f) = &old_file {
            self.set_var("CMAKE_PARENT_LIST_FILE", f.clone());
        }
        self.set_var("CMAKE_CURRENT_LIST_FILE", paths::to_cmake(path));
        self.set_var(
            "CMAKE_CURRENT_LIST_DIR",
            path.parent().map(paths::to_cmake).unwrap_or_default(),
        );
        let saved_file = std::mem::replace(&mut self.file, Arc::from(path));
        let saved_line = self.line;
        let flow = self.run_block(&nodes);
        self.file = saved_file;
        self.line = saved_line;
        for (name, old) in [
            ("CMAKE_CURRENT_LIST_FILE", old_file),
            ("CMAKE_CURRENT_LIST_DIR", old_dir),
            ("CMAKE_PARENT_LIST_FILE", old_parent),
        ] {
            match old {
                Some(v) => self.set_var(name, v),
                None => self.unset_var(name),
            }
        }
        self.depth -= 1;
        match flow {
            // return() in an included file returns to the includer.
            Flow::Return(_) | Flow::Normal => Flow::Normal,
            Flow::Break | Flow::Continue => {
                self.warn("`break()` or `continue()` outside of a loop");
                Flow::Normal
            }
            Flow::Stop => Flow::Stop,
        }
    }

    /// `add_subdirectory()`: the subdirectory's CMakeLists.txt in a new directory scope.
    pub(crate) fn add_subdirectory(&mut self, args: Vec<String>) -> Flow {
        let Some(source) = args.first().cloned() else {
            self.fail("add_subdirectory() called with incorrect number of arguments");
            return Flow::Stop;
        };
        let current_source = self.current_source_dir();
        let current_binary = self.current_binary_dir();
        let source_dir = paths::absolute(Path::new(&source), &current_source);
        let list_file = source_dir.join("CMakeLists.txt");
        if !self.note_exists(&list_file, ExistsKind::Exists) {
            self.fail(format!(
                "add_subdirectory() given source \"{source}\" which is not an existing directory with a CMakeLists.txt"
            ));
            return Flow::Stop;
        }
        let binary_arg = args[1..]
            .iter()
            .find(|a| !matches!(a.as_str(), "EXCLUDE_FROM_ALL" | "SYSTEM"));
        let binary_dir = match binary_arg {
            Some(b) => paths::absolute(Path::new(b), &current_binary),
            None => match source_dir.strip_prefix(&current_source) {
                Ok(rel) => current_binary.join(rel),
                Err(_) => current_binary.join(source_dir.file_name().unwrap_or_default()),
            },
        };
        if self.depth >= MAX_DEPTH {
            self.fail(format!(
                "maximum nesting depth {MAX_DEPTH} exceeded adding {}",
                source_dir.display()
            ));
            return Flow::Stop;
        }
        let nodes = match self.load(&list_file) {
            Ok(nodes) => nodes,
            Err(e) => {
                self.file = Arc::from(list_file.as_path());
                self.fail(e);
                return Flow::Stop;
            }
        };
        self.out.subdirectories.push(Subdirectory {
            source_dir: source_dir.clone(),
            file: self.file.to_path_buf(),
            line: self.line,
        });
        self.depth += 1;
        self.scopes.push(FrameKind::Directory);
        self.set_var("CMAKE_CURRENT_SOURCE_DIR", paths::to_cmake(&source_dir));
        self.set_var("CMAKE_CURRENT_BINARY_DIR", paths::to_cmake(&binary_dir));
        self.set_var("CMAKE_CURRENT_LIST_DIR", paths::to_cmake(&source_dir));
        self.set_var("CMAKE_CURRENT_LIST_FILE", paths::to_cmake(&list_file));
        let saved_file = std::mem::replace(&mut self.file, Arc::from(list_file.as_path()));
        let saved_line = self.line;
        let flow = self.run_block(&nodes);
        if let Flow::Return(vars) = &flow {
            for name in vars.clone() {
                let value = self.var(&name);
                self.set_parent(&name, value);
            }
        }
        self.file = saved_file;
        self.line = saved_line;
        self.scopes.pop();
        self.depth -= 1;
        if flow == Flow::Stop {
            Flow::Stop
        } else {
            Flow::Normal
        }
    }

    /// Takes the top-level function and macro definitions of `path` without running anything.
    pub(crate) fn harvest_definitions(&mut self, path: &Path) {
        let failure = match self.read_parsed(path) {
            Ok((input, parsed)) => match &*parsed {
                Ok(nodes) => {
                    self.fallback_files.push(input);
                    Ok(nodes.clone())
                }
                Err(e) => {
                    self.record_file(input);
                    Err(format!("syntax error at line {}: {}", e.line, e.message))
                }
            },
            Err(e) => {
                self.note_exists(path, ExistsKind::Exists);
                Err(format!("cannot read {}: {e}", path.display()))
            }
        };
        let nodes = match failure {
            Ok(nodes) => nodes,
            Err(e) => {
                let saved = std::mem::replace(&mut self.file, Arc::from(path));
                let line = std::mem::replace(&mut self.line, 1);
                self.warn(format!("command definitions not read: {e}"));
                self.file = saved;
                self.line = line;
                return;
            }
        };
        let file: Arc<Path> = Arc::from(path);
        for node in nodes.iter() {
            let (head, body, kind) = match node {
                Node::Function { head, body } => (head, body, UserKind::Function),
                Node::Macro { head, body } => (head, body, UserKind::Macro),
                _ => continue,
            };
            // Definitions are taken literally: a name made of variables cannot be known here.
            let Some(name) = head.args.first().filter(|a| a.is_literal()) else {
                continue;
            };
            let command = UserCommand {
                name: name.text.to_ascii_lowercase(),
                kind,
                params: head.args[1..].iter().map(|a| a.text.clone()).collect(),
                body: body.clone(),
                file: file.clone(),
                line: head.line,
            };
            self.fallback_commands
                .insert(command.name.clone(), Rc::new(command));
        }
    }
}
