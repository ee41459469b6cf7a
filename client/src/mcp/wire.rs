//! JSON-RPC 2.0 framing for MCP over stdio: one message (or, up to 2025-03-26, one batch) per line.

use serde_json::{Map, Value, json};

/// Invalid JSON.
pub const PARSE_ERROR: i32 = -32700;
/// Valid JSON that is not a JSON-RPC message.
pub const INVALID_REQUEST: i32 = -32600;
pub const METHOD_NOT_FOUND: i32 = -32601;
/// Params that do not fit the method (an unknown tool name among them).
pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
/// MCP's code for a resource URI that names nothing.
pub const RESOURCE_NOT_FOUND: i32 = -32002;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i32,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i32, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }

    pub fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }

    fn to_json(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// One message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request: it is owed a response with the same id.
    Request {
        id: Value,
        method: String,
        params: Option<Value>,
    },
    /// A notification: no response.
    Notification {
        method: String,
        params: Option<Value>,
    },
    /// A response to a request of ours. This server sends none, so it is ignored.
    Response,
    /// Not a valid message. When it had a usable id it is answered with `error`; otherwise it is
    /// answered with a null id.
    Invalid { id: Value, error: RpcError },
}

/// What one line holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Single(Incoming),
    Batch(Vec<Incoming>),
}

/// Parse one line of input. Invalid JSON is an [`Incoming::Invalid`] with a null id.
pub fn parse_line(line: &str) -> Line {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(err) => {
            return Line::Single(Incoming::Invalid {
                id: Value::Null,
                error: RpcError::new(PARSE_ERROR, format!("invalid JSON: {err}")),
            });
        }
    };
    match value {
        Value::Array(items) if items.is_empty() => Line::Single(Incoming::Invalid {
            id: Value::Null,
            error: RpcError::new(INVALID_REQUEST, "an empty batch is not a request"),
        }),
        Value::Array(items) => Line::Batch(items.into_iter().map(classify).collect()),
        other => Line::Single(classify(other)),
    }
}

fn classify(value: Value) -> Incoming {
    let Value::Object(mut object) = value else {
        return Incoming::Invalid {
            id: Value::Null,
            error: RpcError::new(INVALID_REQUEST, "a JSON-RPC message is an object"),
        };
    };
    let id = object.remove("id");
    let valid_id = |id: &Value| matches!(id, Value::String(_) | Value::Number(_));
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Incoming::Invalid {
            id: id.filter(valid_id).unwrap_or(Value::Null),
            error: RpcError::new(INVALID_REQUEST, "`jsonrpc` must be \"2.0\""),
        };
    }
    let params = object.remove("params");
    match (object.remove("method"), id) {
        (Some(Value::String(method)), None) => Incoming::Notification { method, params },
        (Some(Value::String(method)), Some(id)) if valid_id(&id) => {
            Incoming::Request { id, method, params }
        }
        (Some(Value::String(_)), Some(_)) => Incoming::Invalid {
            id: Value::Null,
            error: RpcError::new(INVALID_REQUEST, "a request id is a string or a number"),
        },
        (Some(_), id) => Incoming::Invalid {
            id: id.filter(valid_id).unwrap_or(Value::Null),
            error: RpcError::new(INVALID_REQUEST, "`method` must be a string"),
        },
        (None, _) if object.contains_key("result") || object.contains_key("error") => {
            Incoming::Response
        }
        (None, id) => Incoming::Invalid {
            id: id.filter(valid_id).unwrap_or(Value::Null),
            error: RpcError::new(INVALID_REQUEST, "a message needs a `method`"),
        },
    }
}

/// A success response.
pub fn response(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// An error response.
pub fn error_response(id: &Value, error: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()})
}

/// A notification from this server.
pub fn notification(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
}

/// One message as one line of output (serde_json never writes a raw line break).
pub fn to_line(message: &Value) -> String {
    let mut line = message.to_string();
    line.push('\n');
    line
}

/// The params of a request as an object: absent or null params are an empty object.
pub fn params_object(params: Option<Value>) -> Result<Map<String, Value>, RpcError> {
    match params {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(RpcError::invalid_params("params must be an object")),
    }
}

/// A stable key for a request id, to match `notifications/cancelled` with a request.
pub fn id_key(id: &Value) -> String {
    id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(line: &str) -> Incoming {
        match parse_line(line) {
            Line::Single(m) => m,
            Line::Batch(_) => panic!("a batch"),
        }
    }

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        assert_eq!(
            single(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#),
            Incoming::Request {
                id: json!(7),
                method: "ping".into(),
                params: None
            }
        );
        assert_eq!(
            single(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Incoming::Notification {
                method: "notifications/initialized".into(),
                params: None
            }
        );
        assert_eq!(
            single(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Incoming::Response
        );
    }

    #[test]
    fn malformed_messages_get_the_standard_codes() {
        let code = |line: &str| match single(line) {
            Incoming::Invalid { error, .. } => error.code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code("{nope"), PARSE_ERROR);
        assert_eq!(code("[]"), INVALID_REQUEST);
        assert_eq!(code("3"), INVALID_REQUEST);
        assert_eq!(code(r#"{"id":1,"method":"ping"}"#), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#),
            INVALID_REQUEST
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1}"#), INVALID_REQUEST);
        match single(r#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#) {
            Incoming::Invalid { id, .. } => assert_eq!(id, json!(4)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn batches_are_split() {
        let Line::Batch(items) = parse_line(
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"x"}]"#,
        ) else {
            panic!("not a batch")
        };
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn output_is_one_line() {
        let line = to_line(&response(&json!(1), json!({"text": "a\nb"})));
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        let err = error_response(
            &json!("x"),
            &RpcError::invalid_params("bad").with_data(json!(1)),
        );
        assert_eq!(err["error"]["code"], INVALID_PARAMS);
        assert_eq!(err["error"]["data"], 1);
    }

    #[test]
    fn params_must_be_an_object() {
        assert!(params_object(None).unwrap().is_empty());
        assert!(params_object(Some(Value::Null)).unwrap().is_empty());
        assert_eq!(
            params_object(Some(json!([1]))).unwrap_err().code,
            INVALID_PARAMS
        );
    }
}
