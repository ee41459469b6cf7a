//! Targets and properties: `add_library`, `add_executable`, `add_custom_target`,
//! `target_sources`, `set_property` / `get_property` and their older forms.
//!
//! Properties set by the evaluated code are kept and read back; targets it created answer the
//! built-in properties a plan can know (TYPE, NAME, SOURCES, SOURCE_DIR, IMPORTED, ...).
//! Anything else (a property of another component's target, a global property another file may
//! have set) cannot be known: it reads as not found, with a warning.

use std::path::Path;

use super::super::expand::join_list;
use super::super::interp::{Flow, Interp};
use super::super::paths;
use super::super::types::CmakeLibrary;

const LIBRARY_KINDS: &[&str] = &[
    "STATIC",
    "SHARED",
    "MODULE",
    "OBJECT",
    "INTERFACE",
    "UNKNOWN",
];

impl Interp<'_> {
    pub(crate) fn cmd_target_or_property(&mut self, name: &str, args: Vec<String>) -> Flow {
        let result = match name {
            "add_library" => self.add_library(args),
            "add_executable" => self.add_executable(args),
            "add_custom_target" => self.add_custom_target(args),
            "target_sources" => {
                if let Some(target) = args.first().cloned() {
                    let files: Vec<String> = args[1..]
                        .iter()
                        .filter(|a| !matches!(a.as_str(), "PUBLIC" | "PRIVATE" | "INTERFACE"))
                        .cloned()
                        .collect();
                    self.target_sources.entry(target).or_default().extend(files);
                }
                self.record("target_sources", args);
                Ok(())
            }
            "set_property" => self.set_property(args),
            "get_property" => self.get_property(args),
            "get_target_property" => self.get_target_property(args),
            "set_target_properties" => self.set_properties_form("TARGET", args),
            "set_source_files_properties" => self.set_properties_form("SOURCE", args),
            "set_directory_properties" => {
                let mut full = vec![String::new()];
                full.extend(args);
                self.set_properties_form("DIRECTORY", full)
            }
            "get_directory_property" => self.get_directory_property(args),
            "get_source_file_property" => self.get_source_file_property(args),
            _ => Ok(()),
        };
        match result {
            Ok(()) => Flow::Normal,
            Err(e) => {
                self.fail(format!("{name}(): {e}"));
                Flow::Stop
            }
        }
    }

    /// Registers a target created by the evaluated code, with its built-in properties.
    pub(crate) fn create_target(
        &mut self,
        name: &str,
        kind: &str,
        imported: bool,
    ) -> Result<(), String> {
        if !imported && !self.targets.insert(name.to_owned()) {
            return Err(format!(
                "cannot create target \"{name}\" because another target with the same name already exists"
            ));
        }
        self.targets.insert(name.to_owned());
        let source_dir = paths::to_cmake(&self.current_source_dir());
        let binary_dir = paths::to_cmake(&self.current_binary_dir());
        let props = self
            .properties
            .values
            .entry(("TARGET".into(), name.to_owned()))
            .or_default();
        props.insert("TYPE".into(), kind.to_owned());
        props.insert("NAME".into(), name.to_owned());
        props.insert("SOURCE_DIR".into(), source_dir);
        props.insert("BINARY_DIR".into(), binary_dir);
        props.insert(
            "IMPORTED".into(),
            if imported {
                "TRUE".into()
            } else {
                "FALSE".into()
            },
        );
        Ok(())
    }

    fn add_library(&mut self, args: Vec<String>) -> Result<(), String> {
        let Some(name) = args.first().cloned() else {
            return Err("called with incorrect number of arguments".into());
        };
        let mut kind = String::new();
        let mut imported = false;
        let mut alias_of = None;
        let mut sources = Vec::new();
        let mut i = 1;
        while i < args.len() {
            let a = args[i].as_str();
            match a {
                _ if LIBRARY_KINDS.contains(&a) && kind.is_empty() && sources.is_empty() => {
                    kind = a.to_owned()
                }
                "IMPORTED" => imported = true,
                "GLOBAL" | "EXCLUDE_FROM_ALL" if sources.is_empty() => {}
                "ALIAS" => {
                    alias_of = args.get(i + 1).cloned();
                    i += 1;
                }
                _ => sources.push(args[i].clone()),
            }
            i += 1;
        }
        let base = self.current_source_dir();
        let resolved: Vec<std::path::PathBuf> = sources
            .iter()
            .map(|s| {
                if s.contains("$<") {
                    s.into()
                } else {
                    paths::absolute(Path::new(s), &base)
                }
            })
            .collect();
        let type_name = match (&alias_of, kind.as_str()) {
            (Some(_), _) => "ALIAS".to_owned(),
            (None, "") => "STATIC_LIBRARY".to_owned(),
            (None, "UNKNOWN") => "UNKNOWN_LIBRARY".to_owned(),
            (None, k) => format!("{k}_LIBRARY"),
        };
        self.create_target(&name, &type_name, imported || alias_of.is_some())?;
        if let Some(target) = &alias_of {
            self.properties
                .values
                .entry(("TARGET".into(), name.clone()))
                .or_default()
                .insert("ALIASED_TARGET".into(), target.clone());
        }
        self.target_sources
            .entry(name.clone())
            .or_default()
            .extend(sources.iter().cloned());
        if let Some(component) = self.component_name()
            && (name == component || name == format!("__idf_{component}"))
        {
            self.out.cmake_library = true;
        }
        self.out.libraries.push(CmakeLibrary {
            name,
            kind,
            imported,
            alias_of,
            sources: resolved,
            file: self.file.to_path_buf(),
            line: self.line,
        });
        self.record("add_library", args);
        Ok(())
    }

    fn add_executable(&mut self, args: Vec<String>) -> Result<(), String> {
        let Some(name) = args.first().cloned() else {
            return Err("called with incorrect number of arguments".into());
        };
        let imported = args.iter().any(|a| a == "IMPORTED");
        let alias = args.iter().any(|a| a == "ALIAS");
        self.create_target(&name, "EXECUTABLE", imported || alias)?;
        let sources: Vec<String> = args[1..]
            .iter()
            .filter(|a| {
                !matches!(
                    a.as_str(),
                    "WIN32" | "MACOSX_BUNDLE" | "EXCLUDE_FROM_ALL" | "IMPORTED" | "GLOBAL"
                )
            })
            .cloned()
            .collect();
        self.target_sources.entry(name).or_default().extend(sources);
        self.record("add_executable", args);
        Ok(())
    }

    fn add_custom_target(&mut self, args: Vec<String>) -> Result<(), String> {
        let Some(name) = args.first().cloned() else {
            return Err("called with incorrect number of arguments".into());
        };
        self.create_target(&name, "UTILITY", false)?;
        self.record("add_custom_target", args);
        Ok(())
    }

    /// Parses `<scope> [objects...]` at the start of set_property/get_property arguments.
    fn property_objects(args: &[String]) -> (String, Vec<String>, usize) {
        let scope = args.first().cloned().unwrap_or_default();
        let mut objects = Vec::new();
        let mut i = 1;
        while i < args.len() && !matches!(args[i].as_str(), "PROPERTY" | "APPEND" | "APPEND_STRING")
        {
            if matches!(args[i].as_str(), "DIRECTORY" | "TARGET_DIRECTORY") && scope == "SOURCE" {
                i += 2;
                continue;
            }
            objects.push(args[i].clone());
            i += 1;
        }
        (scope, objects, i)
    }

    fn set_property(&mut self, args: Vec<String>) -> Result<(), String> {
        let (scope, objects, mut i) = Self::property_objects(&args);
        let mut append = false;
        let mut append_string = false;
        while i < args.len() && args[i] != "PROPERTY" {
            match args[i].as_str() {
                "APPEND" => append = true,
                "APPEND_STRING" => append_string = true,
                _ => {}
            }
            i += 1;
        }
        let Some(property) = args.get(i + 1).cloned() else {
            return Err("called without a PROPERTY name".into());
        };
        let value = join_list(&args[i + 2..]);
        let objects = match scope.as_str() {
            "GLOBAL" => vec![String::new()],
            "DIRECTORY" if objects.is_empty() => vec![paths::to_cmake(&self.current_source_dir())],
            "CACHE" => {
                if property == "VALUE" {
                    for entry in &objects {
                        self.cache.insert(entry.clone(), Some(value.clone()));
                    }
                }
                objects
            }
            _ => objects,
        };
        for object in objects {
            let props = self
                .properties
                .values
                .entry((scope.clone(), object))
                .or_default();
            let slot = props.entry(property.clone()).or_default();
            if append_string {
                slot.push_str(&value);
            } else if append && !slot.is_empty() {
                if !value.is_empty() {
                    slot.push(';');
                    slot.push_str(&value);
                }
            } else {
                *slot = value.clone();
            }
        }
        self.record("set_property", args);
        Ok(())
    }

    /// `set_target_properties(t... PROPERTIES k v ...)` and the like; `args[0]` is ignored for
    /// DIRECTORY (the current directory).
    fn set_properties_form(&mut self, scope: &str, args: Vec<String>) -> Result<(), String> {
        let Some(pos) = args.iter().position(|a| a == "PROPERTIES") else {
            return Err("called without PROPERTIES".into());
        };
        let objects: Vec<String> = if scope == "DIRECTORY" {
            vec![paths::to_cmake(&self.current_source_dir())]
        } else {
            let mut v = Vec::new();
            let mut i = 0;
            while i < pos {
                if matches!(args[i].as_str(), "DIRECTORY" | "TARGET_DIRECTORY") {
                    i += 2;
                    continue;
                }
                v.push(args[i].clone());
                i += 1;
            }
            v
        };
        let pairs = &args[pos + 1..];
        for object in objects {
            let props = self
                .properties
                .values
                .entry((scope.to_owned(), object))
                .or_default();
            for pair in pairs.chunks(2) {
                props.insert(pair[0].clone(), pair.get(1).cloned().unwrap_or_default());
            }
        }
        let name = match scope {
            "TARGET" => "set_target_properties",
            "SOURCE" => "set_source_files_properties",
            _ => "set_directory_properties",
        };
        let recorded: Vec<String> = if scope == "DIRECTORY" {
            args[1..].to_vec()
        } else {
            args
        };
        self.record(name, recorded);
        Ok(())
    }

    /// A property value this evaluation knows, or None.
    fn known_property(&mut self, scope: &str, object: &str, property: &str) -> Option<String> {
        if scope == "TARGET" {
            if property == "SOURCES" && self.targets.contains(object) {
                let mut sources = self.target_sources.get(object).cloned().unwrap_or_default();
                if let Some(registration) = self.out.registrations.last()
                    && Some(object)
                        == self
                            .component_name()
                            .map(|c| format!("__idf_{c}"))
                            .as_deref()
                {
                    let mut all: Vec<String> = registration
                        .sources
                        .iter()
                        .map(|p| paths::to_cmake(p))
                        .collect();
                    all.append(&mut sources);
                    sources = all;
                }
                return Some(join_list(&sources));
            }
            if property == "IMPORTED_LOCATION"
                && let Some(lib) = self
                    .out
                    .prebuilt_libraries
                    .iter()
                    .find(|l| l.target == object)
            {
                return Some(paths::to_cmake(&lib.path));
            }
        }
        self.properties
            .values
            .get(&(scope.to_owned(), object.to_owned()))
            .and_then(|p| p.get(property))
            .cloned()
    }

    fn get_property(&mut self, args: Vec<String>) -> Result<(), String> {
        let [var, rest @ ..] = args.as_slice() else {
            return Err("called with incorrect number of arguments".into());
        };
        let (scope, objects, i) = Self::property_objects(rest);
        if rest.get(i).map(String::as_str) != Some("PROPERTY") {
            return Err("called without PROPERTY".into());
        }
        let Some(property) = rest.get(i + 1).cloned() else {
            return Err("called without a property name".into());
        };
        let query = rest.get(i + 2).map(String::as_str).unwrap_or("");
        let object = match scope.as_str() {
            "GLOBAL" | "VARIABLE" => String::new(),
            "DIRECTORY" => objects
                .first()
                .cloned()
                .unwrap_or_else(|| paths::to_cmake(&self.current_source_dir())),
            _ => objects.first().cloned().unwrap_or_default(),
        };
        let value = match scope.as_str() {
            "VARIABLE" => self.var(&property),
            "CACHE" if property == "VALUE" => self.cache_var(&object),
            _ => self.known_property(&scope, &object, &property),
        };
        match query {
            "SET" => {
                let set = value.is_some();
                self.set_var(var, if set { "1" } else { "0" });
            }
            "DEFINED" => self.set_var(var, "0"),
            "BRIEF_DOCS" | "FULL_DOCS" => self.set_var(var, "NOTFOUND"),
            _ => match value {
                Some(v) => self.set_var(var, v),
                None => {
                    if !self.owns_object(&scope, &object) {
                        self.warn(format!(
                            "get_property({scope} {object} PROPERTY {property}) cannot be known to the plan; read as empty"
                        ));
                    }
                    self.unset_var(var);
                }
            },
        }
        Ok(())
    }

    /// Whether every property of the object would have been set by this evaluation.
    fn owns_object(&mut self, scope: &str, object: &str) -> bool {
        match scope {
            "TARGET" => self.targets.contains(object),
            "SOURCE" => true,
            "VARIABLE" | "CACHE" => true,
            "DIRECTORY" => {
                let own = paths::to_cmake(&self.current_source_dir());
                object == own || object.is_empty()
            }
            _ => false,
        }
    }

    fn get_target_property(&mut self, args: Vec<String>) -> Result<(), String> {
        let [var, target, property] = args.as_slice() else {
            return Err("called with incorrect number of arguments".into());
        };
        let value = self.known_property("TARGET", target, property);
        match value {
            Some(v) => self.set_var(var, v),
            None => {
                if !self.targets.contains(target.as_str()) {
                    self.warn(format!(
                        "get_target_property({target} {property}): the target is not created by this component; read as not found"
                    ));
                }
                self.set_var(var, format!("{var}-NOTFOUND"));
            }
        }
        Ok(())
    }

    fn get_directory_property(&mut self, args: Vec<String>) -> Result<(), String> {
        let Some(var) = args.first().cloned() else {
            return Err("called with incorrect number of arguments".into());
        };
        let mut rest = &args[1..];
        let mut directory = paths::to_cmake(&self.current_source_dir());
        if rest.first().map(String::as_str) == Some("DIRECTORY") {
            let base = self.current_source_dir();
            directory = paths::absolute_str(rest.get(1).map(String::as_str).unwrap_or(""), &base);
            rest = rest.get(2..).unwrap_or(&[]);
        }
        if rest.first().map(String::as_str) == Some("DEFINITION") {
            let name = rest.get(1).cloned().unwrap_or_default();
            let value = self.var_or_empty(&name);
            self.set_var(&var, value);
            return Ok(());
        }
        let Some(property) = rest.first().cloned() else {
            return Err("called without a property".into());
        };
        match self.known_property("DIRECTORY", &directory, &property) {
            Some(v) => self.set_var(&var, v),
            None => {
                self.warn(format!(
                    "get_directory_property({property}) cannot be known to the plan; read as empty"
                ));
                self.set_var(&var, "");
            }
        }
        Ok(())
    }

    fn get_source_file_property(&mut self, args: Vec<String>) -> Result<(), String> {
        let [var, file, .., property] = args.as_slice() else {
            return Err("called with incorrect number of arguments".into());
        };
        let value = self.known_property("SOURCE", file, property);
        self.set_var(var, value.unwrap_or_else(|| "NOTFOUND".into()));
        Ok(())
    }
}
