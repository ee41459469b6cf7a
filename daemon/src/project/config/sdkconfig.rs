//! Readers for the files that hold configuration values: `sdkconfig`, defaults files (same syntax),
//! kconfgen's `build/config/sdkconfig.json`, and `sdkconfig.rename`.
//!
//! The line rules are kconfgen's: `CONFIG_X=value` (the line is matched from its first character,
//! trailing whitespace ignored), `# CONFIG_X is not set`, other `#` lines are comments, a `# default:`
//! line marks the next assignment as a value kconfgen filled in from Kconfig, and the block between
//! `# Deprecated options for backward compatibility` and `# End of deprecated options` holds the old
//! names of renamed options. Quoted strings take `\x` escapes; an unquoted value loses a trailing
//! ` # comment`. In a defaults file, lines are trimmed first and an empty assignment `CONFIG_X=` means
//! `n`, as kconfgen's `--defaults` loader does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ConfigError, ConfigValue, ConfigWarning, SymbolType, pyfmt};

/// The comment kconfgen writes before a value that it took from Kconfig rather than from the user.
pub const DEFAULT_PRAGMA: &str = "# default:";
/// First line of the deprecated-names block of a generated sdkconfig.
pub const DEPRECATED_BEGIN: &str = "# Deprecated options for backward compatibility";
/// Last line of that block.
pub const DEPRECATED_END: &str = "# End of deprecated options";

/// One assignment in an sdkconfig-format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The symbol, without `CONFIG_`.
    pub name: String,
    pub value: RawValue,
    /// 1-based line.
    pub line: u32,
    /// Preceded by `# default:`: kconfgen filled the value in from a Kconfig default.
    pub marked_default: bool,
}

/// A value as written, before the symbol's type is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// `# CONFIG_X is not set`.
    NotSet,
    /// `CONFIG_X="..."`: the unescaped contents.
    Quoted(String),
    /// `CONFIG_X=...` unquoted (trailing comment removed): `y`, `n`, a number, ...
    Bare(String),
    /// A value given outside a file (a build's sdkconfig overrides): read as the symbol's type needs,
    /// so a string needs no quotes.
    Loose(String),
}

impl RawValue {
    /// The value for a symbol of type `ty`, following kconfgen: a bool needs a value starting with
    /// `y` or `n` (only the first character counts), a string needs quotes, an int or hex must parse in
    /// its base. `Err` holds why the value does not fit.
    pub fn typed(&self, ty: SymbolType) -> Result<ConfigValue, String> {
        match (self, ty) {
            (RawValue::NotSet, SymbolType::Bool) => Ok(ConfigValue::Bool(false)),
            (RawValue::NotSet, _) => Err(format!("`is not set` has no meaning for a {ty} symbol")),
            (RawValue::Bare(v), SymbolType::Bool) => match v.as_bytes().first() {
                Some(b'y') => Ok(ConfigValue::Bool(true)),
                Some(b'n') => Ok(ConfigValue::Bool(false)),
                _ => Err(format!("'{v}' is not a valid bool value (y or n)")),
            },
            (RawValue::Quoted(_), SymbolType::Bool) => {
                Err("a bool symbol takes y or n, not a string".into())
            }
            (RawValue::Quoted(s), SymbolType::String) => Ok(ConfigValue::String(s.clone())),
            (RawValue::Bare(v), SymbolType::String) => Err(format!(
                "malformed string literal '{v}' (strings must be in double quotes)"
            )),
            (RawValue::Bare(v), other) => ConfigValue::from_kconfig_text(other, v)
                .ok_or_else(|| format!("'{v}' is not a valid {other} value")),
            (RawValue::Quoted(s), other) => {
                Err(format!("\"{s}\" is a string, but the symbol is {other}"))
            }
            (RawValue::Loose(v), SymbolType::String) => Ok(ConfigValue::String(v.clone())),
            (RawValue::Loose(v), other) => RawValue::Bare(v.clone()).typed(other),
        }
    }

    /// The text kconfiglib stores as the user value: `y`/`n` for bools, the unescaped string, the
    /// number exactly as written.
    pub fn kconfig_text(&self, ty: SymbolType) -> Option<String> {
        match (self, ty) {
            (RawValue::NotSet, SymbolType::Bool) => Some("n".into()),
            (RawValue::Bare(v), SymbolType::Bool) => match v.as_bytes().first() {
                Some(b'y') => Some("y".into()),
                Some(b'n') => Some("n".into()),
                _ => None,
            },
            (RawValue::Quoted(s), SymbolType::String) => Some(s.clone()),
            (RawValue::Bare(v), SymbolType::Int) => pyfmt::is_base_n(v, 10).then(|| v.clone()),
            (RawValue::Bare(v), SymbolType::Hex) => {
                (pyfmt::py_int(v, 16).is_some_and(|n| n >= 0)).then(|| v.clone())
            }
            (RawValue::Bare(v), SymbolType::Float) => pyfmt::py_float(v)
                .filter(|f| f.is_finite())
                .map(pyfmt::float_repr),
            (RawValue::Loose(v), SymbolType::String) => Some(v.clone()),
            (RawValue::Loose(v), other) => RawValue::Bare(v.clone()).kconfig_text(other),
            _ => None,
        }
    }

    /// The value when no Kconfig says what the type is: `y`/`n`/not set are bools, quoted text a
    /// string, `0x...` hex, a decimal integer an int, anything else a float or the bare text.
    pub fn guess(&self) -> ConfigValue {
        match self {
            RawValue::NotSet => ConfigValue::Bool(false),
            RawValue::Quoted(s) => ConfigValue::String(s.clone()),
            RawValue::Bare(v) | RawValue::Loose(v) if v == "y" => ConfigValue::Bool(true),
            RawValue::Bare(v) | RawValue::Loose(v) if v == "n" => ConfigValue::Bool(false),
            RawValue::Bare(v) | RawValue::Loose(v) => {
                let hexlike = v.starts_with("0x") || v.starts_with("0X");
                if hexlike
                    && let Some(ConfigValue::Hex(h)) =
                        ConfigValue::from_kconfig_text(SymbolType::Hex, v)
                {
                    return ConfigValue::Hex(h);
                }
                if let Some(i) = pyfmt::py_int(v, 10).and_then(|i| i64::try_from(i).ok()) {
                    return ConfigValue::Int(i);
                }
                if let Some(f) = pyfmt::py_float(v).filter(|f| f.is_finite()) {
                    return ConfigValue::Float(f);
                }
                ConfigValue::String(v.clone())
            }
        }
    }
}

/// A parsed sdkconfig-format file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdkconfigFile {
    pub path: PathBuf,
    /// Assignments in file order (a name may appear more than once; the last one wins).
    pub assignments: Vec<Assignment>,
    /// Assignments inside the deprecated-names block: old names kept for compatibility.
    pub deprecated: Vec<Assignment>,
}

impl SdkconfigFile {
    /// The last assignment to `name` outside the deprecated block.
    pub fn get(&self, name: &str) -> Option<&Assignment> {
        let name = super::bare_name(name);
        self.assignments.iter().rev().find(|a| a.name == name)
    }
}

/// Which loader rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The project's `sdkconfig` (kconfgen `--config`).
    Sdkconfig,
    /// A defaults file (kconfgen `--defaults`): lines are trimmed, `CONFIG_X=` means `n`.
    Defaults,
}

/// Parses sdkconfig-format text. Never fails: a malformed line is a warning.
pub fn parse(path: &Path, text: &str, kind: FileKind) -> (SdkconfigFile, Vec<ConfigWarning>) {
    let mut file = SdkconfigFile {
        path: path.to_path_buf(),
        ..Default::default()
    };
    let mut warnings = Vec::new();
    let mut marked_default = false;
    let mut in_deprecated = false;
    for (idx, raw_line) in text.lines().enumerate() {
        let line_no = idx as u32 + 1;
        let line = match kind {
            FileKind::Sdkconfig => raw_line.trim_end(),
            FileKind::Defaults => raw_line.trim(),
        };
        let stripped = line.trim();
        if stripped == DEFAULT_PRAGMA {
            marked_default = true;
            continue;
        }
        if stripped == DEPRECATED_BEGIN {
            in_deprecated = true;
            marked_default = false;
            continue;
        }
        if stripped == DEPRECATED_END {
            in_deprecated = false;
            marked_default = false;
            continue;
        }
        let parsed = if let Some(rest) = line.strip_prefix("CONFIG_") {
            parse_set(rest, kind, path, line_no, &mut warnings)
        } else if let Some(name) = parse_unset(line) {
            Some((name.to_string(), RawValue::NotSet))
        } else {
            if !line.is_empty() && !line.trim_start().starts_with('#') {
                warnings.push(ConfigWarning::new(
                    path,
                    line_no,
                    format!("ignoring malformed line '{line}' (expected CONFIG_NAME=value or a # comment)"),
                ));
            }
            continue;
        };
        let Some((name, value)) = parsed else {
            marked_default = false;
            continue;
        };
        let assignment = Assignment {
            name,
            value,
            line: line_no,
            marked_default: marked_default && !in_deprecated,
        };
        marked_default = false;
        if in_deprecated {
            file.deprecated.push(assignment);
        } else {
            file.assignments.push(assignment);
        }
    }
    (file, warnings)
}

/// `rest` is the line after `CONFIG_`. kconfiglib's pattern is `CONFIG_([^=]+)=(.*)`.
fn parse_set(
    rest: &str,
    kind: FileKind,
    path: &Path,
    line_no: u32,
    warnings: &mut Vec<ConfigWarning>,
) -> Option<(String, RawValue)> {
    let Some((name, value)) = rest.split_once('=') else {
        warnings.push(ConfigWarning::new(
            path,
            line_no,
            format!("ignoring malformed line 'CONFIG_{rest}' (no '=')"),
        ));
        return None;
    };
    if name.is_empty() {
        warnings.push(ConfigWarning::new(
            path,
            line_no,
            "ignoring assignment with an empty name",
        ));
        return None;
    }
    let name = name.to_string();
    if kind == FileKind::Defaults && value.is_empty() {
        return Some((name, RawValue::Bare("n".into())));
    }
    if value.starts_with('"') {
        match unquote(value) {
            Some(s) => Some((name, RawValue::Quoted(s))),
            None => {
                warnings.push(ConfigWarning::new(
                    path,
                    line_no,
                    format!("malformed string literal in assignment to CONFIG_{name}; assignment ignored"),
                ));
                None
            }
        }
    } else {
        Some((
            name,
            RawValue::Bare(strip_inline_comment(value).to_string()),
        ))
    }
}

/// `# CONFIG_X is not set` (matched from the start of the line, name up to the first space).
fn parse_unset(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("# CONFIG_")?;
    let space = rest.find(' ')?;
    let (name, tail) = rest.split_at(space);
    if name.is_empty() || !tail.starts_with(" is not set") {
        return None;
    }
    Some(name)
}

/// The contents of a leading `"..."` with `\x` escapes resolved; text after the closing quote is
/// ignored, as kconfiglib's prefix match does.
fn unquote(value: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = value[1..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            other => out.push(other),
        }
    }
    None
}

/// Removes a trailing ` # comment` from an unquoted value (any whitespace before `#`).
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if bytes[i] == b'#' && bytes[i - 1].is_ascii_whitespace() {
            return value[..i].trim_end();
        }
    }
    value.trim_end()
}

/// A build's sdkconfig overrides (`CONFIG_` prefix optional) as a layer named `name`. A value in
/// double quotes is a quoted string; anything else is read as the symbol's type needs.
pub fn from_overrides(name: &Path, overrides: &BTreeMap<String, String>) -> SdkconfigFile {
    let assignments = overrides
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let value = if v.starts_with('"') {
                unquote(v)
                    .map(RawValue::Quoted)
                    .unwrap_or_else(|| RawValue::Loose(v.clone()))
            } else {
                RawValue::Loose(v.clone())
            };
            Assignment {
                name: super::bare_name(k.trim()).to_string(),
                value,
                line: i as u32 + 1,
                marked_default: false,
            }
        })
        .collect();
    SdkconfigFile {
        path: name.to_path_buf(),
        assignments,
        deprecated: Vec::new(),
    }
}

/// Reads and parses a file.
pub fn read(
    path: &Path,
    kind: FileKind,
) -> Result<(SdkconfigFile, Vec<ConfigWarning>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse(path, &text, kind))
}

/// Writes one assignment the way kconfgen writes it in an sdkconfig.
pub fn format_assignment(name: &str, value: &ConfigValue) -> String {
    match value {
        ConfigValue::Bool(false) => format!("# CONFIG_{name} is not set"),
        ConfigValue::String(s) => format!("CONFIG_{name}=\"{}\"", super::escape_string(s)),
        other => format!("CONFIG_{name}={}", other.to_kconfig_text()),
    }
}

/// A value of kconfgen's `sdkconfig.json`.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Bool(bool),
    /// An int or hex symbol (the JSON does not say which).
    Integer(i64),
    Float(f64),
    String(String),
    /// `null`: an int or hex symbol that is written without a value (`CONFIG_X=`).
    Empty,
}

impl JsonValue {
    /// The value for a symbol of type `ty`, or by the JSON type alone when `ty` is unknown; `None`
    /// for [`JsonValue::Empty`].
    pub fn typed(&self, ty: Option<SymbolType>) -> Option<ConfigValue> {
        Some(match (self, ty) {
            (JsonValue::Empty, _) => return None,
            (JsonValue::Bool(b), _) => ConfigValue::Bool(*b),
            (JsonValue::Integer(i), Some(SymbolType::Hex)) if *i >= 0 => {
                ConfigValue::Hex(*i as u64)
            }
            (JsonValue::Integer(i), Some(SymbolType::Float)) => ConfigValue::Float(*i as f64),
            (JsonValue::Integer(i), _) => ConfigValue::Int(*i),
            (JsonValue::Float(f), _) => ConfigValue::Float(*f),
            (JsonValue::String(s), _) => ConfigValue::String(s.clone()),
        })
    }
}

/// Parses kconfgen's `sdkconfig.json`: an object of names (no `CONFIG_`) to true/false, numbers,
/// strings, or `null` (an int or hex written without a value); anything else is a warning.
pub fn parse_json(
    path: &Path,
    text: &str,
) -> Result<(BTreeMap<String, JsonValue>, Vec<ConfigWarning>), ConfigError> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        line: e.line() as u32,
        message: format!(
            "not valid JSON ({e}); delete the build directory's config/ and reconfigure"
        ),
    })?;
    let serde_json::Value::Object(map) = doc else {
        return Err(ConfigError::Syntax {
            path: path.to_path_buf(),
            line: 1,
            message: "expected a JSON object of configuration values".into(),
        });
    };
    let mut out = BTreeMap::new();
    let mut warnings = Vec::new();
    for (name, value) in map {
        let v = match value {
            serde_json::Value::Bool(b) => JsonValue::Bool(b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    JsonValue::Integer(i)
                } else if let Some(u) = n.as_u64() {
                    // Past i64: only a hex value can be that large.
                    out.insert(name, JsonValue::Integer(u as i64));
                    continue;
                } else {
                    JsonValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => JsonValue::String(s),
            serde_json::Value::Null => JsonValue::Empty,
            other => {
                warnings.push(ConfigWarning::new(
                    path,
                    0,
                    format!("{name}: unexpected JSON value {other}; ignored"),
                ));
                continue;
            }
        };
        out.insert(name, v);
    }
    Ok((out, warnings))
}

/// One line of an `sdkconfig.rename` file: `CONFIG_OLD CONFIG_NEW`, or `CONFIG_OLD !CONFIG_NEW` for a
/// bool whose meaning was inverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub old: String,
    pub new: String,
    pub inverted: bool,
}

/// Parses an `sdkconfig.rename` file. Comments and blank lines are skipped; other lines that do not
/// fit are warnings.
pub fn parse_rename(path: &Path, text: &str) -> (Vec<Rename>, Vec<ConfigWarning>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut parts = trimmed.split_whitespace();
        let (Some(old), Some(new)) = (parts.next(), parts.next()) else {
            warnings.push(ConfigWarning::new(
                path,
                idx as u32 + 1,
                "expected `CONFIG_OLD CONFIG_NEW`",
            ));
            continue;
        };
        let (inverted, new) = match new.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, new),
        };
        match (old.strip_prefix("CONFIG_"), new.strip_prefix("CONFIG_")) {
            (Some(o), Some(n)) if !o.is_empty() && !n.is_empty() && o != n => out.push(Rename {
                old: o.to_string(),
                new: n.to_string(),
                inverted,
            }),
            _ => warnings.push(ConfigWarning::new(
                path,
                idx as u32 + 1,
                "both names must start with CONFIG_ and differ",
            )),
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("sdkconfig")
    }

    #[test]
    fn parses_every_kind_of_line() {
        let text = "\
#
# Automatically generated file. DO NOT EDIT.
#
CONFIG_A=y
# CONFIG_B is not set
CONFIG_I=42
CONFIG_H=0x1F
CONFIG_S=\"say \\\"hi\\\" \\\\ there\"
CONFIG_E=\"\"
# default:
CONFIG_D=123  # trailing comment
CONFIG_Q=\"has # hash\" trailing
  CONFIG_INDENTED=y
garbage here
CONFIG_NOEQ
CONFIG_BADSTR=\"unterminated
# Deprecated options for backward compatibility
CONFIG_OLD_A=y
# CONFIG_OLD_B is not set
# End of deprecated options
";
        let (f, w) = parse(p(), text, FileKind::Sdkconfig);
        let names: Vec<_> = f.assignments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "I", "H", "S", "E", "D", "Q"]);
        assert_eq!(f.get("A").unwrap().value, RawValue::Bare("y".into()));
        assert_eq!(f.get("B").unwrap().value, RawValue::NotSet);
        assert_eq!(
            f.get("S").unwrap().value,
            RawValue::Quoted("say \"hi\" \\ there".into())
        );
        assert_eq!(f.get("E").unwrap().value, RawValue::Quoted(String::new()));
        let d = f.get("CONFIG_D").unwrap();
        assert_eq!(d.value, RawValue::Bare("123".into()));
        assert!(d.marked_default);
        assert!(!f.get("I").unwrap().marked_default);
        assert_eq!(
            f.get("Q").unwrap().value,
            RawValue::Quoted("has # hash".into())
        );
        assert_eq!(f.deprecated.len(), 2);
        assert_eq!(f.deprecated[1].value, RawValue::NotSet);
        let lines: Vec<u32> = w.iter().map(|w| w.line).collect();
        assert_eq!(lines, [13, 14, 15, 16], "{w:?}");
        assert!(
            w[0].to_string()
                .starts_with("sdkconfig:13: ignoring malformed line")
        );
    }

    #[test]
    fn defaults_files_trim_and_treat_empty_as_n() {
        let (f, w) = parse(
            Path::new("d"),
            "  CONFIG_A=y  \nCONFIG_B=\n",
            FileKind::Defaults,
        );
        assert!(w.is_empty());
        assert_eq!(f.get("A").unwrap().value, RawValue::Bare("y".into()));
        assert_eq!(f.get("B").unwrap().value, RawValue::Bare("n".into()));
    }

    #[test]
    fn typing_follows_kconfgen() {
        let bare = |s: &str| RawValue::Bare(s.into());
        assert_eq!(
            bare("yes").typed(SymbolType::Bool),
            Ok(ConfigValue::Bool(true))
        );
        assert!(bare("1").typed(SymbolType::Bool).is_err());
        assert_eq!(
            bare("0x10").typed(SymbolType::Hex),
            Ok(ConfigValue::Hex(16))
        );
        assert_eq!(bare("10").typed(SymbolType::Hex), Ok(ConfigValue::Hex(16)));
        assert!(bare("0x10").typed(SymbolType::Int).is_err());
        assert!(bare("abc").typed(SymbolType::String).is_err());
        assert_eq!(bare("-3").typed(SymbolType::Int), Ok(ConfigValue::Int(-3)));
        assert!(RawValue::NotSet.typed(SymbolType::Int).is_err());
        assert_eq!(bare("0x0005").guess(), ConfigValue::Hex(5));
        assert_eq!(bare("12").guess(), ConfigValue::Int(12));
        assert_eq!(bare("1.5").guess(), ConfigValue::Float(1.5));
        assert_eq!(
            bare("010").kconfig_text(SymbolType::Int).as_deref(),
            Some("010")
        );
        assert_eq!(
            bare("5").kconfig_text(SymbolType::Float).as_deref(),
            Some("5.0")
        );
    }

    #[test]
    fn round_trips_through_format() {
        let values = [
            ("A", ConfigValue::Bool(true)),
            ("B", ConfigValue::Bool(false)),
            ("I", ConfigValue::Int(-7)),
            ("H", ConfigValue::Hex(0xabc)),
            ("S", ConfigValue::String("a \"b\" \\c ${X} ; d".into())),
        ];
        let text: String = values
            .iter()
            .map(|(n, v)| format_assignment(n, v) + "\n")
            .collect();
        let (f, w) = parse(p(), &text, FileKind::Sdkconfig);
        assert!(w.is_empty());
        for (name, value) in &values {
            let a = f.get(name).unwrap();
            assert_eq!(
                &a.value.typed(value.symbol_type()).unwrap(),
                value,
                "{name}"
            );
        }
    }

    #[test]
    fn json_values() {
        let text = r#"{"A": true, "B": false, "I": 42, "H": 4294967295, "S": "x", "N": null, "F": 1.5, "L": [1]}"#;
        let (m, w) = parse_json(Path::new("j"), text).unwrap();
        assert_eq!(m["A"], JsonValue::Bool(true));
        assert_eq!(
            m["H"].typed(Some(SymbolType::Hex)),
            Some(ConfigValue::Hex(0xffff_ffff))
        );
        assert_eq!(m["I"].typed(None), Some(ConfigValue::Int(42)));
        assert_eq!(m["F"], JsonValue::Float(1.5));
        assert_eq!(m["N"], JsonValue::Empty);
        assert_eq!(w.len(), 1);
        let err = parse_json(Path::new("j"), "{\n\"A\": tru").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
        assert!(parse_json(Path::new("j"), "[]").is_err());
    }

    #[test]
    fn rename_files() {
        let text = "# comment\n\nCONFIG_OLD   CONFIG_NEW\nCONFIG_INV !CONFIG_POS\nbad line here\n";
        let (r, w) = parse_rename(Path::new("sdkconfig.rename"), text);
        assert_eq!(
            r,
            [
                Rename {
                    old: "OLD".into(),
                    new: "NEW".into(),
                    inverted: false
                },
                Rename {
                    old: "INV".into(),
                    new: "POS".into(),
                    inverted: true
                },
            ]
        );
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 5);
    }
}
