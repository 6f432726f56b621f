//! The figures a scenario benchmark reports: a table on stdout and, when
//! `FLOWGATE_BENCH_OUT` names a file, one JSON object per figure appended to it for
//! `cargo xtask bench` to collect.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;

/// Whether the benchmark was asked for a short run (`--quick`).
pub fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

/// The figures of one scenario benchmark.
#[derive(Debug)]
pub struct Report {
    bench: &'static str,
    rows: Vec<Row>,
}

#[derive(Debug)]
struct Row {
    metric: String,
    value: f64,
    unit: String,
    goal: String,
}

impl Report {
    /// An empty report for the benchmark named `bench`.
    pub fn new(bench: &'static str) -> Report {
        Report {
            bench,
            rows: Vec::new(),
        }
    }

    /// Records a figure and prints it as a table row at once, so long runs show progress.
    pub fn add(&mut self, metric: &str, value: f64, unit: &str, goal: &str) {
        println!("{metric:<52} {value:>12.3} {unit:<14} goal {goal}");
        self.rows.push(Row {
            metric: metric.to_owned(),
            value,
            unit: unit.to_owned(),
            goal: goal.to_owned(),
        });
    }

    /// Appends every figure to `FLOWGATE_BENCH_OUT`, if it is set.
    ///
    /// # Panics
    ///
    /// If the file cannot be written: a benchmark run whose figures are lost should fail.
    pub fn write_json(&self) {
        let Ok(path) = std::env::var("FLOWGATE_BENCH_OUT") else {
            return;
        };
        let mut out = String::new();
        for row in &self.rows {
            // A figure that could not be measured (NaN, infinite) is written as null.
            let value = if row.value.is_finite() {
                format!("{}", row.value)
            } else {
                "null".to_owned()
            };
            let _ = writeln!(
                out,
                "{{\"bench\":{},\"metric\":{},\"value\":{value},\"unit\":{},\"goal\":{}}}",
                json_string(self.bench),
                json_string(&row.metric),
                json_string(&row.unit),
                json_string(&row.goal),
            );
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(out.as_bytes()))
            .unwrap_or_else(|e| panic!("cannot append the figures to {path}: {e}"));
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn strings_are_escaped_for_json() {
        assert_eq!(json_string(r#"a "b" \ c"#), r#""a \"b\" \\ c""#);
        assert_eq!(json_string("tab\there"), r#""tab\u0009here""#);
    }
}
