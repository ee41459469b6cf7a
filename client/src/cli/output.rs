//! Rendering: where output goes, when it is colored, and the small formatting helpers the commands
//! share (tables, ages, sizes).
//!
//! Colors and progress indicators appear only on terminals, and colors only when `NO_COLOR` is unset or
//! empty (and `TERM` is not `dumb`). Anything written to a pipe or a file is plain text.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

/// How this invocation renders.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json`: machine-readable output on stdout, as documented in JSON.md.
    pub json: bool,
    /// Color stdout.
    pub color_stdout: bool,
    /// Color stderr.
    pub color_stderr: bool,
    /// Show progress spinners on stderr.
    pub progress: bool,
}

impl Output {
    /// Decide from the flags, the environment and whether the streams are terminals.
    pub fn detect(json: bool) -> Output {
        let colors_allowed = colors_allowed(
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        );
        let stdout_tty = io::stdout().is_terminal();
        let stderr_tty = io::stderr().is_terminal();
        Output {
            json,
            color_stdout: colors_allowed && stdout_tty,
            color_stderr: colors_allowed && stderr_tty,
            progress: stderr_tty && !json,
        }
    }

    /// Plain output everywhere (for tests).
    #[cfg(test)]
    pub fn plain(json: bool) -> Output {
        Output {
            json,
            color_stdout: false,
            color_stderr: false,
            progress: false,
        }
    }

    /// `text` in `color` when stdout is colored.
    pub fn paint(&self, color: Color, text: &str) -> String {
        paint(self.color_stdout, color, text)
    }

    /// `text` in `color` when stderr is colored.
    pub fn paint_err(&self, color: Color, text: &str) -> String {
        paint(self.color_stderr, color, text)
    }
}

/// `NO_COLOR` set to anything non-empty disables colors, as does a dumb terminal.
pub fn colors_allowed(no_color: Option<&std::ffi::OsStr>, term: Option<&std::ffi::OsStr>) -> bool {
    let no_color = no_color.is_some_and(|v| !v.is_empty());
    let dumb = term.is_some_and(|t| t == "dumb");
    !no_color && !dumb
}

/// The few colors espctl uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Red,
    Green,
    Yellow,
    Cyan,
    Dim,
    Bold,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Color::Red => "1;31",
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Cyan => "36",
            Color::Dim => "2",
            Color::Bold => "1",
        }
    }
}

fn paint(enabled: bool, color: Color, text: &str) -> String {
    if enabled {
        format!("\x1b[{}m{text}\x1b[0m", color.code())
    } else {
        text.to_string()
    }
}

/// Write `line` and a newline to stdout. Errors (a closed pipe) propagate so that `main` can exit
/// quietly instead of panicking like `println!`.
pub fn line(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Write `value` as one line of compact JSON to stdout.
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let text = serde_json::to_string(value).map_err(io::Error::other)?;
    line(&text)
}

/// A note for humans on stderr (never part of the machine-readable output).
pub fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// A table: left-aligned columns separated by two spaces. `style` may color a cell after it was
/// padded, so that escape codes do not disturb the alignment.
pub fn table(
    header: &[&str],
    rows: &[Vec<String>],
    style: impl Fn(usize, &str) -> String,
) -> Vec<String> {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let render = |cells: &mut dyn Iterator<Item = (usize, String)>| {
        let mut out = String::new();
        for (i, cell) in cells {
            let last = i + 1 == columns;
            let padded = if last {
                cell.clone()
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                format!("{cell}{}", " ".repeat(pad))
            };
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(&style(i, &padded));
        }
        out.trim_end().to_string()
    };
    let mut lines = Vec::with_capacity(rows.len() + 1);
    lines.push(render(
        &mut header.iter().map(|h| h.to_string()).enumerate(),
    ));
    for row in rows {
        lines.push(render(&mut row.iter().cloned().enumerate().take(columns)));
    }
    lines
}

/// A compact age: `42s`, `5m`, `3h`, `12d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// A duration for humans: `45s`, `3m 12s`, `2h 5m`, `4d 1h`.
pub fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// A byte count with a binary-unit approximation: `119675 bytes (116.9 KiB)`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{bytes} bytes ({value:.1} {})", UNITS[unit])
}

/// A progress fraction as a percentage: `0.423` → `42%`.
pub fn percent(progress: f64) -> String {
    let clamped = if progress.is_finite() {
        progress.clamp(0.0, 1.0)
    } else {
        0.0
    };
    format!("{:.0}%", clamped * 100.0)
}

/// Unix seconds as local time, `2026-05-05 04:52:56`.
pub fn timestamp(unix_seconds: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_opt(unix_seconds, 0) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        chrono::LocalResult::None => unix_seconds.to_string(),
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The first `n` characters of a hex digest.
pub fn short_hash(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn no_color_disables_colors_only_when_non_empty() {
        assert!(colors_allowed(None, None));
        assert!(colors_allowed(
            Some(OsStr::new("")),
            Some(OsStr::new("xterm"))
        ));
        assert!(!colors_allowed(Some(OsStr::new("1")), None));
        assert!(!colors_allowed(None, Some(OsStr::new("dumb"))));
    }

    #[test]
    fn plain_output_has_no_escape_codes() {
        let out = Output::plain(false);
        assert_eq!(out.paint(Color::Red, "failed"), "failed");
        let colored = paint(true, Color::Green, "ok");
        assert_eq!(colored, "\x1b[32mok\x1b[0m");
    }

    #[test]
    fn tables_align_columns_and_trim_the_last() {
        let rows = vec![
            vec!["a".to_string(), "running".to_string(), "x".to_string()],
            vec!["bbbb".to_string(), "ok".to_string(), "".to_string()],
        ];
        let lines = table(&["ID", "STATUS", "TITLE"], &rows, |_, cell| {
            cell.to_string()
        });
        assert_eq!(
            lines,
            vec!["ID    STATUS   TITLE", "a     running  x", "bbbb  ok"]
        );
    }

    #[test]
    fn styled_cells_keep_alignment() {
        let rows = vec![vec!["a".to_string(), "b".to_string()]];
        let lines = table(&["X", "Y"], &rows, |i, cell| {
            if i == 0 {
                paint(true, Color::Red, cell)
            } else {
                cell.to_string()
            }
        });
        assert_eq!(lines[1], "\x1b[1;31ma\x1b[0m  b");
    }

    #[test]
    fn ages_and_durations() {
        assert_eq!(age(-5), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(60), "1m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(3 * 86400 + 5), "3d");
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(192), "3m 12s");
        assert_eq!(duration(7500), "2h 5m");
        assert_eq!(duration(90000), "1d 1h");
    }

    #[test]
    fn sizes_percentages_and_hashes() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(119675), "119675 bytes (116.9 KiB)");
        assert_eq!(size(5 * 1024 * 1024), "5242880 bytes (5.0 MiB)");
        assert_eq!(percent(0.423), "42%");
        assert_eq!(percent(1.5), "100%");
        assert_eq!(percent(f64::NAN), "0%");
        assert_eq!(short_hash("e1d36f0123456789abcdef"), "e1d36f012345");
        assert_eq!(short_hash("abc"), "abc");
    }
}
