//! What a Prometheus endpoint (the server's `/metrics`) answers, read as samples: a name, its
//! labels and a value per line of the text format. The tests look series up by name and labels;
//! the benchmark reads the calls a server counted.

use std::collections::BTreeMap;

use crate::http::http_get;

/// One sample of the text format: `name{label="value",...} value [timestamp]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series' name (`grpc_server_handled_total`, `..._bucket`, `..._count`).
    pub name: String,
    /// Its labels, their values unescaped.
    pub labels: BTreeMap<String, String>,
    /// Its value (`+Inf`, `-Inf` and `NaN` read as such).
    pub value: f64,
}

/// One scrape: its text and the samples in it.
#[derive(Clone, Debug)]
pub struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    /// `GET /metrics` from the HTTP server at `addr`, which must answer 200 with the text format.
    pub fn fetch(addr: &str) -> Result<Self, String> {
        let answer = http_get(addr, "/metrics")?;
        if answer.status != 200 {
            return Err(format!(
                "GET /metrics from {addr} answered {}: {}",
                answer.status, answer.body
            ));
        }
        Scrape::parse(&answer.body)
    }

    /// Reads the text format's sample lines; comments (`# HELP`, `# TYPE`) and blank lines are
    /// passed over.
    pub fn parse(text: &str) -> Result<Self, String> {
        let samples = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| sample(line).map_err(|e| format!("{e} in the metrics line {line:?}")))
            .collect::<Result<_, _>>()?;
        Ok(Scrape {
            text: text.to_string(),
            samples,
        })
    }

    /// The text as it was read.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every sample of `name` whose labels include `labels` (and maybe others).
    pub fn all(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|sample| {
                sample.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| sample.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample of `name` whose labels include `labels`; an error, with the
    /// whole text, when there is none or more than one.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64, String> {
        match self.all(name, labels).as_slice() {
            [sample] => Ok(sample.value),
            found => Err(format!(
                "{} samples of {name} {labels:?} in:\n{}",
                found.len(),
                self.text
            )),
        }
    }

    /// [`get`](Scrape::get), for tests: panics unless there is exactly one such sample.
    #[track_caller]
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// One sample line.
fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ', '\t']).ok_or("no value")?;
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inside) = rest.strip_prefix('{') {
        rest = read_labels(inside, &mut labels)?;
    }
    // A timestamp may follow the value.
    let value = rest.split_whitespace().next().ok_or("no value")?;
    Ok(Sample {
        name: line[..name_end].to_string(),
        labels,
        value: value
            .parse()
            .map_err(|_| format!("{value:?} is not a number"))?,
    })
}

/// Reads `key="value"` pairs, separated by commas, up to the closing `}` into `labels`; returns
/// what follows it. A value may hold `\"`, `\\` and `\n`, escaped as the format has them.
fn read_labels<'a>(
    mut text: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, String> {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Ok(rest);
        }
        let (key, quoted) = text.split_once("=\"").ok_or("label=\"value\" expected")?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars
                .next()
                .ok_or("a label value without its closing quote")?
            {
                (at, '"') => break at,
                (_, '\\') => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => return Err("a label value ends in a backslash".to_string()),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_string(), value);
        text = quoted[end + 1..].trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP calls_total Calls.
# TYPE calls_total counter
calls_total{method="Get",code="OK"} 3
calls_total{method="Get",code="NotFound",} 1 1700000000000
seconds_bucket{le="+Inf"} +Inf
odd{path="a \"quoted\" \\ path\nwith, comma"} 2.5e-3
up 1
"#;

    #[test]
    fn samples_are_read_with_their_labels_and_values() {
        let scrape = Scrape::parse(TEXT).unwrap();
        assert_eq!(scrape.all("calls_total", &[]).len(), 2);
        assert_eq!(scrape.get("calls_total", &[("code", "OK")]), Ok(3.0));
        // A trailing comma and a timestamp.
        assert_eq!(scrape.value("calls_total", &[("code", "NotFound")]), 1.0);
        assert_eq!(
            scrape.value("seconds_bucket", &[("le", "+Inf")]),
            f64::INFINITY
        );
        let odd = scrape.all("odd", &[("path", "a \"quoted\" \\ path\nwith, comma")]);
        assert_eq!(odd.len(), 1);
        assert_eq!(odd[0].value, 0.0025);
        assert_eq!(scrape.value("up", &[]), 1.0);
        assert_eq!(scrape.text(), TEXT);
    }

    #[test]
    fn none_or_several_samples_are_no_value() {
        let scrape = Scrape::parse(TEXT).unwrap();
        let several = scrape.get("calls_total", &[("method", "Get")]).unwrap_err();
        assert!(several.starts_with("2 samples of calls_total"), "{several}");
        assert!(scrape.get("missing", &[]).is_err());
        assert!(scrape.get("up", &[("job", "x")]).is_err());
    }

    #[test]
    fn a_broken_line_is_an_error_naming_it() {
        for broken in ["up", "up{a=\"b\" 1", "up{a=b} 1", "up one"] {
            let error = Scrape::parse(broken).unwrap_err();
            assert!(error.contains(&format!("{broken:?}")), "{error}");
        }
    }
}
