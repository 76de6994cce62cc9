//! Where a project's model queries run: in this process, or on an Apache Ballista cluster
//! (`ballista://host:port`, the scheduler's address). Parsed once from `--engine` or the
//! `engine:` of a `profiles.yml` output; anything else is refused by name.

use std::fmt;

/// The engine that runs model queries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Compute {
    /// DataFusion in this process.
    #[default]
    Local,
    /// A Ballista scheduler at `host:port` (its executors read the warehouse themselves).
    Ballista { host: String, port: u16 },
}

/// Ballista's scheduler port when a URL names none.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ComputeError {
    #[error(
        "engine '{text}': {why}; write `local` or `ballista://host:port` (a Ballista scheduler)"
    )]
    Invalid { text: String, why: String },
}

impl Compute {
    /// Reads `local` (or `datafusion`), or `ballista://host[:port]` (`df://` is Ballista's own
    /// spelling and is read the same).
    pub fn parse(text: &str) -> Result<Compute, ComputeError> {
        let trimmed = text.trim();
        let invalid = |why: String| ComputeError::Invalid {
            text: text.to_string(),
            why,
        };
        if trimmed.eq_ignore_ascii_case("local") || trimmed.eq_ignore_ascii_case("datafusion") {
            return Ok(Compute::Local);
        }
        let Some((scheme, _)) = trimmed.split_once("://") else {
            return Err(invalid("not an engine name or URL".into()));
        };
        if !matches!(scheme.to_ascii_lowercase().as_str(), "ballista" | "df") {
            return Err(invalid(format!(
                "{scheme}:// is not an engine orderlake can run on"
            )));
        }
        let url = url::Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("no scheduler host".into()))?;
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(invalid("a scheduler address has no path or ?query".into()));
        }
        Ok(Compute::Ballista {
            host: host.to_string(),
            port: url.port().unwrap_or(DEFAULT_SCHEDULER_PORT),
        })
    }
}

impl fmt::Display for Compute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compute::Local => write!(f, "local"),
            Compute::Ballista { host, port } => write!(f, "ballista://{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_local_and_ballista_addresses() {
        assert_eq!(Compute::parse("local"), Ok(Compute::Local));
        assert_eq!(
            Compute::parse("ballista://127.0.0.1:50060"),
            Ok(Compute::Ballista {
                host: "127.0.0.1".into(),
                port: 50060
            })
        );
        let default_port = Compute::parse("df://scheduler/").expect("df:// is Ballista's");
        assert_eq!(default_port.to_string(), "ballista://scheduler:50050");
    }

    #[test]
    fn refuses_other_engines_by_name() {
        let err = Compute::parse("spark://master:7077").expect_err("not ours");
        assert!(err.to_string().contains("spark://"), "{err}");
        let err = Compute::parse("ballista://").expect_err("no host");
        assert!(err.to_string().contains("no scheduler host"), "{err}");
        assert!(Compute::parse("cluster").is_err());
    }
}
