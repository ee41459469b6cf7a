//! Tools from the catalog: every method with `Audience::Tool`, under its name and each alias.
//!
//! The input schema is the method's params schema, made self-contained for assistants (references
//! inlined, Rust type names and non-standard `format`s removed) and adjusted for what the shim does
//! itself: `env` is filled by the shim and not asked for, `path` is described as the absolute
//! project directory, and the tools of [`call::WAITABLE`] get `wait_secs`. The output schema is the
//! method's result schema, widened where the shim can answer otherwise (the task's status after a
//! wait, the plan in planning mode).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use espctl_protocol::catalog::{self, Audience, MethodSpec};
use espctl_protocol::methods::{BuildStatus, GenerateBuildPlan, Method};
use serde_json::{Map, Value, json};

use super::ProtocolVersion;
use super::call;

/// How `path` is described to assistants.
pub const PATH_DESCRIPTION: &str = "Absolute path of the project directory (the one with the \
     top-level CMakeLists.txt). Required: this server has no meaningful working directory. `~/` is \
     expanded.";

/// How `wait_secs` is described to assistants.
pub const WAIT_DESCRIPTION: &str = "Optional, added by this MCP server: wait up to this many seconds \
     for the task to finish, then return its build.status (status, progress, phase, error or result) \
     instead of returning at once. A task still running when the time is up is not stopped. 0 or \
     absent: return at once. With a progressToken the wait reports the task's progress.";

/// `format` values schemars writes for Rust integer and float types. They are not JSON Schema
/// formats, and strict validators refuse unknown formats, so they are removed (the `minimum` that
/// goes with unsigned types stays).
const RUST_FORMATS: &[&str] = &[
    "int", "int8", "int16", "int32", "int64", "int128", "uint", "uint8", "uint16", "uint32",
    "uint64", "uint128", "float", "double",
];

/// One tool: a catalog method under one of its names.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The tool name: the method's name or one of its aliases.
    pub name: &'static str,
    pub spec: &'static MethodSpec,
}

impl Tool {
    /// True when this tool is an alias of another.
    pub fn is_alias(&self) -> bool {
        self.name != self.spec.name
    }
}

/// Every tool, in catalog order, each method's name before its aliases.
pub fn tools() -> Vec<Tool> {
    catalog::catalog()
        .iter()
        .filter(|spec| spec.audience == Audience::Tool)
        .flat_map(|spec| spec.all_names().map(move |name| Tool { name, spec }))
        .collect()
}

/// The tool called `name`.
pub fn find(name: &str) -> Option<Tool> {
    let spec = catalog::find_method(name)?;
    (spec.audience == Audience::Tool).then_some(Tool {
        name: spec.all_names().find(|n| *n == name)?,
        spec,
    })
}

/// What a method's tool entries share, computed once.
struct Shape {
    description: String,
    input_schema: Value,
    output_schema: Option<Value>,
}

fn shapes() -> &'static BTreeMap<&'static str, Shape> {
    static SHAPES: OnceLock<BTreeMap<&'static str, Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        catalog::catalog()
            .iter()
            .filter(|spec| spec.audience == Audience::Tool)
            .map(|spec| {
                (
                    spec.name,
                    Shape {
                        description: description(spec),
                        input_schema: input_schema(spec),
                        output_schema: output_schema(spec),
                    },
                )
            })
            .collect()
    })
}

/// The top-level param names of every method, computed once (for the shim's own decisions: does it
/// take `env`, which arguments a plan accepts).
pub fn param_names(spec: &MethodSpec) -> &'static [String] {
    static NAMES: OnceLock<BTreeMap<&'static str, Vec<String>>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            catalog::catalog()
                .iter()
                .map(|spec| {
                    let schema = schema_value(spec.params_schema());
                    let names = schema
                        .get("properties")
                        .and_then(Value::as_object)
                        .map(|p| p.keys().cloned().collect())
                        .unwrap_or_default();
                    (spec.name, names)
                })
                .collect()
        })
        .get(spec.name)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// True when the method's params have a member called `name`.
pub fn takes_param(spec: &MethodSpec, name: &str) -> bool {
    param_names(spec).iter().any(|n| n == name)
}

/// The `tools/list` entry of one tool.
pub fn describe(tool: &Tool, version: ProtocolVersion) -> Value {
    let shape = &shapes()[tool.spec.name];
    let mut description = shape.description.clone();
    if tool.is_alias() {
        description = format!(
            "`{}` is another name of `{}`: same inputs, same result. {description}",
            tool.name, tool.spec.name
        );
    }
    let mut entry = json!({
        "name": tool.name,
        "description": description,
        "inputSchema": shape.input_schema,
    });
    if version.has_structured_output()
        && let Some(output) = &shape.output_schema
    {
        entry["outputSchema"] = output.clone();
    }
    entry
}

/// The `tools/list` result: every tool, in one page.
pub fn list(version: ProtocolVersion) -> Value {
    let tools: Vec<Value> = tools().iter().map(|t| describe(t, version)).collect();
    json!({ "tools": tools })
}

fn description(spec: &MethodSpec) -> String {
    let mut text = spec.description.to_string();
    if call::WAITABLE.contains(&spec.name) {
        text.push_str(
            " Pass `wait_secs` to wait for the task to finish (bounded) instead of returning at once.",
        );
    }
    if spec.name == call::PLANNING_TOOL {
        text.push_str(
            " Planning mode: when this MCP server runs with CONTROL_BASE_URL set, nothing is built: the \
             result is {\"status\": \"planning\", \"reason\", \"plan\"} with the build plan that \
             generate_build_plan would return.",
        );
    }
    text
}

/// The input schema of a method's tools.
pub fn input_schema(spec: &MethodSpec) -> Value {
    let mut schema = inline_refs(&schema_value(spec.params_schema()));
    let object = schema.as_object_mut().expect("params schemas are objects");
    object.insert("type".into(), json!("object"));
    let properties = object
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("properties is an object");
    properties.remove("env");
    if spec.project_scoped
        && let Some(Value::Object(path)) = properties.get_mut("path")
    {
        path.insert("description".into(), json!(PATH_DESCRIPTION));
    }
    if call::WAITABLE.contains(&spec.name) {
        properties.insert(
            "wait_secs".into(),
            json!({
                "type": "integer",
                "minimum": 0,
                "maximum": call::MAX_WAIT_SECS,
                "description": WAIT_DESCRIPTION,
            }),
        );
    }
    if let Some(Value::Array(required)) = object.get_mut("required") {
        required.retain(|r| r != "env");
        if spec.project_scoped && !required.iter().any(|r| r == "path") {
            required.push(json!("path"));
        }
    } else if spec.project_scoped {
        object.insert("required".into(), json!(["path"]));
    }
    schema
}

/// The output schema of a method's tools; `None` when the result is not an object.
pub fn output_schema(spec: &MethodSpec) -> Option<Value> {
    let result = inline_refs(&schema_value(spec.result_schema()));
    if result.get("type") != Some(&json!("object")) {
        return None;
    }
    let mut variants = vec![result];
    if call::WAITABLE.contains(&spec.name) {
        let status = catalog::find_method(BuildStatus::NAME)?;
        variants.push(inline_refs(&schema_value(status.result_schema())));
    }
    if spec.name == call::PLANNING_TOOL {
        let plan = catalog::find_method(GenerateBuildPlan::NAME)?;
        variants.push(json!({
            "type": "object",
            "description": "Planning mode: the build that would run, not started.",
            "properties": {
                "status": {"const": "planning"},
                "reason": {"type": "string", "description": "Why this is a plan and not a build."},
                "control_base_url": {"type": "string"},
                "plan": inline_refs(&schema_value(plan.result_schema())),
            },
            "required": ["status", "reason", "plan"],
        }));
    }
    if variants.len() == 1 {
        return variants.pop();
    }
    Some(json!({"type": "object", "anyOf": variants}))
}

fn schema_value(schema: impl serde::Serialize) -> Value {
    serde_json::to_value(schema).expect("a schema serializes")
}

/// A copy of `schema` with every `#/$defs/...` reference replaced by the definition, `$defs`,
/// `$schema` and the root `title` and `description` (a Rust type's name and doc) removed, and Rust `format`s dropped. A
/// recursive definition keeps its references, and then `$defs` stays.
pub fn inline_refs(schema: &Value) -> Value {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut kept_refs = false;
    let mut out = walk(schema, &defs, &mut Vec::new(), &mut kept_refs);
    if let Value::Object(root) = &mut out {
        root.remove("$schema");
        root.remove("title");
        // The Rust type's doc comment; the tool's description says what the tool takes.
        root.remove("description");
        if kept_refs {
            let defs = defs
                .iter()
                .map(|(k, v)| (k.clone(), walk(v, &Map::new(), &mut Vec::new(), &mut false)))
                .collect();
            root.insert("$defs".into(), Value::Object(defs));
        }
    }
    out
}

fn walk(
    value: &Value,
    defs: &Map<String, Value>,
    stack: &mut Vec<String>,
    kept: &mut bool,
) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && let Some(name) = reference.strip_prefix("#/$defs/")
            {
                let Some(target) = defs.get(name).filter(|_| !stack.iter().any(|s| s == name))
                else {
                    *kept = true;
                    return strip_format(map.clone());
                };
                stack.push(name.to_string());
                let inlined = walk(target, defs, stack, kept);
                stack.pop();
                let siblings: Map<String, Value> = map
                    .iter()
                    .filter(|(k, _)| k.as_str() != "$ref")
                    .map(|(k, v)| (k.clone(), walk(v, defs, stack, kept)))
                    .collect();
                return match inlined {
                    Value::Object(mut object) => {
                        object.remove("title");
                        object.extend(siblings);
                        Value::Object(object)
                    }
                    other if siblings.is_empty() => other,
                    other => {
                        let mut object = siblings;
                        object.insert("allOf".into(), json!([other]));
                        Value::Object(object)
                    }
                };
            }
            let map = map
                .iter()
                .filter(|(k, _)| k.as_str() != "$defs")
                .map(|(k, v)| (k.clone(), walk(v, defs, stack, kept)))
                .collect();
            strip_format(map)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| walk(v, defs, stack, kept)).collect())
        }
        other => other.clone(),
    }
}

fn strip_format(mut map: Map<String, Value>) -> Value {
    if map
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| RUST_FORMATS.contains(&f))
    {
        map.remove("format");
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use espctl_protocol::catalog::MethodKind;

    fn contains_key(value: &Value, key: &str) -> bool {
        match value {
            Value::Object(map) => {
                map.contains_key(key) || map.values().any(|v| contains_key(v, key))
            }
            Value::Array(items) => items.iter().any(|v| contains_key(v, key)),
            _ => false,
        }
    }

    fn rust_format(value: &Value) -> bool {
        match value {
            Value::Object(map) => {
                map.get("format")
                    .and_then(Value::as_str)
                    .is_some_and(|f| RUST_FORMATS.contains(&f))
                    || map.values().any(rust_format)
            }
            Value::Array(items) => items.iter().any(rust_format),
            _ => false,
        }
    }

    #[test]
    fn every_tool_method_and_alias_is_a_tool_and_nothing_else_is() {
        let names: Vec<&str> = tools().iter().map(|t| t.name).collect();
        for spec in catalog::catalog() {
            for name in spec.all_names() {
                assert_eq!(
                    names.contains(&name),
                    spec.audience == Audience::Tool,
                    "{name} ({:?})",
                    spec.audience
                );
                assert_eq!(find(name).is_some(), spec.audience == Audience::Tool);
            }
            if matches!(spec.kind, MethodKind::Subscription { .. }) {
                assert!(!names.contains(&spec.name), "subscription {}", spec.name);
            }
        }
        for admin in ["daemon.shutdown", "daemon.info"] {
            assert!(!names.contains(&admin), "{admin} must not be a tool");
        }
        assert!(find("build.nope").is_none());
    }

    #[test]
    fn tool_names_are_valid_mcp_names() {
        for tool in tools() {
            assert!(
                !tool.name.is_empty()
                    && tool.name.len() <= 128
                    && tool
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
                "{}",
                tool.name
            );
        }
    }

    #[test]
    fn input_schemas_are_self_contained_objects() {
        for tool in tools() {
            let entry = describe(&tool, ProtocolVersion::LATEST);
            let schema = &entry["inputSchema"];
            assert_eq!(schema["type"], "object", "{}", tool.name);
            assert!(schema["properties"].is_object(), "{}", tool.name);
            for key in ["$ref", "$defs", "$schema"] {
                assert!(!contains_key(schema, key), "{} has {key}", tool.name);
            }
            assert!(schema.get("title").is_none(), "{}", tool.name);
            assert!(!rust_format(schema), "{}: {schema}", tool.name);
            assert!(
                entry["description"].as_str().unwrap().len() > 40,
                "{}",
                tool.name
            );
        }
    }

    #[test]
    fn every_catalog_param_but_env_is_kept() {
        for tool in tools() {
            let schema = input_schema(tool.spec);
            let catalog = schema_value(tool.spec.params_schema());
            if let Some(props) = catalog["properties"].as_object() {
                for name in props.keys().filter(|n| *n != "env") {
                    assert!(
                        schema["properties"].get(name).is_some(),
                        "{}: {name} missing",
                        tool.name
                    );
                }
            }
            if let Some(required) = catalog["required"].as_array() {
                for name in required.iter().filter(|n| *n != "env") {
                    assert!(
                        schema["required"].as_array().unwrap().contains(name),
                        "{}: {name} not required",
                        tool.name
                    );
                }
            }
            assert!(schema["properties"].get("env").is_none(), "{}", tool.name);
        }
    }

    #[test]
    fn project_scoped_tools_require_an_absolute_path() {
        let mut seen = 0;
        for tool in tools().into_iter().filter(|t| t.spec.project_scoped) {
            seen += 1;
            let schema = input_schema(tool.spec);
            assert!(
                schema["required"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("path")),
                "{}",
                tool.name
            );
            assert_eq!(
                schema["properties"]["path"]["description"], PATH_DESCRIPTION,
                "{}",
                tool.name
            );
            assert!(takes_param(tool.spec, "path"), "{}", tool.name);
        }
        assert!(seen >= 3, "generate_build_plan, get_clean_plan, set_target");
    }

    #[test]
    fn waitable_tools_take_wait_secs_and_may_answer_with_the_task() {
        for tool in tools() {
            let schema = input_schema(tool.spec);
            let waitable = call::WAITABLE.contains(&tool.spec.name);
            assert_eq!(
                schema["properties"].get("wait_secs").is_some(),
                waitable,
                "{}",
                tool.name
            );
            if waitable {
                let output = output_schema(tool.spec).unwrap();
                assert!(output["anyOf"].as_array().unwrap().len() >= 2);
            }
        }
        let status = find("build.status").unwrap();
        assert!(
            input_schema(status.spec)["properties"]
                .get("wait_secs")
                .is_none()
        );
    }

    #[test]
    fn output_schemas_exist_from_2025_06_18_on() {
        let tool = find("build.status").unwrap();
        let old = describe(&tool, ProtocolVersion::V2025_03_26);
        assert!(old.get("outputSchema").is_none());
        let new = describe(&tool, ProtocolVersion::V2025_06_18);
        assert_eq!(new["outputSchema"]["type"], "object");
        assert!(new["outputSchema"]["properties"]["task_id"].is_object());
        assert!(!contains_key(&new["outputSchema"], "$ref"));
    }

    #[test]
    fn refs_are_inlined_with_their_siblings_and_recursion_is_kept() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Params",
            "type": "object",
            "properties": {
                "a": {"$ref": "#/$defs/A", "description": "the a"},
                "n": {"type": "integer", "format": "uint32", "minimum": 0},
                "t": {"$ref": "#/$defs/Tree"},
            },
            "$defs": {
                "A": {"title": "A", "type": "string", "enum": ["x"]},
                "Tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}}},
            }
        });
        let out = inline_refs(&schema);
        assert_eq!(
            out["properties"]["a"],
            json!({"type": "string", "enum": ["x"], "description": "the a"})
        );
        assert_eq!(
            out["properties"]["n"],
            json!({"type": "integer", "minimum": 0})
        );
        assert_eq!(
            out["properties"]["t"]["properties"]["kids"]["items"]["$ref"],
            "#/$defs/Tree"
        );
        assert!(out["$defs"]["Tree"].is_object());
        assert!(out.get("$schema").is_none() && out.get("title").is_none());
    }

    #[test]
    fn aliases_say_what_they_alias() {
        for tool in tools().into_iter().filter(Tool::is_alias) {
            let entry = describe(&tool, ProtocolVersion::LATEST);
            let text = entry["description"].as_str().unwrap();
            assert!(text.contains(tool.spec.name), "{text}");
            assert_eq!(
                entry["inputSchema"],
                describe(&find(tool.spec.name).unwrap(), ProtocolVersion::LATEST)["inputSchema"]
            );
        }
    }
}
