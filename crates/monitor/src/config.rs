//! `health.yml`, what the project watches and whom it tells: the gold metrics checked for
//! anomalies, how sensitive the checks are, and where alerts go. This module owns the file's
//! format; everything else gets a [`HealthConfig`]. A project without the file gets the defaults:
//! runs, tests, freshness and row counts are still watched, nobody is alerted.
//!
//! ```yaml
//! anomalies:
//!   threshold: 3.5        # |robust z| beyond which a value is an anomaly
//!   weeks: 8              # a day is compared with the same weekday of the 8 weeks before
//!   runs: 20              # a model's row count with its last 20 full refreshes
//!   min_history: 4        # fewer earlier values than this: not judged
//! metrics:
//!   - name: daily_revenue
//!     sql: select period_start as day, net_revenue as value from gold.sales_summary where grain = 'day'
//!     scale: log          # compare logarithms: revenue varies by multiples
//!     direction: drop     # only a fall is an anomaly (both | drop | rise)
//! alerts:
//!   - webhook: ${SLACK_WEBHOOK_URL}          # JSON with a Slack-style `text`
//!   - email:
//!       smtp: smtps://alerts:${SMTP_PASSWORD}@mail.example.com
//!       from: orderlake <alerts@example.com>
//!       to: [oncall@example.com]
//! ```
//!
//! `${NAME}` in a webhook or SMTP address is read from the environment when the file is loaded,
//! so secrets stay out of the project.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file's name, in the project folder.
pub const HEALTH_FILE: &str = "health.yml";

/// A health file that cannot be used, naming the file and, where known, the line or entry.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Yaml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {at}: {message}", path.display())]
    Entry {
        path: PathBuf,
        at: String,
        message: String,
    },
}

/// How anomalies are judged.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalySettings {
    pub threshold: f64,
    pub weeks: usize,
    pub runs: usize,
    pub min_history: usize,
}

impl Default for AnomalySettings {
    fn default() -> Self {
        AnomalySettings {
            threshold: 3.5,
            weeks: 8,
            runs: 20,
            min_history: 4,
        }
    }
}

/// Values compared as they are, or as logarithms (for amounts that vary by multiples).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    #[default]
    Linear,
    Log,
}

/// Which way a value must move to count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Both,
    Drop,
    Rise,
}

/// A daily gold metric: a query giving one `value` per `day`, with Jinja as in a model (`ref`,
/// `var`, the project's macros).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub sql: String,
    #[serde(default)]
    pub scale: Scale,
    #[serde(default)]
    pub direction: Direction,
}

/// Where alerts go.
#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    /// POST of a JSON document whose `text` a Slack (or Mattermost, Teams workflow) webhook shows.
    Webhook { url: String },
    /// A mail through an SMTP server: `smtp://host:25` (plain), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user:password@host` (TLS).
    Email {
        smtp: String,
        from: String,
        to: Vec<String>,
    },
}

impl Destination {
    /// Where it goes, without secrets: for logs and the Health page.
    pub fn describe(&self) -> String {
        match self {
            Destination::Webhook { url } => format!("webhook {}", without_secrets(url)),
            Destination::Email { smtp, to, .. } => {
                format!("email to {} via {}", to.join(", "), without_secrets(smtp))
            }
        }
    }
}

/// An address with its user, password and query left out.
fn without_secrets(address: &str) -> String {
    match reqwest::Url::parse(address) {
        Ok(url) => format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(an address that is not a URL)".into(),
    }
}

/// The project's health settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthConfig {
    /// The file they came from; None for the defaults.
    pub path: Option<PathBuf>,
    pub anomalies: AnomalySettings,
    pub metrics: Vec<Metric>,
    pub alerts: Vec<Destination>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    anomalies: AnomalySettings,
    #[serde(default)]
    metrics: Vec<Metric>,
    #[serde(default)]
    alerts: Vec<RawDestination>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    webhook: Option<String>,
    email: Option<RawEmail>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    smtp: String,
    from: String,
    to: Vec<String>,
}

impl HealthConfig {
    /// `health.yml` of the project in `project_dir`, or the defaults when it has none.
    pub fn load(project_dir: &Path) -> Result<HealthConfig, ConfigError> {
        let path = project_dir.join(HEALTH_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path, &text, &|name| std::env::var(name).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HealthConfig::default()),
            Err(source) => Err(ConfigError::Io { path, source }),
        }
    }

    /// Parses the file's text; `env` resolves `${NAME}` in addresses.
    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<HealthConfig, ConfigError> {
        let raw: RawFile = if text.trim().is_empty() {
            RawFile {
                anomalies: AnomalySettings::default(),
                metrics: Vec::new(),
                alerts: Vec::new(),
            }
        } else {
            serde_yaml::from_str(text).map_err(|e| {
                let at = e.location();
                ConfigError::Yaml {
                    path: path.to_path_buf(),
                    line: at.as_ref().map_or(0, |l| l.line()),
                    column: at.as_ref().map_or(0, |l| l.column()),
                    message: e.to_string(),
                }
            })?
        };
        let entry = |at: String, message: String| ConfigError::Entry {
            path: path.to_path_buf(),
            at,
            message,
        };
        let settings = raw.anomalies;
        if !(settings.threshold.is_finite() && settings.threshold > 0.0) {
            return Err(entry(
                "anomalies.threshold".into(),
                format!("must be a positive number, not {}", settings.threshold),
            ));
        }
        if settings.min_history == 0 || settings.weeks < settings.min_history {
            return Err(entry(
                "anomalies".into(),
                format!(
                    "min_history ({}) must be at least 1 and at most weeks ({})",
                    settings.min_history, settings.weeks
                ),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, metric) in raw.metrics.iter().enumerate() {
            if metric.name.trim().is_empty() || metric.sql.trim().is_empty() {
                return Err(entry(
                    format!("metrics[{i}]"),
                    "a metric needs a name and a sql query".into(),
                ));
            }
            if !seen.insert(metric.name.clone()) {
                return Err(entry(
                    format!("metrics[{i}]"),
                    format!("two metrics are named `{}`", metric.name),
                ));
            }
        }
        let mut alerts = Vec::new();
        for (i, d) in raw.alerts.into_iter().enumerate() {
            let at = format!("alerts[{i}]");
            let expand = |s: &str| expand_env(s, env).map_err(|m| entry(at.clone(), m));
            alerts.push(match (d.webhook, d.email) {
                (Some(url), None) => {
                    let url = expand(&url)?;
                    match reqwest::Url::parse(&url) {
                        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                        _ => {
                            return Err(entry(
                                at,
                                "webhook: not an http:// or https:// URL".into(),
                            ));
                        }
                    }
                    Destination::Webhook { url }
                }
                (None, Some(email)) => {
                    let smtp = expand(&email.smtp)?;
                    if !(smtp.starts_with("smtp://") || smtp.starts_with("smtps://")) {
                        return Err(entry(
                            at,
                            "email.smtp: not an smtp:// or smtps:// URL".into(),
                        ));
                    }
                    if email.to.is_empty() {
                        return Err(entry(at, "email.to: no recipient".into()));
                    }
                    for address in std::iter::once(&email.from).chain(&email.to) {
                        if address.parse::<lettre::message::Mailbox>().is_err() {
                            return Err(entry(
                                at,
                                format!("email: `{address}` is not a mail address"),
                            ));
                        }
                    }
                    Destination::Email {
                        smtp,
                        from: email.from,
                        to: email.to,
                    }
                }
                _ => {
                    return Err(entry(
                        at,
                        "each alert destination is either `webhook: URL` or `email: {smtp, from, to}`"
                            .into(),
                    ));
                }
            });
        }
        Ok(HealthConfig {
            path: Some(path.to_path_buf()),
            anomalies: settings,
            metrics: raw.metrics,
            alerts,
        })
    }
}

/// `${NAME}` replaced by the variable's value; an unset variable is an error naming it.
fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("`${{` without a closing `}}` in `{text}`"));
        };
        let name = &after[..end];
        let value = env(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HealthConfig, ConfigError> {
        HealthConfig::parse(Path::new("p/health.yml"), text, &|name| {
            (name == "HOOK").then(|| "https://hooks.example.com/T/B/x".to_string())
        })
    }

    #[test]
    fn a_full_file_is_read_with_secrets_from_the_environment() {
        let config = parse(
            "anomalies: {threshold: 4, weeks: 6}\n\
             metrics:\n  - name: revenue\n    sql: select d as day, v as value from t\n    scale: log\n    direction: drop\n\
             alerts:\n  - webhook: ${HOOK}\n  - email: {smtp: 'smtp://127.0.0.1:2525', from: 'lake <a@b.io>', to: [c@d.io]}\n",
        )
        .expect("valid");
        assert_eq!(config.anomalies.threshold, 4.0);
        assert_eq!(config.anomalies.weeks, 6);
        assert_eq!(config.anomalies.runs, 20);
        assert_eq!(config.metrics[0].scale, Scale::Log);
        assert_eq!(config.metrics[0].direction, Direction::Drop);
        assert_eq!(
            config.alerts[0],
            Destination::Webhook {
                url: "https://hooks.example.com/T/B/x".into()
            }
        );
        assert_eq!(
            config.alerts[0].describe(),
            "webhook https://hooks.example.com"
        );
        assert_eq!(
            config.alerts[1].describe(),
            "email to c@d.io via smtp://127.0.0.1:2525"
        );
    }

    #[test]
    fn bad_files_say_where() {
        let cases = [
            ("metrics: [{name: a}]\n", "p/health.yml:1:"),
            (
                "alerts:\n  - webhook: ${NOPE}\n",
                "alerts[0]: environment variable NOPE is not set",
            ),
            (
                "alerts:\n  - webhook: ftp://x\n",
                "alerts[0]: webhook: not an http:// or https:// URL",
            ),
            (
                "alerts:\n  - email: {smtp: 'smtp://h', from: nobody, to: [a@b.c]}\n",
                "`nobody` is not a mail address",
            ),
            ("alerts:\n  - {}\n", "alerts[0]: each alert destination"),
            (
                "anomalies: {weeks: 2, min_history: 3}\n",
                "anomalies: min_history (3)",
            ),
            ("anomalies: {treshold: 3}\n", "unknown field `treshold`"),
            (
                "metrics:\n  - {name: a, sql: select 1}\n  - {name: a, sql: select 2}\n",
                "metrics[1]: two metrics are named `a`",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn no_file_means_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = HealthConfig::load(dir.path()).expect("defaults");
        assert_eq!(config, HealthConfig::default());
    }
}
