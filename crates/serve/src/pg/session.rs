//! Statements that are about the session rather than the data (`SET`, `SHOW`, `BEGIN`,
//! `DISCARD ALL`, ...) and the statements the endpoint refuses because it is read-only.

/// Settings clients ask for with `SHOW`, `current_setting()` or `pg_settings`.
pub const SETTINGS: &[(&str, &str)] = &[
    ("server_version", "15.0"),
    ("server_version_num", "150000"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("timezone", "UTC"),
    ("intervalstyle", "postgres"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("transaction_isolation", "read committed"),
    ("default_transaction_isolation", "read committed"),
    ("transaction_read_only", "on"),
    ("default_transaction_read_only", "on"),
    ("search_path", "\"$user\", public"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    ("block_size", "8192"),
    ("lc_collate", "C.UTF-8"),
    ("lc_ctype", "C.UTF-8"),
    ("lc_messages", "C.UTF-8"),
    ("application_name", ""),
    ("extra_float_digits", "1"),
    ("is_superuser", "off"),
    ("statement_timeout", "0"),
    ("bytea_output", "hex"),
    ("ssl", "off"),
];

/// What `version()` returns: clients parse the leading `PostgreSQL <major>.<minor>`.
pub fn version_string() -> String {
    format!(
        "PostgreSQL 15.0 (orderlake {}) on x86_64-pc-linux-gnu, read-only",
        env!("CARGO_PKG_VERSION")
    )
}

/// The value of a setting, as `SHOW` prints it.
pub fn setting(name: &str) -> Option<&'static str> {
    let name = name.trim().trim_matches('"').to_ascii_lowercase();
    let name = match name.as_str() {
        "transaction isolation level" => "transaction_isolation",
        "time zone" => "timezone",
        other => other,
    };
    SETTINGS.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

/// How one statement is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run on DataFusion.
    Query,
    /// `SHOW name` (or `SHOW ALL` when `None`).
    Show(Option<String>),
    /// `SHOW name` of a setting this connection changed: its name and value.
    Shown(String, String),
    /// Acknowledged with this tag and otherwise ignored: session settings have one value here.
    Ack(&'static str),
    /// `SET search_path TO a, b` (or `SET SCHEMA 'a'`): where bare table names are looked up,
    /// for this connection. Empty for `RESET search_path`.
    SearchPath(Vec<String>),
    /// `BEGIN`: every statement reads one snapshot anyway.
    Begin,
    /// `COMMIT` / `ROLLBACK`.
    End(&'static str),
    /// Writes and DDL: refused, naming the statement.
    Refused(String),
}

const WRITES: &[&str] = &[
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "REPLACE",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "GRANT",
    "REVOKE",
    "COPY",
    "VACUUM",
    "ANALYZE",
    "COMMENT",
    "REFRESH",
    "CALL",
    "DO",
    "LOCK",
    "REINDEX",
    "CLUSTER",
    "IMPORT",
    "SECURITY",
    "PREPARE",
    "EXECUTE",
    "CHECKPOINT",
    "LOAD",
    "ATTACH",
    "DETACH",
    "INSTALL",
];

/// Classifies one statement by its leading keywords.
pub fn classify(sql: &str) -> Command {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .filter(|w| !w.is_empty())
        .take(3)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let first = words.first().map(String::as_str).unwrap_or("");
    match first {
        "SHOW" => {
            let rest = sql.trim().trim_end_matches(';')[4..].trim().to_string();
            if rest.eq_ignore_ascii_case("all") {
                Command::Show(None)
            } else {
                Command::Show(Some(rest))
            }
        }
        "SET" | "RESET" => match search_path_setting(sql) {
            Some(path) => Command::SearchPath(path),
            None => Command::Ack(if first == "SET" { "SET" } else { "RESET" }),
        },
        "DISCARD" => Command::Ack("DISCARD ALL"),
        "DEALLOCATE" => Command::Ack("DEALLOCATE"),
        "CLOSE" => Command::Ack("CLOSE CURSOR"),
        "LISTEN" => Command::Ack("LISTEN"),
        "UNLISTEN" => Command::Ack("UNLISTEN"),
        "SAVEPOINT" => Command::Ack("SAVEPOINT"),
        "RELEASE" => Command::Ack("RELEASE"),
        "BEGIN" | "START" => Command::Begin,
        "COMMIT" | "END" => Command::End("COMMIT"),
        "ROLLBACK" | "ABORT" => {
            if words.get(1).is_some_and(|w| w == "TO") {
                Command::Ack("ROLLBACK")
            } else {
                Command::End("ROLLBACK")
            }
        }
        w if WRITES.contains(&w) => {
            let verb = match (w, words.get(1).map(String::as_str)) {
                ("CREATE" | "DROP" | "ALTER", Some(object)) => format!("{w} {object}"),
                ("INSERT" | "DELETE", _) => w.to_string(),
                _ => w.to_string(),
            };
            Command::Refused(verb)
        }
        _ => Command::Query,
    }
}

/// The metadata key a connection's search path is kept under (as a startup parameter would be).
pub const SEARCH_PATH: &str = "search_path";

/// The schemas of `SET [SESSION|LOCAL] search_path {TO|=} ...`, `SET SCHEMA '...'` or
/// `RESET search_path` (empty), if `sql` is one of those.
pub fn search_path_setting(sql: &str) -> Option<Vec<String>> {
    let sql = sql.trim().trim_end_matches(';').trim();
    let lower = sql.to_ascii_lowercase();
    if lower == "reset search_path" || lower == "reset all" {
        return Some(vec![]);
    }
    let rest = lower.strip_prefix("set")?.trim_start();
    let offset = sql.len() - rest.len();
    let rest_original = &sql[offset..];
    let (rest, rest_original) = match ["session ", "local "].iter().find(|p| rest.starts_with(*p)) {
        Some(p) => (
            rest[p.len()..].trim_start(),
            rest_original[p.len()..].trim_start(),
        ),
        None => (rest, rest_original),
    };
    let value = if let Some(after) = rest.strip_prefix("search_path") {
        let after_original = &rest_original[rest_original.len() - after.len()..];
        let after_original = after_original.trim_start();
        after_original
            .strip_prefix('=')
            .or_else(|| {
                after_original
                    .get(..3)
                    .filter(|w| w.eq_ignore_ascii_case("to "))
                    .map(|_| &after_original[3..])
            })?
            .trim()
    } else if rest.starts_with("schema ") {
        rest_original["schema ".len()..].trim()
    } else {
        return None;
    };
    Some(parse_search_path(value))
}

/// `"$user", public, 'gold'` → the schema names, unquoted (identifiers folded to lower case).
pub fn parse_search_path(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            if v.len() >= 2
                && ((v.starts_with('"') && v.ends_with('"'))
                    || (v.starts_with('\'') && v.ends_with('\'')))
            {
                v[1..v.len() - 1].to_string()
            } else {
                v.to_ascii_lowercase()
            }
        })
        .filter(|v| v != "$user" && !v.eq_ignore_ascii_case("default"))
        .collect()
}

/// A search path from the startup `options` parameter (`-c search_path=gold` or
/// `-csearch_path=gold,public`), as libpq's `options=` sends it.
pub fn search_path_from_options(options: &str) -> Option<Vec<String>> {
    let mut words = options.split_whitespace();
    while let Some(word) = words.next() {
        let setting = match word {
            "-c" => words.next()?,
            other => match other.strip_prefix("-c") {
                Some(rest) => rest,
                None => other.strip_prefix("--")?,
            },
        };
        if let Some(value) = setting.strip_prefix("search_path=") {
            return Some(parse_search_path(&value.replace("\\,", ",")));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_statements_are_acknowledged_and_writes_refused() {
        assert_eq!(classify("select 1"), Command::Query);
        assert_eq!(
            classify("  WITH x AS (select 1) select * from x"),
            Command::Query
        );
        assert_eq!(classify("SET extra_float_digits = 3"), Command::Ack("SET"));
        assert_eq!(classify("DISCARD ALL"), Command::Ack("DISCARD ALL"));
        assert_eq!(
            classify("SHOW transaction isolation level"),
            Command::Show(Some("transaction isolation level".into()))
        );
        assert_eq!(classify("begin"), Command::Begin);
        assert_eq!(classify("ROLLBACK"), Command::End("ROLLBACK"));
        assert_eq!(
            classify("drop table gold.customer_metrics"),
            Command::Refused("DROP TABLE".into())
        );
        assert_eq!(
            classify("insert into x values (1)"),
            Command::Refused("INSERT".into())
        );
        assert_eq!(setting("TimeZone"), Some("UTC"));
        assert_eq!(
            classify("set search_path = \"gold\""),
            Command::SearchPath(vec!["gold".into()])
        );
        assert_eq!(
            classify("SET SESSION search_path TO \"$user\", Silver, public;"),
            Command::SearchPath(vec!["silver".into(), "public".into()])
        );
        assert_eq!(
            classify("SET SCHEMA 'gold'"),
            Command::SearchPath(vec!["gold".into()])
        );
        assert_eq!(classify("RESET search_path"), Command::SearchPath(vec![]));
        assert_eq!(classify("SET extra_float_digits = 3"), Command::Ack("SET"));
        assert_eq!(
            search_path_from_options("-c search_path=gold,public"),
            Some(vec!["gold".into(), "public".into()])
        );
        assert_eq!(
            search_path_from_options("-csearch_path=gold"),
            Some(vec!["gold".into()])
        );
        assert_eq!(search_path_from_options("-c statement_timeout=0"), None);
        assert_eq!(
            setting("transaction isolation level"),
            Some("read committed")
        );
    }
}
