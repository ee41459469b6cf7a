//! Resources from the catalog: every subscription with a `resource_template` (today
//! `build://log/{task_id}`; later plans and monitors).
//!
//! A resource URI is the template with its variables filled in, optionally followed by a query whose
//! parameters are more params of the method (`build://log/<id>?offset=100&limit=50`). Reading calls
//! the subscription's reader, the catalog call named `<subscription>_read` (`build.log_read`);
//! subscribing opens the subscription itself.

use espctl_protocol::catalog::{self, MethodKind, MethodSpec};
use serde_json::{Map, Value, json};

use super::tools;
use super::wire::{RESOURCE_NOT_FOUND, RpcError};

/// A kind of resource: one URI template and the methods behind it.
#[derive(Debug, Clone, Copy)]
pub struct ResourceKind {
    pub template: &'static str,
    /// The subscription behind `resources/subscribe`.
    pub subscription: &'static MethodSpec,
    /// The call behind `resources/read`.
    pub reader: &'static MethodSpec,
}

impl ResourceKind {
    /// The template's variable names, in order.
    pub fn variables(&self) -> Vec<&'static str> {
        parts(self.template)
            .into_iter()
            .filter_map(|p| match p {
                Part::Var(v) => Some(v),
                Part::Literal(_) => None,
            })
            .collect()
    }

    /// The URI with the variables filled in from `values`.
    pub fn expand(&self, values: &[(&str, &str)]) -> Option<String> {
        let mut uri = String::new();
        for part in parts(self.template) {
            match part {
                Part::Literal(text) => uri.push_str(text),
                Part::Var(name) => {
                    let (_, value) = values.iter().find(|(n, _)| *n == name)?;
                    uri.push_str(&percent_encode(value));
                }
            }
        }
        Some(uri)
    }
}

/// The reader's name for a subscription: `<name>_read`.
pub fn reader_name(subscription: &str) -> String {
    format!("{subscription}_read")
}

/// Every resource kind, in catalog order. A subscription with a template but no reader in the
/// catalog is left out (a unit test keeps the catalog from having one).
pub fn kinds() -> Vec<ResourceKind> {
    catalog::catalog()
        .iter()
        .filter(|spec| matches!(spec.kind, MethodKind::Subscription { .. }))
        .filter_map(|spec| {
            let template = spec.resource_template?;
            let reader = catalog::find_method(&reader_name(spec.name))
                .filter(|r| r.kind == MethodKind::Call)?;
            Some(ResourceKind {
                template,
                subscription: spec,
                reader,
            })
        })
        .collect()
}

/// The URI of the resource that follows task `task_id` (the first kind whose only variable is
/// `task_id`), for pointing assistants at it.
pub fn task_uri(task_id: &str) -> Option<String> {
    kinds()
        .into_iter()
        .find(|k| k.variables() == ["task_id"])
        .and_then(|k| k.expand(&[("task_id", task_id)]))
}

/// The `resources/templates/list` result.
pub fn templates() -> Value {
    let templates: Vec<Value> = kinds()
        .iter()
        .map(|kind| {
            let reader_params: Vec<&str> = tools::param_names(kind.reader)
                .iter()
                .map(String::as_str)
                .filter(|p| !kind.variables().contains(p))
                .collect();
            let query = if reader_params.is_empty() {
                String::new()
            } else {
                format!(
                    " (query parameters: `{}?{}`)",
                    kind.template,
                    reader_params
                        .iter()
                        .map(|p| format!("{p}=N"))
                        .collect::<Vec<_>>()
                        .join("&"),
                )
            };
            let description = format!(
                "{} resources/read{query}: {} resources/subscribe sends \
                 notifications/resources/updated as it changes, until it ends.",
                kind.subscription.description, kind.reader.description
            );
            json!({
                "uriTemplate": kind.template,
                "name": kind.subscription.name,
                "description": description,
                "mimeType": "text/plain",
            })
        })
        .collect();
    json!({ "resourceTemplates": templates })
}

/// A URI resolved against the templates.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub kind: ResourceKind,
    /// The template's variables.
    pub variables: Map<String, Value>,
    /// The query's parameters.
    pub query: Map<String, Value>,
}

impl Resolved {
    /// Params for `method`: the variables plus the query parameters it takes. With `strict`, a query
    /// parameter the method does not take is an error; otherwise it is left out.
    pub fn params_for(&self, method: &MethodSpec, strict: bool) -> Result<Value, RpcError> {
        let mut params = self.variables.clone();
        let accepted = tools::param_names(method);
        for (key, value) in &self.query {
            if accepted.iter().any(|a| a == key) {
                params.insert(key.clone(), value.clone());
            } else if strict {
                let names: Vec<&str> = accepted
                    .iter()
                    .map(String::as_str)
                    .filter(|a| !self.variables.contains_key(*a))
                    .collect();
                return Err(RpcError::invalid_params(format!(
                    "unknown query parameter `{key}`: {} takes {}",
                    self.kind.template,
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )));
            }
        }
        Ok(Value::Object(params))
    }
}

/// Match `uri` against every template.
pub fn resolve(uri: &str) -> Result<Resolved, RpcError> {
    let (path, query) = match uri.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (uri.split('#').next().unwrap_or(uri), None),
    };
    let query = query.map(|q| q.split('#').next().unwrap_or(q));
    let kinds = kinds();
    for kind in &kinds {
        if let Some(variables) = match_template(kind.template, path) {
            return Ok(Resolved {
                kind: *kind,
                variables,
                query: query.map(parse_query).unwrap_or_default(),
            });
        }
    }
    let known: Vec<&str> = kinds.iter().map(|k| k.template).collect();
    Err(RpcError::new(
        RESOURCE_NOT_FOUND,
        format!(
            "no resource is called {uri}: resources have the form {}",
            known.join(" or ")
        ),
    )
    .with_data(json!({ "uri": uri })))
}

/// The `resources/read` contents for a reader's result: lines as text when it has them (a log),
/// else the JSON. The rest of a log chunk (offsets, totals, eof, the task's status) goes in `_meta`.
pub fn contents(uri: &str, result: Value) -> Value {
    let Value::Object(mut object) = result else {
        return json!({"contents": [{"uri": uri, "mimeType": "application/json", "text": result.to_string()}]});
    };
    let lines = match object.get("lines") {
        Some(Value::Array(lines)) if lines.iter().all(Value::is_string) => {
            let text: Vec<&str> = lines.iter().filter_map(Value::as_str).collect();
            Some(text.join("\n"))
        }
        _ => None,
    };
    match lines {
        Some(text) => {
            object.remove("lines");
            json!({"contents": [{"uri": uri, "mimeType": "text/plain", "text": text, "_meta": object}]})
        }
        None => json!({"contents": [{
            "uri": uri,
            "mimeType": "application/json",
            "text": Value::Object(object).to_string(),
        }]}),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part<'a> {
    Literal(&'a str),
    Var(&'a str),
}

/// A level-1 URI template split into literals and `{variables}`.
fn parts(template: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Part::Literal(&rest[..open]));
        }
        let Some(close) = rest[open..].find('}') else {
            out.push(Part::Literal(&rest[open..]));
            return out;
        };
        out.push(Part::Var(&rest[open + 1..open + close]));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        out.push(Part::Literal(rest));
    }
    out
}

/// The variables when `path` matches `template`. A variable matches one or more characters up to the
/// next literal, never a `/`.
fn match_template(template: &str, path: &str) -> Option<Map<String, Value>> {
    let parts = parts(template);
    let mut rest = path;
    let mut variables = Map::new();
    for (i, part) in parts.iter().enumerate() {
        match part {
            Part::Literal(text) => rest = rest.strip_prefix(text)?,
            Part::Var(name) => {
                let end = match parts.get(i + 1) {
                    Some(Part::Literal(next)) => rest.find(next)?,
                    _ => rest.len(),
                };
                let value = &rest[..end];
                if value.is_empty() || value.contains('/') {
                    return None;
                }
                variables.insert(name.to_string(), Value::String(percent_decode(value)?));
                rest = &rest[end..];
            }
        }
    }
    rest.is_empty().then_some(variables)
}

/// Query parameters: whole numbers become numbers, `true` and `false` booleans, the rest strings.
fn parse_query(query: &str) -> Map<String, Value> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key)?;
            let value = percent_decode(&value.replace('+', " "))?;
            let value = if let Ok(n) = value.parse::<u64>() {
                json!(n)
            } else {
                match value.as_str() {
                    "true" => json!(true),
                    "false" => json!(false),
                    _ => Value::String(value),
                }
            };
            Some((key, value))
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn every_templated_subscription_has_a_reader() {
        let templated = catalog::catalog()
            .iter()
            .filter(|s| s.resource_template.is_some())
            .count();
        assert_eq!(
            kinds().len(),
            templated,
            "a subscription with a resource_template needs a `<name>_read` call in the catalog"
        );
        assert!(templated >= 1);
        for kind in kinds() {
            assert!(
                !kind.subscription.is_tool() && !kind.reader.is_tool(),
                "{}",
                kind.template
            );
            for var in kind.variables() {
                assert!(tools::takes_param(kind.reader, var), "{var}");
                assert!(tools::takes_param(kind.subscription, var), "{var}");
            }
        }
    }

    #[test]
    fn build_log_uris_resolve_with_their_query() {
        let r = resolve(&format!("build://log/{ID}")).unwrap();
        assert_eq!(r.kind.template, "build://log/{task_id}");
        assert_eq!(r.variables["task_id"], ID);
        assert!(r.query.is_empty());
        assert_eq!(
            r.params_for(r.kind.reader, true).unwrap(),
            json!({"task_id": ID})
        );

        let r = resolve(&format!("build://log/{ID}?offset=10&limit=5")).unwrap();
        assert_eq!(
            r.params_for(r.kind.reader, true).unwrap(),
            json!({"task_id": ID, "offset": 10, "limit": 5})
        );
        // The subscription takes an offset but no limit: left out when not strict.
        assert_eq!(
            r.params_for(r.kind.subscription, false).unwrap(),
            json!({"task_id": ID, "offset": 10})
        );
        let r = resolve(&format!("build://log/{ID}?tail=3")).unwrap();
        let err = r.params_for(r.kind.reader, true).unwrap_err();
        assert!(
            err.message.contains("offset") && err.message.contains("limit"),
            "{}",
            err.message
        );
    }

    #[test]
    fn other_uris_are_not_found() {
        for uri in [
            "build://log/",
            "build://log/a/b",
            "file:///etc/passwd",
            "build://logs/x",
        ] {
            let err = resolve(uri).unwrap_err();
            assert_eq!(err.code, RESOURCE_NOT_FOUND, "{uri}");
            assert!(
                err.message.contains("build://log/{task_id}"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn task_uris_are_built_from_the_template() {
        assert_eq!(task_uri(ID).unwrap(), format!("build://log/{ID}"));
        let kind = kinds()[0];
        assert_eq!(
            kind.expand(&[("task_id", "a b/c")]).unwrap(),
            "build://log/a%20b%2Fc"
        );
        assert_eq!(
            match_template(kind.template, "build://log/a%20b").unwrap()["task_id"],
            "a b"
        );
    }

    #[test]
    fn templates_describe_reading_and_subscribing() {
        let t = templates();
        let first = &t["resourceTemplates"][0];
        assert_eq!(first["uriTemplate"], "build://log/{task_id}");
        assert_eq!(first["name"], "build.log");
        let text = first["description"].as_str().unwrap();
        assert!(text.contains("?limit=N&offset=N"), "{text}");
        assert!(text.contains("notifications/resources/updated"), "{text}");
    }

    #[test]
    fn log_chunks_read_as_text_with_the_rest_in_meta() {
        let out = contents(
            "build://log/x",
            json!({"task_id": "x", "offset": 0, "lines": ["a", "b"], "next_offset": 2,
                   "total_lines": 2, "eof": true, "status": "succeeded"}),
        );
        let c = &out["contents"][0];
        assert_eq!(c["text"], "a\nb");
        assert_eq!(c["mimeType"], "text/plain");
        assert_eq!(c["_meta"]["next_offset"], 2);
        assert!(c["_meta"].get("lines").is_none());
        let out = contents("x://y", json!({"a": 1}));
        assert_eq!(out["contents"][0]["mimeType"], "application/json");
    }

    #[test]
    fn queries_decode() {
        let q = parse_query("a=1&b=true&c=x%20y&d=p+q&e");
        assert_eq!(q["a"], 1);
        assert_eq!(q["b"], true);
        assert_eq!(q["c"], "x y");
        assert_eq!(q["d"], "p q");
        assert_eq!(q["e"], "");
        assert!(percent_decode("%zz").is_none());
    }
}
