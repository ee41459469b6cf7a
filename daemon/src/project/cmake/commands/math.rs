//! `math(EXPR)`: 64-bit integer expressions with C operators and precedence.

use super::super::interp::{Flow, Interp};

impl Interp<'_> {
    pub(crate) fn cmd_math(&mut self, args: Vec<String>) -> Flow {
        if args.len() < 3 || args[0] != "EXPR" {
            self.fail("math() expects EXPR <variable> <expression> [OUTPUT_FORMAT <format>]");
            return Flow::Stop;
        }
        let hex = match (
            args.get(3).map(String::as_str),
            args.get(4).map(String::as_str),
        ) {
            (None, _) => false,
            (Some("OUTPUT_FORMAT"), Some("DECIMAL")) => false,
            (Some("OUTPUT_FORMAT"), Some("HEXADECIMAL")) => true,
            _ => {
                self.fail("math(EXPR) given an unknown OUTPUT_FORMAT");
                return Flow::Stop;
            }
        };
        match evaluate(&args[2]) {
            Ok(value) => {
                let text = if hex {
                    if value < 0 {
                        format!("-0x{:x}", value.unsigned_abs())
                    } else {
                        format!("0x{value:x}")
                    }
                } else {
                    value.to_string()
                };
                self.set_var(&args[1], text);
                Flow::Normal
            }
            Err(e) => {
                self.fail(format!("math(EXPR) cannot evaluate \"{}\": {e}", args[2]));
                Flow::Stop
            }
        }
    }
}

/// Evaluates an integer expression.
pub(crate) fn evaluate(expr: &str) -> Result<i64, String> {
    let tokens = tokenize(expr)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let value = parser.binary(0)?;
    if parser.pos != parser.tokens.len() {
        return Err("unexpected token".into());
    }
    Ok(value)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(i64),
    Op(&'static str),
    Open,
    Close,
}

fn tokenize(expr: &str) -> Result<Vec<Token>, String> {
    let b = expr.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            let value = if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
                i += 2;
                let digits_start = i;
                while i < b.len() && b[i].is_ascii_hexdigit() {
                    i += 1;
                }
                u64::from_str_radix(&expr[digits_start..i], 16)
                    .map_err(|_| "invalid hexadecimal number".to_string())? as i64
            } else {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                expr[start..i]
                    .parse::<i64>()
                    .map_err(|_| "number out of range".to_string())?
            };
            tokens.push(Token::Number(value));
            continue;
        }
        let two = expr.get(i..i + 2);
        if two == Some("<<") || two == Some(">>") {
            tokens.push(Token::Op(if two == Some("<<") { "<<" } else { ">>" }));
            i += 2;
            continue;
        }
        let token = match c {
            b'+' => Token::Op("+"),
            b'-' => Token::Op("-"),
            b'*' => Token::Op("*"),
            b'/' => Token::Op("/"),
            b'%' => Token::Op("%"),
            b'|' => Token::Op("|"),
            b'&' => Token::Op("&"),
            b'^' => Token::Op("^"),
            b'~' => Token::Op("~"),
            b'(' => Token::Open,
            b')' => Token::Close,
            _ => {
                return Err(format!(
                    "unexpected character `{}`",
                    expr[i..].chars().next().unwrap_or('?')
                ));
            }
        };
        tokens.push(token);
        i += 1;
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Binary operators by precedence level, lowest first.
const LEVELS: &[&[&str]] = &[
    &["|"],
    &["^"],
    &["&"],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

impl Parser {
    fn binary(&mut self, level: usize) -> Result<i64, String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Some(Token::Op(op)) = self.tokens.get(self.pos).cloned() {
            if !LEVELS[level].contains(&op) {
                break;
            }
            self.pos += 1;
            let right = self.binary(level + 1)?;
            left = match op {
                "|" => left | right,
                "^" => left ^ right,
                "&" => left & right,
                "<<" => left.wrapping_shl(right as u32),
                ">>" => left.wrapping_shr(right as u32),
                "+" => left.wrapping_add(right),
                "-" => left.wrapping_sub(right),
                "*" => left.wrapping_mul(right),
                "/" => {
                    if right == 0 {
                        return Err("divide by zero".into());
                    }
                    left.wrapping_div(right)
                }
                _ => {
                    if right == 0 {
                        return Err("divide by zero".into());
                    }
                    left.wrapping_rem(right)
                }
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<i64, String> {
        self.depth += 1;
        if self.depth > 200 {
            return Err("expression nested too deeply".into());
        }
        let result = match self.tokens.get(self.pos).cloned() {
            Some(Token::Op("-")) => {
                self.pos += 1;
                self.unary().map(i64::wrapping_neg)
            }
            Some(Token::Op("+")) => {
                self.pos += 1;
                self.unary()
            }
            Some(Token::Op("~")) => {
                self.pos += 1;
                self.unary().map(|v| !v)
            }
            Some(Token::Number(n)) => {
                self.pos += 1;
                Ok(n)
            }
            Some(Token::Open) => {
                self.pos += 1;
                let value = self.binary(0)?;
                if self.tokens.get(self.pos) != Some(&Token::Close) {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                Ok(value)
            }
            _ => Err("expected a number".into()),
        };
        self.depth -= 1;
        result
    }
}
