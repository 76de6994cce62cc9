//! `--state DIR`: a previous run's artifacts (`manifest.json`, `run_results.json`), for the
//! selectors `state:new`, `state:modified[.body|.configs|.contract|.macros]` and
//! `result:<status>`, and for `--defer` (reading unbuilt parents from that run's warehouse).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::Node;
use crate::error::{ProjectError, Result};

/// What a previous run left: its nodes as they were, their results, its warehouse.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub dir: PathBuf,
    /// Unique id to the node as the manifest recorded it.
    pub nodes: BTreeMap<String, Json>,
    /// Macro name to its source text then.
    pub macros: BTreeMap<String, String>,
    /// Unique id to the status of its last result (`success`, `error`, `fail`, `warn`, ...).
    pub results: BTreeMap<String, String>,
    /// Where that run's warehouse is, when orderlake wrote the manifest.
    pub warehouse: Option<crate::StorageLocation>,
}

impl State {
    /// Reads `manifest.json` and `run_results.json` in `dir`; at least one must be there.
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |name: &str| -> Result<Option<Json>> {
            let path = dir.join(name);
            if !path.exists() {
                return Ok(None);
            }
            let text = std::fs::read_to_string(&path).map_err(|e| ProjectError::io(&path, e))?;
            serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| ProjectError::invalid(&path, format!("not a JSON artifact: {e}")))
        };
        let manifest = read("manifest.json")?;
        let results = read("run_results.json")?;
        if manifest.is_none() && results.is_none() {
            return Err(ProjectError::invalid(
                dir,
                "--state: no manifest.json or run_results.json here (point it at the target/ folder of an earlier run)",
            ));
        }
        let mut state = State {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        if let Some(manifest) = manifest {
            if let Some(nodes) = manifest.get("nodes").and_then(Json::as_object) {
                state.nodes = nodes.clone().into_iter().collect();
            }
            if let Some(macros) = manifest.get("macros").and_then(Json::as_object) {
                state.macros = macros
                    .iter()
                    .filter_map(|(k, v)| {
                        let text = v.get("macro_sql").or(Some(v))?.as_str()?;
                        Some((k.clone(), text.to_string()))
                    })
                    .collect();
            }
            state.warehouse = manifest
                .pointer("/metadata/orderlake_warehouse")
                .and_then(Json::as_str)
                .and_then(|w| crate::StorageLocation::parse(w, dir).ok());
        }
        if let Some(results) = results
            && let Some(items) = results.get("results").and_then(Json::as_array)
        {
            for item in items {
                if let (Some(id), Some(status)) = (
                    item.get("unique_id").and_then(Json::as_str),
                    item.get("status").and_then(Json::as_str),
                ) {
                    state.results.insert(id.to_string(), status.to_string());
                }
            }
        }
        Ok(state)
    }

    /// Nodes a `state:` selector picks. `method` is what follows `state:`.
    pub(crate) fn select(
        &self,
        nodes: &BTreeMap<String, Node>,
        macros: &BTreeMap<String, String>,
        method: &str,
    ) -> std::result::Result<BTreeSet<String>, String> {
        let (what, part) = match method.split_once('.') {
            Some((w, p)) => (w, Some(p)),
            None => (method, None),
        };
        let changed_macros: BTreeSet<&str> = macros
            .iter()
            .filter(|(name, text)| self.macros.get(*name) != Some(*text))
            .map(|(name, _)| name.as_str())
            .collect();
        let mut out = BTreeSet::new();
        for node in nodes.values() {
            let before = self.nodes.get(&node.unique_id);
            let picked = match (what, before) {
                ("new", None) => true,
                ("new", Some(_)) => false,
                ("modified", None) => part.is_none(),
                ("modified", Some(before)) => {
                    let body =
                        || before.get("raw_code").and_then(Json::as_str) != Some(&node.raw_code);
                    let configs = || {
                        before.get("config")
                            != Some(&serde_json::to_value(&node.config).unwrap_or_default())
                    };
                    let contract = || {
                        let now: BTreeMap<&str, Option<&str>> = node
                            .columns
                            .iter()
                            .map(|c| (c.name.as_str(), c.data_type.as_deref()))
                            .collect();
                        let then: BTreeMap<&str, Option<&str>> = before
                            .get("columns")
                            .and_then(Json::as_object)
                            .map(|cols| {
                                cols.iter()
                                    .map(|(k, v)| {
                                        (k.as_str(), v.get("data_type").and_then(Json::as_str))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        now != then
                    };
                    let uses_changed_macro = || {
                        uses_macros(&node.raw_code, macros)
                            .iter()
                            .any(|m| changed_macros.contains(m.as_str()))
                    };
                    match part {
                        None => body() || configs() || contract() || uses_changed_macro(),
                        Some("body") => body(),
                        Some("configs") => configs(),
                        Some("contract") => contract(),
                        Some("macros") => uses_changed_macro(),
                        Some(other) => {
                            return Err(format!(
                                "unknown state:modified part '{other}' (body, configs, contract, macros)"
                            ));
                        }
                    }
                }
                (other, _) => {
                    return Err(format!(
                        "unknown state selector 'state:{other}' (new, modified)"
                    ));
                }
            };
            if picked {
                out.insert(node.unique_id.clone());
            }
        }
        Ok(out)
    }

    /// Nodes whose last result had `status` (`error`, `fail`, `warn`, `success`, `pass`, `skipped`).
    pub(crate) fn with_result(&self, status: &str) -> BTreeSet<String> {
        self.results
            .iter()
            .filter(|(_, s)| s.eq_ignore_ascii_case(status))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// The macros `sql` calls, directly or through other macros (by name: `star(` or
/// `dbt_utils.star(`).
pub(crate) fn uses_macros(sql: &str, macros: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut pending = vec![sql.to_string()];
    while let Some(text) = pending.pop() {
        for (name, body) in macros {
            if used.contains(name) {
                continue;
            }
            let short = name.rsplit('.').next().unwrap_or(name);
            let called = text.match_indices(short).any(|(i, _)| {
                let before = text[..i].chars().next_back();
                let after = text[i + short.len()..].trim_start().starts_with('(');
                after && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if called {
                used.insert(name.clone());
                pending.push(body.clone());
            }
        }
    }
    used
}
