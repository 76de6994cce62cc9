//! Source freshness: how old the newest row of each source is, against `warn_after` /
//! `error_after` (`{count: 12, period: hour}`).

use chrono::{DateTime, Duration, Utc};
use orderlake_project::quote_ident;
use orderlake_project::{Project, Source};
use serde::Serialize;

use crate::output::first_string;
use crate::warehouse::Warehouse;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FreshnessStatus {
    Pass,
    Warn,
    Error,
    #[serde(rename = "runtime error")]
    RuntimeError,
}

#[derive(Debug, Clone, Serialize)]
pub struct FreshnessResult {
    pub unique_id: String,
    pub source: String,
    pub status: FreshnessStatus,
    pub max_loaded_at: Option<String>,
    pub age_seconds: Option<i64>,
    pub warn_after_seconds: Option<i64>,
    pub error_after_seconds: Option<i64>,
    pub message: Option<String>,
}

fn threshold(freshness: &serde_json::Value, key: &str) -> Result<Option<Duration>, String> {
    let Some(spec) = freshness.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let count = spec
        .get("count")
        .and_then(|c| c.as_i64())
        .ok_or_else(|| format!("{key}: count must be a whole number"))?;
    let period = spec
        .get("period")
        .and_then(|p| p.as_str())
        .unwrap_or("hour");
    let duration = match period.trim_end_matches('s') {
        "minute" => Duration::minutes(count),
        "hour" => Duration::hours(count),
        "day" => Duration::days(count),
        other => {
            return Err(format!(
                "{key}: period '{other}' is not one of minute, hour, day"
            ));
        }
    };
    Ok(Some(duration))
}

/// Sources that declare both `loaded_at_field` and a `freshness` block.
pub fn checked_sources(project: &Project) -> Vec<&Source> {
    project
        .sources
        .values()
        .filter(|s| {
            s.loaded_at_field.is_some() && s.freshness.as_ref().is_some_and(|f| !f.is_null())
        })
        .collect()
}

pub async fn check(warehouse: &Warehouse, source: &Source, now: DateTime<Utc>) -> FreshnessResult {
    let mut result = FreshnessResult {
        unique_id: source.unique_id.clone(),
        source: format!("{}.{}", source.source_name, source.name),
        status: FreshnessStatus::Pass,
        max_loaded_at: None,
        age_seconds: None,
        warn_after_seconds: None,
        error_after_seconds: None,
        message: None,
    };
    let freshness = source.freshness.clone().unwrap_or_default();
    let (warn, error) = match (
        threshold(&freshness, "warn_after"),
        threshold(&freshness, "error_after"),
    ) {
        (Ok(w), Ok(e)) => (w, e),
        (Err(m), _) | (_, Err(m)) => {
            result.status = FreshnessStatus::RuntimeError;
            result.message = Some(format!("{}: {m}", source.path.display()));
            return result;
        }
    };
    result.warn_after_seconds = warn.map(|d| d.num_seconds());
    result.error_after_seconds = error.map(|d| d.num_seconds());
    let field = source.loaded_at_field.clone().unwrap_or_default();
    let filter = freshness
        .get("filter")
        .and_then(|f| f.as_str())
        .map(|f| format!(" where {f}"))
        .unwrap_or_default();
    let sql = format!(
        "select cast(max(cast({} as timestamp)) as varchar) from {}{filter}",
        quote_ident(&field),
        source.relation
    );
    let latest = match warehouse.sql(&sql).await {
        Ok(df) => match df.collect().await {
            Ok(batches) => first_string(&batches),
            Err(e) => {
                result.status = FreshnessStatus::RuntimeError;
                result.message = Some(e.to_string());
                return result;
            }
        },
        Err(e) => {
            result.status = FreshnessStatus::RuntimeError;
            result.message = Some(e.to_string());
            return result;
        }
    };
    let Some(latest) = latest else {
        result.status = FreshnessStatus::Error;
        result.message = Some("the source has no rows".into());
        return result;
    };
    let parsed = chrono::NaiveDateTime::parse_from_str(&latest, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(&latest, "%Y-%m-%d %H:%M:%S%.f"))
        .map(|t| t.and_utc());
    let Ok(max_loaded_at) = parsed else {
        result.status = FreshnessStatus::RuntimeError;
        result.message = Some(format!("cannot read '{latest}' as a timestamp"));
        return result;
    };
    let age = now - max_loaded_at;
    result.max_loaded_at = Some(max_loaded_at.to_rfc3339());
    result.age_seconds = Some(age.num_seconds());
    result.status = if error.is_some_and(|e| age > e) {
        FreshnessStatus::Error
    } else if warn.is_some_and(|w| age > w) {
        FreshnessStatus::Warn
    } else {
        FreshnessStatus::Pass
    };
    result
}
