//! `dbt_project.yml`, the optional `profiles.yml`, and node configuration.
//!
//! Configuration comes from three places, applied in dbt's order: the `models:`/`seeds:`/`tests:`
//! tree of `dbt_project.yml` (by folder path), the `config:` block of a properties YAML file, and
//! the `{{ config(...) }}` call in the node's own SQL. Later wins, except `tags`, which add up.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::error::{ProjectError, Result};
use crate::location::StorageLocation;

/// The parsed `dbt_project.yml`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProjectFile {
    pub name: String,
    #[serde(default)]
    pub version: Option<serde_yaml::Value>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(
        default = "default_model_paths",
        rename = "model-paths",
        alias = "source-paths"
    )]
    pub model_paths: Vec<String>,
    #[serde(
        default = "default_seed_paths",
        rename = "seed-paths",
        alias = "data-paths"
    )]
    pub seed_paths: Vec<String>,
    #[serde(default = "default_test_paths", rename = "test-paths")]
    pub test_paths: Vec<String>,
    #[serde(default = "default_macro_paths", rename = "macro-paths")]
    pub macro_paths: Vec<String>,
    #[serde(default = "default_snapshot_paths", rename = "snapshot-paths")]
    pub snapshot_paths: Vec<String>,
    #[serde(default = "default_target_path", rename = "target-path")]
    pub target_path: String,
    /// Where `dbt deps` installs packages; orderlake reads them from there.
    #[serde(default = "default_packages_path", rename = "packages-install-path")]
    pub packages_install_path: String,
    #[serde(default)]
    pub vars: serde_yaml::Mapping,
    #[serde(default)]
    pub models: serde_yaml::Value,
    #[serde(default)]
    pub seeds: serde_yaml::Value,
    #[serde(default, alias = "data_tests")]
    pub tests: serde_yaml::Value,
    #[serde(default)]
    pub snapshots: serde_yaml::Value,
}

fn default_model_paths() -> Vec<String> {
    vec!["models".into()]
}
fn default_seed_paths() -> Vec<String> {
    vec!["seeds".into()]
}
fn default_test_paths() -> Vec<String> {
    vec!["tests".into()]
}
fn default_macro_paths() -> Vec<String> {
    vec!["macros".into()]
}
fn default_snapshot_paths() -> Vec<String> {
    vec!["snapshots".into()]
}
fn default_packages_path() -> String {
    "dbt_packages".into()
}
fn default_target_path() -> String {
    "target".into()
}

impl ProjectFile {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ProjectError::io(path, e))?;
        serde_yaml::from_str(&text).map_err(|e| ProjectError::yaml(path, &e))
    }
}

/// Where and how the project builds: the warehouse folder, the default schema, parallelism.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub schema: String,
    pub warehouse: StorageLocation,
    /// Where model queries run (`engine:` in the profile, `--engine`).
    pub compute: crate::Compute,
    pub threads: usize,
    /// What a user should know about how the target was chosen (a `profiles.yml` written for
    /// another adapter), said once per command.
    pub notice: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProfileOutput {
    /// The adapter: `orderlake` (or none) is ours; another's (`duckdb`, `postgres`, …) keeps
    /// its schema and threads, but its `path` is that adapter's file, not a warehouse folder.
    #[serde(default, rename = "type")]
    adapter: Option<String>,
    /// The warehouse: a folder (relative to the project) or `s3://bucket/prefix`.
    #[serde(default, alias = "warehouse")]
    path: Option<String>,
    /// Where model queries run: `local` or `ballista://host:port`.
    #[serde(default)]
    engine: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    threads: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    outputs: BTreeMap<String, ProfileOutput>,
}

impl Target {
    /// The target for a project: `profiles.yml` beside `dbt_project.yml` if present, otherwise
    /// `<project>/warehouse` with schema `main`.
    pub fn resolve(root: &Path, profile: Option<&str>, target_name: Option<&str>) -> Result<Self> {
        let mut target = Target {
            name: target_name.unwrap_or("dev").to_string(),
            schema: "main".to_string(),
            warehouse: StorageLocation::Folder(root.join("warehouse")),
            compute: crate::Compute::Local,
            threads: 4,
            notice: None,
        };
        let path = root.join("profiles.yml");
        if !path.exists() {
            return Ok(target);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ProjectError::io(&path, e))?;
        let profiles: BTreeMap<String, Profile> =
            serde_yaml::from_str(&text).map_err(|e| ProjectError::yaml(&path, &e))?;
        let Some((profile_name, profile)) = profile
            .and_then(|p| profiles.get_key_value(p))
            .or_else(|| profiles.iter().next())
        else {
            return Ok(target);
        };
        let ours = |o: &ProfileOutput| {
            o.adapter
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case("orderlake"))
        };
        let mut name = target_name
            .map(str::to_string)
            .or_else(|| profile.target.clone())
            .unwrap_or_else(|| "dev".to_string());
        // The default target is another adapter's: an output of ours in the profile wins.
        if target_name.is_none()
            && !profile.outputs.get(&name).is_some_and(ours)
            && let Some((mine, _)) = profile.outputs.iter().find(|(_, o)| {
                o.adapter
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case("orderlake"))
            })
        {
            name = mine.clone();
        }
        let Some(output) = profile.outputs.get(&name) else {
            return Err(ProjectError::invalid(
                &path,
                format!("profile '{profile_name}' has no output named '{name}'"),
            ));
        };
        target.name = name;
        match (&output.path, ours(output)) {
            (Some(p), true) => {
                target.warehouse = StorageLocation::parse(p, root).map_err(|e| {
                    ProjectError::invalid(
                        &path,
                        format!("output '{}' of profile '{profile_name}': {e}", target.name),
                    )
                })?;
            }
            (_, true) => {}
            (_, false) => {
                target.notice = Some(format!(
                    "profiles.yml: output '{}' of profile '{profile_name}' is for type: {}; \
                     orderlake keeps its warehouse in {} (an output with `type: orderlake` \
                     chooses another folder)",
                    target.name,
                    output.adapter.as_deref().unwrap_or_default(),
                    target.warehouse
                ));
            }
        }
        if let Some(engine) = &output.engine {
            target.compute = crate::Compute::parse(engine).map_err(|e| {
                ProjectError::invalid(
                    &path,
                    format!("output '{}' of profile '{profile_name}': {e}", target.name),
                )
            })?;
        }
        if let Some(s) = &output.schema {
            target.schema = s.clone();
        }
        if let Some(t) = output.threads {
            target.threads = t.max(1);
        }
        Ok(target)
    }
}

/// Configuration keys that may appear without a leading `+` in the `dbt_project.yml` tree.
/// Anything else without `+` is a sub-folder (or a node name).
const CONFIG_KEYS: &[&str] = &[
    "materialized",
    "schema",
    "alias",
    "tags",
    "enabled",
    "database",
    "column_types",
    "quote_columns",
    "delimiter",
    "full_refresh",
    "unique_key",
    "incremental_strategy",
    "on_schema_change",
    "persist_docs",
    "pre-hook",
    "post-hook",
    "pre_hook",
    "post_hook",
    "meta",
    "docs",
    "grants",
    "contract",
    "severity",
    "store_failures",
    "store_failures_as",
    "where",
    "warn_if",
    "error_if",
    "limit",
    "fail_calc",
    "sql_header",
    "partition_by",
    "cluster_by",
    "strategy",
    "updated_at",
    "check_cols",
    "target_schema",
    "target_database",
    "event_time",
    "batch_size",
    "lookback",
    "begin",
    "hard_deletes",
    "invalidate_hard_deletes",
    "access",
    "group",
    "file_format",
    "location_root",
    "expectations",
];

/// A node's configuration: a JSON object with typed accessors for the keys the engine reads.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config(pub serde_json::Map<String, Json>);

impl Config {
    /// Applies `other` on top of `self`: later values win, tags accumulate.
    pub fn merge(&mut self, other: &serde_json::Map<String, Json>) {
        for (key, value) in other {
            let key = key
                .trim_start_matches('+')
                .replace("pre_hook", "pre-hook")
                .replace("post_hook", "post-hook");
            if key == "tags" {
                let mut tags = self.tags();
                for t in as_string_list(value) {
                    if !tags.contains(&t) {
                        tags.push(t);
                    }
                }
                self.0.insert(key, Json::from(tags));
            } else {
                self.0.insert(key, value.clone());
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Json::as_str)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Json::Bool(b) => Some(*b),
            Json::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" => Some(true),
                "false" | "no" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn materialized(&self) -> &str {
        self.str("materialized").unwrap_or("view")
    }

    pub fn enabled(&self) -> bool {
        self.bool("enabled").unwrap_or(true)
    }

    pub fn tags(&self) -> Vec<String> {
        self.get("tags").map(as_string_list).unwrap_or_default()
    }

    pub fn schema(&self) -> Option<&str> {
        self.str("schema")
    }

    pub fn alias(&self) -> Option<&str> {
        self.str("alias")
    }
}

/// A YAML/JSON scalar or list read as a list of strings (`tags: nightly` or `tags: [a, b]`).
pub fn as_string_list(value: &Json) -> Vec<String> {
    match value {
        Json::String(s) => vec![s.clone()],
        Json::Array(items) => items
            .iter()
            .filter_map(|v| match v {
                Json::String(s) => Some(s.clone()),
                Json::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Json::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

/// Converts YAML to JSON, which is what configs and test arguments are kept as.
pub fn yaml_to_json(value: &serde_yaml::Value) -> Json {
    match value {
        serde_yaml::Value::Null => Json::Null,
        serde_yaml::Value::Bool(b) => Json::Bool(*b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64().map(Json::from).unwrap_or(Json::Null)
            }
        }
        serde_yaml::Value::String(s) => Json::String(s.clone()),
        serde_yaml::Value::Sequence(items) => Json::Array(items.iter().map(yaml_to_json).collect()),
        serde_yaml::Value::Mapping(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (yaml_key(k), yaml_to_json(v)))
                .collect(),
        ),
        serde_yaml::Value::Tagged(tagged) => yaml_to_json(&tagged.value),
    }
}

fn yaml_key(key: &serde_yaml::Value) -> String {
    match key {
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Collects the configuration that the `dbt_project.yml` tree gives a node whose fully
/// qualified name is `fqn` (project name, folders..., node name).
pub fn config_from_tree(tree: &serde_yaml::Value, fqn: &[String]) -> serde_json::Map<String, Json> {
    let mut out = Config::default();
    let mut level = tree;
    for (depth, part) in fqn.iter().enumerate() {
        let serde_yaml::Value::Mapping(map) = level else {
            break;
        };
        // Configs written at the top of the tree (above the project name) apply to everything.
        if depth == 0 {
            out.merge(&level_configs(map));
        }
        match map.get(serde_yaml::Value::String(part.clone())) {
            Some(next) => {
                if let serde_yaml::Value::Mapping(next_map) = next {
                    out.merge(&level_configs(next_map));
                }
                level = next;
            }
            None => break,
        }
    }
    out.0
}

fn level_configs(map: &serde_yaml::Mapping) -> serde_json::Map<String, Json> {
    map.iter()
        .filter_map(|(k, v)| {
            let key = k.as_str()?;
            if let Some(stripped) = key.strip_prefix('+') {
                Some((stripped.to_string(), yaml_to_json(v)))
            } else if CONFIG_KEYS.contains(&key) && !v.is_mapping()
                || matches!(
                    key,
                    "meta" | "column_types" | "docs" | "persist_docs" | "grants" | "contract"
                )
            {
                Some((key.to_string(), yaml_to_json(v)))
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(path: &str) -> StorageLocation {
        StorageLocation::Folder(std::path::PathBuf::from(path))
    }

    fn resolved(profiles: &str, target: Option<&str>) -> Target {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("profiles.yml"), profiles).expect("write");
        // dbt-duckdb's database file exists: it must not be taken for a warehouse folder.
        std::fs::write(dir.path().join("shop.duckdb"), "").expect("write");
        let mut target = Target::resolve(dir.path(), Some("shop"), target).expect("resolve");
        let folder = target.warehouse.as_folder().expect("a folder");
        target.warehouse = StorageLocation::Folder(
            folder
                .strip_prefix(dir.path())
                .expect("inside")
                .to_path_buf(),
        );
        target
    }

    #[test]
    fn another_adapters_profile_keeps_schema_and_threads_but_not_its_file() {
        let duckdb = "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: shop.duckdb\n      schema: analytics\n      threads: 2\n";
        let target = resolved(duckdb, None);
        assert_eq!(target.warehouse, folder("warehouse"));
        assert_eq!((target.schema.as_str(), target.threads), ("analytics", 2));
        let notice = target.notice.expect("a notice");
        assert!(
            notice.contains("output 'dev' of profile 'shop' is for type: duckdb"),
            "{notice}"
        );
        // An output of ours in the same profile is used when no target is named.
        let both = format!(
            "{duckdb}    lake:\n      type: orderlake\n      path: lake\n      schema: gold\n"
        );
        let target = resolved(&both, None);
        assert_eq!(
            (target.name.as_str(), target.warehouse, target.notice),
            ("lake", folder("lake"), None)
        );
        // Naming the other adapter's target still gets the notice, not its file.
        assert!(resolved(&both, Some("dev")).notice.is_some());
        // No `type` at all: an orderlake profile, as before.
        let plain = "shop:\n  outputs:\n    dev:\n      path: wh\n";
        assert_eq!(resolved(plain, None).warehouse, folder("wh"));
    }

    #[test]
    fn a_profile_puts_the_warehouse_on_s3_or_names_what_it_refuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write =
            |text: &str| std::fs::write(dir.path().join("profiles.yml"), text).expect("write");
        write(
            "shop:\n  outputs:\n    dev:\n      type: orderlake\n      warehouse: s3://lake/wh/\n",
        );
        let target = Target::resolve(dir.path(), Some("shop"), None).expect("resolve");
        assert_eq!(target.warehouse.to_string(), "s3://lake/wh");
        write("shop:\n  outputs:\n    dev:\n      type: orderlake\n      path: gs://lake/wh\n");
        let err = Target::resolve(dir.path(), Some("shop"), None)
            .expect_err("gs:// is refused")
            .to_string();
        assert!(
            err.contains("profiles.yml") && err.contains("output 'dev'") && err.contains("gs://"),
            "{err}"
        );
        assert!(!dir.path().join("gs:").exists());
    }

    #[test]
    fn a_profile_sends_models_to_a_ballista_cluster_or_names_the_engine_it_refuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write =
            |text: &str| std::fs::write(dir.path().join("profiles.yml"), text).expect("write");
        write("shop:\n  outputs:\n    dev:\n      engine: ballista://10.0.0.5:50070\n");
        let target = Target::resolve(dir.path(), Some("shop"), None).expect("resolve");
        assert_eq!(target.compute.to_string(), "ballista://10.0.0.5:50070");
        write("shop:\n  outputs:\n    dev:\n      engine: spark://m:7077\n");
        let err = Target::resolve(dir.path(), Some("shop"), None)
            .expect_err("spark is not ours")
            .to_string();
        assert!(
            err.contains("profiles.yml")
                && err.contains("output 'dev'")
                && err.contains("spark://"),
            "{err}"
        );
    }

    #[test]
    fn tree_applies_by_folder_and_tags_accumulate() {
        let tree: serde_yaml::Value = serde_yaml::from_str(
            r#"
jaffle:
  +materialized: table
  +tags: [all]
  staging:
    materialized: view
    +tags: staging
    stg_orders:
      +alias: orders_v
"#,
        )
        .unwrap();
        let fqn: Vec<String> = ["jaffle", "staging", "stg_orders"]
            .map(String::from)
            .to_vec();
        let cfg = Config(config_from_tree(&tree, &fqn));
        assert_eq!(cfg.materialized(), "view");
        assert_eq!(cfg.tags(), vec!["all", "staging"]);
        assert_eq!(cfg.alias(), Some("orders_v"));

        let fqn: Vec<String> = ["jaffle", "marts", "customers"].map(String::from).to_vec();
        let cfg = Config(config_from_tree(&tree, &fqn));
        assert_eq!(cfg.materialized(), "table");
    }
}
