//! Number parsing and formatting with the exact rules of the Python functions kconfgen relies on
//! (`int(s, base)`, `float(s)`, `repr(float)`, `hex()`), so that our values compare and print as its do.

/// Python's `int(s, base)` for base 0, 10 or 16: surrounding whitespace, a sign, an optional `0x`
/// prefix (base 16 and 0), `0o`/`0b` (base 0), single underscores between digits; base 0 refuses
/// leading zeros in a non-zero decimal. `None` where Python raises `ValueError` (or past i128).
pub fn py_int(s: &str, base: u32) -> Option<i128> {
    let s = s.trim_matches(|c: char| c.is_whitespace());
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower_prefix = |p: &str| s.get(..2).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let (radix, digits, had_prefix) = match base {
        16 if lower_prefix("0x") => (16, &s[2..], true),
        16 => (16, s, false),
        10 => (10, s, false),
        0 if lower_prefix("0x") => (16, &s[2..], true),
        0 if lower_prefix("0o") => (8, &s[2..], true),
        0 if lower_prefix("0b") => (2, &s[2..], true),
        0 => (10, s, false),
        _ => return None,
    };
    // An underscore may follow a base prefix directly; otherwise only between digits.
    let digits = if had_prefix {
        digits.strip_prefix('_').unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value: i128 = 0;
    let mut all_zero = true;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix)?;
        if d != 0 {
            all_zero = false;
        }
        value = value.checked_mul(radix as i128)?.checked_add(d as i128)?;
    }
    if base == 0 && radix == 10 && !all_zero && digits.starts_with('0') {
        return None;
    }
    Some(if neg { -value } else { value })
}

/// True when Python's `int(s, base)` accepts `s`.
pub fn is_base_n(s: &str, base: u32) -> bool {
    py_int(s, base).is_some()
}

/// Python's `float(s)`: decimal and exponent forms, `inf`/`infinity`/`nan` in any case, a sign,
/// surrounding whitespace, single underscores between digits.
pub fn py_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c.is_whitespace());
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    let lower = unsigned.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        let v = if lower == "nan" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(if t.starts_with('-') { -v } else { v });
    }
    // Validate the shape: digits with single underscores between digits, optional fraction and
    // exponent. Rust's parser accepts the rest of the grammar as Python does.
    let bytes = unsigned.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut prev_digit = false;
    let mut cleaned = String::with_capacity(t.len());
    if t.starts_with('-') {
        cleaned.push('-');
    }
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                prev_digit = true;
                cleaned.push(b as char);
            }
            b'_' => {
                let next_digit = bytes.get(i + 1).is_some_and(|n| n.is_ascii_digit());
                if !prev_digit || !next_digit {
                    return None;
                }
            }
            b'.' | b'e' | b'E' | b'+' | b'-' => {
                prev_digit = false;
                cleaned.push(b as char);
            }
            _ => return None,
        }
    }
    if !cleaned.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation for exponents in
/// -4..16 (always with a fractional part), otherwise `d.ddde+XX`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("LowerExp always has an exponent");
    let exp: i32 = exp.parse().expect("LowerExp exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let split = (exp + 1) as usize;
            format!("{}.{}", &digits[..split], &digits[split..])
        };
        format!("{sign}{body}")
    } else {
        let mant = if digits.len() == 1 {
            digits.clone()
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

/// Python's `hex(n)`: `0x` and lower-case digits, `-0x...` for negatives.
pub fn py_hex(n: i128) -> String {
    if n < 0 {
        format!("-{:#x}", -n)
    } else {
        format!("{n:#x}")
    }
}

/// Python's `os.path.expandvars` on POSIX: `$NAME` and `${NAME}` (NAME of ASCII letters, digits,
/// `_`) are replaced when `lookup` knows them and left as written otherwise.
pub fn expandvars(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let (name, end) = if bytes.get(i + 1) == Some(&b'{') {
            match s[i + 2..].find('}') {
                Some(close) => (&s[i + 2..i + 2 + close], i + 2 + close + 1),
                None => {
                    i += 1;
                    continue;
                }
            }
        } else {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            if j == start {
                i += 1;
                continue;
            }
            (&s[start..j], j)
        };
        if let Some(value) = lookup(name) {
            out.push_str(&s[copied..i]);
            out.push_str(&value);
            copied = end;
        }
        i = end;
    }
    out.push_str(&s[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_parsing_follows_python() {
        assert_eq!(py_int("10", 10), Some(10));
        assert_eq!(py_int("010", 10), Some(10));
        assert_eq!(py_int("010", 0), None);
        assert_eq!(py_int("00", 0), Some(0));
        assert_eq!(py_int("0x1F", 0), Some(31));
        assert_eq!(py_int("0x1F", 16), Some(31));
        assert_eq!(py_int("1F", 16), Some(31));
        assert_eq!(py_int("0x", 16), None);
        assert_eq!(py_int(" -5 ", 10), Some(-5));
        assert_eq!(py_int("+5", 10), Some(5));
        assert_eq!(py_int("1_000", 10), Some(1000));
        assert_eq!(py_int("0x_ff", 16), Some(255));
        assert_eq!(py_int("1__0", 10), None);
        assert_eq!(py_int("_1", 10), None);
        assert_eq!(py_int("esp32", 0), None);
        assert_eq!(py_int("0x10", 10), None);
        assert_eq!(py_int("0b101", 0), Some(5));
        assert_eq!(py_int("", 10), None);
        assert_eq!(py_int("€", 16), None);
        assert_eq!(py_int("0€", 0), None);
    }

    #[test]
    fn float_parsing_and_repr_follow_python() {
        assert_eq!(py_float("1.5"), Some(1.5));
        assert_eq!(py_float("5"), Some(5.0));
        assert_eq!(py_float("1e-6"), Some(1e-6));
        assert!(py_float("nan").unwrap().is_nan());
        assert_eq!(py_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(py_float("esp32"), None);
        assert_eq!(py_float("1_0.5"), Some(10.5));
        assert_eq!(py_float("."), None);
        assert_eq!(float_repr(5.0), "5.0");
        assert_eq!(float_repr(0.1), "0.1");
        assert_eq!(float_repr(1e-6), "1e-06");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1.5e16), "1.5e+16");
        assert_eq!(float_repr(123456.789), "123456.789");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(-2.5), "-2.5");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
    }

    #[test]
    fn hex_and_expandvars_follow_python() {
        assert_eq!(py_hex(5), "0x5");
        assert_eq!(py_hex(0xABC), "0xabc");
        assert_eq!(py_hex(-1), "-0x1");
        let env = |n: &str| (n == "A").then(|| "x".to_string());
        assert_eq!(
            expandvars("$A/${A}/$B/${B}/$/$(A)", &env),
            "x/x/$B/${B}/$/$(A)"
        );
        assert_eq!(expandvars("no vars", &env), "no vars");
        assert_eq!(expandvars("${unterminated", &env), "${unterminated");
    }
}
