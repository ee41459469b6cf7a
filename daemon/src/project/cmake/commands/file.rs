//! `file()` (the read-only parts; writes are recorded, not performed), `get_filename_component()`
//! and `cmake_path()`.

use std::path::{Path, PathBuf};

use sha2::Digest;

use super::super::expand::{join_list, list_items_nonempty};
use super::super::fsops;
use super::super::interp::{Flow, Interp};
use super::super::paths::{self, CmakePath};
use super::atoi;

/// Sub-commands that write or have side effects: recorded, not performed.
const FILE_SIDE_EFFECTS: &[&str] = &[
    "WRITE",
    "APPEND",
    "TOUCH",
    "TOUCH_NOCREATE",
    "MAKE_DIRECTORY",
    "REMOVE",
    "REMOVE_RECURSE",
    "RENAME",
    "COPY",
    "COPY_FILE",
    "INSTALL",
    "GENERATE",
    "CONFIGURE",
    "CREATE_LINK",
    "CHMOD",
    "CHMOD_RECURSE",
    "ARCHIVE_CREATE",
    "ARCHIVE_EXTRACT",
];

impl Interp<'_> {
    pub(crate) fn cmd_file(&mut self, args: Vec<String>) -> Flow {
        let Some(sub) = args.first().cloned() else {
            self.fail("file() called with incorrect number of arguments");
            return Flow::Stop;
        };
        let result = match sub.as_str() {
            "READ" => self.file_read(&args[1..]),
            "STRINGS" => self.file_strings(&args[1..]),
            "GLOB" | "GLOB_RECURSE" => self.file_glob(&args[1..], sub == "GLOB_RECURSE"),
            "TO_CMAKE_PATH" | "TO_NATIVE_PATH" => match args.get(1..3) {
                Some([path, var]) => {
                    let value = if sub == "TO_CMAKE_PATH" {
                        let separator = if cfg!(windows) { ';' } else { ':' };
                        let items: Vec<String> = path
                            .split(separator)
                            .filter(|s| !s.is_empty())
                            .map(|s| s.replace('\\', "/"))
                            .collect();
                        join_list(&items)
                    } else if cfg!(windows) {
                        path.replace('/', "\\")
                    } else {
                        path.clone()
                    };
                    self.set_var(var, value);
                    Ok(())
                }
                _ => Err("called with incorrect number of arguments".into()),
            },
            "REAL_PATH" => {
                if args.len() < 3 {
                    Err("called with incorrect number of arguments".into())
                } else {
                    let base = match args.iter().position(|a| a == "BASE_DIRECTORY") {
                        Some(p) => PathBuf::from(args.get(p + 1).cloned().unwrap_or_default()),
                        None => self.current_source_dir(),
                    };
                    let path = paths::absolute(Path::new(&args[1]), &base);
                    let real = std::fs::canonicalize(&path).unwrap_or(path);
                    let var = args[2].clone();
                    self.set_var(&var, paths::to_cmake(&real));
                    Ok(())
                }
            }
            "RELATIVE_PATH" => match args.get(1..4) {
                Some([var, dir, file]) => {
                    let value = paths::relative_path(Path::new(file), Path::new(dir));
                    self.set_var(var, value);
                    Ok(())
                }
                _ => Err("called with incorrect number of arguments".into()),
            },
            "SIZE" | "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512" | "TIMESTAMP" => {
                self.file_about(&sub, &args[1..])
            }
            "LOCK" => {
                if let Some(p) = args.iter().position(|a| a == "RESULT_VARIABLE")
                    && let Some(var) = args.get(p + 1).cloned()
                {
                    self.set_var(&var, "0");
                }
                self.record("file", args.clone());
                Ok(())
            }
            _ if FILE_SIDE_EFFECTS.contains(&sub.as_str()) => {
                self.record("file", args.clone());
                Ok(())
            }
            _ => {
                self.warn(format!("file({sub}) is not evaluated"));
                self.record("file", args.clone());
                Ok(())
            }
        };
        match result {
            Ok(()) => Flow::Normal,
            Err(e) => {
                self.fail(format!("file({sub}): {e}"));
                Flow::Stop
            }
        }
    }

    fn input_path(&mut self, path: &str) -> PathBuf {
        let base = self.current_source_dir();
        paths::absolute(Path::new(path), &base)
    }

    fn file_read(&mut self, a: &[String]) -> Result<(), String> {
        let [file, var, options @ ..] = a else {
            return Err("called with incorrect number of arguments".into());
        };
        let path = self.input_path(file);
        let bytes = self
            .read_input_file(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut offset = 0usize;
        let mut limit = None;
        let mut hex = false;
        let mut i = 0;
        while i < options.len() {
            match options[i].as_str() {
                "OFFSET" => {
                    offset = options.get(i + 1).map_or(0, |v| atoi(v).max(0) as usize);
                    i += 1;
                }
                "LIMIT" => {
                    limit = options.get(i + 1).map(|v| atoi(v).max(0) as usize);
                    i += 1;
                }
                "HEX" => hex = true,
                _ => {}
            }
            i += 1;
        }
        let start = offset.min(bytes.len());
        let end = limit.map_or(bytes.len(), |l| (start + l).min(bytes.len()));
        let slice = &bytes[start..end];
        let value = if hex {
            slice.iter().map(|b| format!("{b:02x}")).collect()
        } else {
            String::from_utf8_lossy(slice).into_owned()
        };
        self.set_var(var, value);
        Ok(())
    }

    fn file_strings(&mut self, a: &[String]) -> Result<(), String> {
        let [file, var, options @ ..] = a else {
            return Err("called with incorrect number of arguments".into());
        };
        let path = self.input_path(file);
        let bytes = self
            .read_input_file(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut regex = None;
        let mut limit_count = usize::MAX;
        let mut min_len = 0usize;
        let mut max_len = usize::MAX;
        let mut i = 0;
        while i < options.len() {
            let value = options.get(i + 1);
            match options[i].as_str() {
                "REGEX" => {
                    regex = Some(
                        self.shared
                            .regexes
                            .get(value.map(String::as_str).unwrap_or(""))?,
                    );
                    i += 1;
                }
                "LIMIT_COUNT" => {
                    limit_count = value.map_or(usize::MAX, |v| atoi(v).max(0) as usize);
                    i += 1;
                }
                "LENGTH_MINIMUM" => {
                    min_len = value.map_or(0, |v| atoi(v).max(0) as usize);
                    i += 1;
                }
                "LENGTH_MAXIMUM" => {
                    max_len = value.map_or(usize::MAX, |v| atoi(v).max(0) as usize);
                    i += 1;
                }
                "LIMIT_INPUT" | "LIMIT_OUTPUT" | "ENCODING" => i += 1,
                _ => {}
            }
            i += 1;
        }
        let text = String::from_utf8_lossy(&bytes);
        let mut out = Vec::new();
        let segments: Vec<&str> = text.split('\n').collect();
        let last = segments.len() - 1;
        for (index, line) in segments.into_iter().enumerate() {
            if out.len() >= limit_count {
                break;
            }
            // Blank lines count, except the empty tail after the final newline.
            if index == last && line.is_empty() {
                break;
            }
            // Only printable text counts; control characters end a string.
            let line: String = line
                .trim_end_matches('\r')
                .chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect();
            if line.len() < min_len {
                continue;
            }
            let line = if line.len() > max_len {
                line[..max_len].to_owned()
            } else {
                line
            };
            if let Some(re) = &regex
                && !re.is_match(&line)
            {
                continue;
            }
            out.push(line.replace(';', "\\;"));
        }
        self.set_var(var, join_list(&out));
        Ok(())
    }

    fn file_glob(&mut self, a: &[String], recursive: bool) -> Result<(), String> {
        let Some(var) = a.first().cloned() else {
            return Err("called with incorrect number of arguments".into());
        };
        let mut list_directories = !recursive;
        let mut relative = None;
        let mut follow_symlinks = false;
        let mut patterns = Vec::new();
        let base = self.current_source_dir();
        let mut i = 1;
        while i < a.len() {
            match a[i].as_str() {
                "LIST_DIRECTORIES" => {
                    let value = a.get(i + 1).map(String::as_str).unwrap_or("");
                    list_directories = super::super::condition::is_on(value);
                    i += 1;
                }
                "RELATIVE" => {
                    relative = a.get(i + 1).cloned();
                    i += 1;
                }
                "FOLLOW_SYMLINKS" => follow_symlinks = true,
                "CONFIGURE_DEPENDS" => {}
                pattern => patterns.push(paths::absolute_str(pattern, &base)),
            }
            i += 1;
        }
        let matched = self.run_glob(patterns, recursive, list_directories, follow_symlinks);
        let values: Vec<String> = matched
            .iter()
            .map(|p| match &relative {
                Some(r) => paths::relative_path(p, Path::new(r)),
                None => paths::to_cmake(p),
            })
            .collect();
        self.set_var(&var, join_list(&values));
        Ok(())
    }

    fn file_about(&mut self, sub: &str, a: &[String]) -> Result<(), String> {
        let [file, var, rest @ ..] = a else {
            return Err("called with incorrect number of arguments".into());
        };
        let path = self.input_path(file);
        if sub == "TIMESTAMP" {
            self.warn("file(TIMESTAMP) is not evaluated; its result is left empty");
            self.set_var(var, "");
            let _ = rest;
            return Ok(());
        }
        let bytes = self
            .read_input_file(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let value = match sub {
            "SIZE" => bytes.len().to_string(),
            "SHA224" => hex::encode(sha2::Sha224::digest(&bytes)),
            "SHA256" => hex::encode(sha2::Sha256::digest(&bytes)),
            "SHA384" => hex::encode(sha2::Sha384::digest(&bytes)),
            "SHA512" => hex::encode(sha2::Sha512::digest(&bytes)),
            _ => {
                self.warn(format!(
                    "file({sub}) is not evaluated; its result is left empty"
                ));
                String::new()
            }
        };
        self.set_var(var, value);
        Ok(())
    }

    pub(crate) fn cmd_get_filename_component(&mut self, args: Vec<String>) -> Flow {
        if args.len() < 3 {
            self.fail("get_filename_component() called with incorrect number of arguments");
            return Flow::Stop;
        }
        let var = args[0].clone();
        let file = args[1].as_str();
        let mode = args[2].as_str();
        let cache = args[3..].iter().any(|a| a == "CACHE");
        let value = match mode {
            "DIRECTORY" | "PATH" => paths::filename_dir(file),
            "NAME" => paths::filename_name(file).to_owned(),
            "EXT" => paths::filename_ext(file, false).to_owned(),
            "LAST_EXT" => paths::filename_ext(file, true).to_owned(),
            "NAME_WE" => paths::filename_stem(file, false).to_owned(),
            "NAME_WLE" => paths::filename_stem(file, true).to_owned(),
            "ABSOLUTE" | "REALPATH" => {
                let base = match args.iter().position(|a| a == "BASE_DIR") {
                    Some(p) => PathBuf::from(args.get(p + 1).cloned().unwrap_or_default()),
                    None => self.current_source_dir(),
                };
                let absolute = paths::absolute(Path::new(file), &base);
                if mode == "REALPATH" {
                    paths::to_cmake(&std::fs::canonicalize(&absolute).unwrap_or(absolute))
                } else {
                    paths::to_cmake(&absolute)
                }
            }
            "PROGRAM" => {
                self.warn(
                    "get_filename_component(PROGRAM) is not evaluated; the result is the input",
                );
                file.to_owned()
            }
            other => {
                self.fail(format!(
                    "get_filename_component() given unknown component {other}"
                ));
                return Flow::Stop;
            }
        };
        if cache {
            if self.cache_var(&var).is_none() {
                self.cache.insert(var.clone(), Some(value.clone()));
            }
            if let Some(v) = self.cache_var(&var) {
                self.set_var(&var, v);
            }
        } else {
            self.set_var(&var, value);
        }
        Flow::Normal
    }

    pub(crate) fn cmd_cmake_path(&mut self, args: Vec<String>) -> Flow {
        match self.cmake_path(&args) {
            Ok(()) => Flow::Normal,
            Err(e) => {
                let sub = args.first().cloned().unwrap_or_default();
                self.fail(format!("cmake_path({sub}): {e}"));
                Flow::Stop
            }
        }
    }

    fn cmake_path(&mut self, args: &[String]) -> Result<(), String> {
        let wrong = || "called with incorrect number of arguments".to_string();
        let sub = args.first().ok_or_else(wrong)?.as_str();
        let rest = &args[1..];
        // Sub-commands that do not read a path variable.
        match sub {
            "COMPARE" => {
                let [a, op, b, out] = rest else {
                    return Err(wrong());
                };
                let equal = paths::normal_path(a) == paths::normal_path(b) || a == b;
                let result = match op.as_str() {
                    "EQUAL" => equal,
                    "NOT_EQUAL" => !equal,
                    other => return Err(format!("unknown operator {other}")),
                };
                self.set_var(out, if result { "ON" } else { "OFF" });
                return Ok(());
            }
            "CONVERT" => {
                let [input, mode, out, ..] = rest else {
                    return Err(wrong());
                };
                let normalize = rest.iter().any(|a| a == "NORMALIZE");
                let items: Vec<String> = match mode.as_str() {
                    "TO_CMAKE_PATH_LIST" => {
                        let separator = if cfg!(windows) { ';' } else { ':' };
                        input
                            .split(separator)
                            .filter(|s| !s.is_empty())
                            .map(|s| s.replace('\\', "/"))
                            .collect()
                    }
                    "TO_NATIVE_PATH_LIST" => list_items_nonempty(input),
                    other => return Err(format!("unknown conversion {other}")),
                };
                let items: Vec<String> = items
                    .into_iter()
                    .map(|i| if normalize { paths::normal_path(&i) } else { i })
                    .collect();
                let value = if mode == "TO_NATIVE_PATH_LIST" && !cfg!(windows) {
                    items.join(":")
                } else {
                    join_list(&items)
                };
                self.set_var(out, value);
                return Ok(());
            }
            "SET" => {
                let (normalize, input) = match rest {
                    [var, n, input] if n == "NORMALIZE" => (true, (var, input)),
                    [var, input] => (false, (var, input)),
                    _ => return Err(wrong()),
                };
                let value = input.1.replace('\\', "/");
                let value = if normalize {
                    paths::normal_path(&value)
                } else {
                    value
                };
                self.set_var(input.0, value);
                return Ok(());
            }
            _ => {}
        }
        let var = rest.first().ok_or_else(wrong)?.clone();
        let path = self.var_or_empty(&var);
        let options = &rest[1..];
        let output_var = options
            .iter()
            .position(|a| a == "OUTPUT_VARIABLE")
            .and_then(|p| options.get(p + 1))
            .cloned();
        let has = |flag: &str| options.iter().any(|a| a == flag);
        let plain: Vec<&String> = {
            let mut v = Vec::new();
            let mut i = 0;
            while i < options.len() {
                match options[i].as_str() {
                    "OUTPUT_VARIABLE" | "BASE_DIRECTORY" => i += 1,
                    "LAST_ONLY" | "NORMALIZE" => {}
                    _ => v.push(&options[i]),
                }
                i += 1;
            }
            v
        };
        let p = CmakePath::new(&path);
        let set_result = |this: &mut Self, value: String| {
            let target = output_var.clone().unwrap_or_else(|| var.clone());
            this.set_var(&target, value);
        };
        match sub {
            "GET" => {
                let [component, .., out] = options else {
                    return Err(wrong());
                };
                let last_only = has("LAST_ONLY");
                let value = match component.as_str() {
                    "ROOT_NAME" => String::new(),
                    "ROOT_DIRECTORY" | "ROOT_PATH" => p.root.to_owned(),
                    "FILENAME" => p.filename().to_owned(),
                    "EXTENSION" => p.extension(last_only).to_owned(),
                    "STEM" => p.stem(last_only).to_owned(),
                    "RELATIVE_PART" => p.relative.to_owned(),
                    "PARENT_PATH" => p.parent(&path).to_owned(),
                    other => return Err(format!("unknown component {other}")),
                };
                self.set_var(out, value);
            }
            _ if sub.starts_with("HAS_") => {
                let out = options.last().ok_or_else(wrong)?;
                let value = match &sub[4..] {
                    "ROOT_NAME" => false,
                    "ROOT_DIRECTORY" | "ROOT_PATH" => !p.root.is_empty(),
                    "FILENAME" => !p.filename().is_empty(),
                    "EXTENSION" => !p.extension(false).is_empty(),
                    "STEM" => !p.stem(false).is_empty(),
                    "RELATIVE_PART" => !p.relative.is_empty(),
                    "PARENT_PATH" => !p.parent(&path).is_empty(),
                    other => return Err(format!("unknown component {other}")),
                };
                self.set_var(out, if value { "ON" } else { "OFF" });
            }
            "IS_ABSOLUTE" | "IS_RELATIVE" => {
                let out = options.last().ok_or_else(wrong)?;
                let absolute = !p.root.is_empty();
                let value = if sub == "IS_ABSOLUTE" {
                    absolute
                } else {
                    !absolute
                };
                self.set_var(out, if value { "ON" } else { "OFF" });
            }
            "IS_PREFIX" => {
                let [input, .., out] = options else {
                    return Err(wrong());
                };
                let (prefix, other) = if has("NORMALIZE") {
                    (paths::normal_path(&path), paths::normal_path(input))
                } else {
                    (path.clone(), input.clone())
                };
                let prefix_parts: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
                let other_parts: Vec<&str> = other.split('/').filter(|s| !s.is_empty()).collect();
                let value = prefix.starts_with('/') == other.starts_with('/')
                    && other_parts.len() >= prefix_parts.len()
                    && prefix_parts.iter().zip(&other_parts).all(|(a, b)| a == b);
                self.set_var(out, if value { "ON" } else { "OFF" });
            }
            "APPEND" | "APPEND_STRING" => {
                let mut value = path.clone();
                for input in plain {
                    if sub == "APPEND_STRING" {
                        value.push_str(input);
                    } else if input.starts_with('/') || value.is_empty() {
                        value = input.clone();
                    } else {
                        if !value.ends_with('/') {
                            value.push('/');
                        }
                        value.push_str(input);
                    }
                }
                set_result(self, value);
            }
            "REMOVE_FILENAME" => {
                let name = p.filename();
                set_result(self, path[..path.len() - name.len()].to_owned());
            }
            "REPLACE_FILENAME" => {
                let input = plain.first().ok_or_else(wrong)?;
                let name = p.filename();
                let value = if name.is_empty() {
                    path.clone()
                } else {
                    format!("{}{input}", &path[..path.len() - name.len()])
                };
                set_result(self, value);
            }
            "REMOVE_EXTENSION" => {
                let ext = p.extension(has("LAST_ONLY"));
                set_result(self, path[..path.len() - ext.len()].to_owned());
            }
            "REPLACE_EXTENSION" => {
                let input = plain.first().map(|s| s.as_str()).unwrap_or("");
                let ext = p.extension(has("LAST_ONLY"));
                let mut value = path[..path.len() - ext.len()].to_owned();
                if !input.is_empty() && !input.starts_with('.') {
                    value.push('.');
                }
                value.push_str(input);
                set_result(self, value);
            }
            "NORMAL_PATH" => set_result(self, paths::normal_path(&path)),
            "RELATIVE_PATH" | "ABSOLUTE_PATH" => {
                let base = match options.iter().position(|a| a == "BASE_DIRECTORY") {
                    Some(i) => options.get(i + 1).cloned().unwrap_or_default(),
                    None => paths::to_cmake(&self.current_source_dir()),
                };
                let value = if sub == "RELATIVE_PATH" {
                    paths::relative_path(Path::new(&path), Path::new(&base))
                } else if path.starts_with('/') {
                    path.clone()
                } else {
                    let joined = if base.ends_with('/') {
                        format!("{base}{path}")
                    } else {
                        format!("{base}/{path}")
                    };
                    if has("NORMALIZE") {
                        paths::normal_path(&joined)
                    } else {
                        joined
                    }
                };
                set_result(self, value);
            }
            "NATIVE_PATH" => {
                let out = options.last().ok_or_else(wrong)?;
                let value = if has("NORMALIZE") {
                    paths::normal_path(&path)
                } else {
                    path.clone()
                };
                self.set_var(out, value);
            }
            "HASH" => {
                let out = options.last().ok_or_else(wrong)?;
                self.set_var(
                    out,
                    format!(
                        "{:x}",
                        fsops::hash_bytes(paths::normal_path(&path).as_bytes())
                    ),
                );
            }
            other => return Err(format!("unknown sub-command {other}")),
        }
        Ok(())
    }
}
