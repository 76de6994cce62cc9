//! Generic tests declared in properties files (`unique`, `not_null`, `relationships`, custom
//! `{% test %}` macros): their nodes, dbt's names for them, and the call that renders them.

use super::discover::PendingTest;
use std::sync::LazyLock;

use super::*;

/// Test configuration keys; every other key of a test definition is an argument of its macro.
pub(super) const TEST_CONFIG_KEYS: &[&str] = &[
    "severity",
    "where",
    "warn_if",
    "error_if",
    "store_failures",
    "store_failures_as",
    "limit",
    "tags",
    "enabled",
    "meta",
    "fail_calc",
    "schema",
    "alias",
];

pub(super) fn build_generic_test(
    scope: &Arc<Scope>,
    file: &ProjectFile,
    nodes: &BTreeMap<String, Node>,
    sources: &BTreeMap<String, Source>,
    pending: PendingTest,
    used_names: &mut BTreeSet<String>,
) -> Result<Option<Node>> {
    if !nodes.contains_key(&pending.attached_to) && !sources.contains_key(&pending.attached_to) {
        // Attached to a disabled node.
        return Ok(None);
    }
    let path = pending.props_path.clone();
    let (test_name, body) = match &pending.definition {
        serde_yaml::Value::String(name) => (name.clone(), serde_yaml::Mapping::new()),
        serde_yaml::Value::Mapping(map) if map.len() == 1 => {
            let (k, v) = map.iter().next().expect("len checked");
            let name = k.as_str().unwrap_or_default().to_string();
            let body = match v {
                serde_yaml::Value::Mapping(m) => m.clone(),
                serde_yaml::Value::Null => serde_yaml::Mapping::new(),
                _ => {
                    return Err(ProjectError::invalid(
                        &path,
                        format!(
                            "test '{name}' on '{}': expected a mapping of arguments",
                            pending.attached_name
                        ),
                    ));
                }
            };
            (name, body)
        }
        other => {
            return Err(ProjectError::invalid(
                &path,
                format!(
                    "test on '{}' must be a name or a single-key mapping, found: {}",
                    pending.attached_name,
                    serde_yaml::to_string(other).unwrap_or_default().trim()
                ),
            ));
        }
    };
    // `dbt_utils.expression_is_true` → the macro `test_expression_is_true` of dbt_utils (or,
    // when that package lacks it, one of the project's).
    let (namespace, short_name) = match test_name.rsplit_once('.') {
        Some((ns, short)) => (Some(ns.to_string()), short.to_string()),
        None => (None, test_name.clone()),
    };
    let macro_name = format!("test_{short_name}");
    let package = namespace
        .clone()
        .filter(|ns| scope.macros.package_has(ns, &macro_name));
    if package.is_none() && !scope.macros.has(&macro_name) {
        return Err(ProjectError::invalid(
            &path,
            format!(
                "unknown test '{test_name}' on '{}': no generic test named '{short_name}' (define `{{% test {short_name}(model, column_name) %}}` in macros/ or tests/generic/)",
                pending.attached_name
            ),
        ));
    }

    let mut config = serde_json::Map::new();
    let mut kwargs = serde_json::Map::new();
    let mut custom_name = None;
    for (k, v) in &body {
        let Some(key) = k.as_str() else { continue };
        match key {
            "config" => {
                if let Json::Object(map) = yaml_to_json(v) {
                    config.extend(map);
                }
            }
            "arguments" => {
                if let Json::Object(map) = yaml_to_json(v) {
                    kwargs.extend(map);
                }
            }
            "name" => custom_name = v.as_str().map(str::to_string),
            "column_name" => {}
            key if TEST_CONFIG_KEYS.contains(&key) => {
                config.insert(key.to_string(), yaml_to_json(v));
            }
            key => {
                kwargs.insert(key.to_string(), yaml_to_json(v));
            }
        }
    }
    let column = body
        .get("column_name")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or(pending.column.clone());

    let mut name = custom_name.unwrap_or_else(|| {
        default_test_name(
            &match &namespace {
                Some(ns) => format!("{ns}_{short_name}"),
                None => short_name.clone(),
            },
            &pending.attached_name,
            column.as_deref(),
            &kwargs,
        )
    });
    if !used_names.insert(name.clone()) {
        let mut i = 2;
        while !used_names.insert(format!("{name}_{i}")) {
            i += 1;
        }
        name = format!("{name}_{i}");
    }

    let props_dir: Vec<String> = path
        .parent()
        .map(|p| {
            p.iter()
                .skip(1)
                .map(|c| c.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut fqn = vec![file.name.clone()];
    fqn.extend(props_dir);
    fqn.push(name.clone());
    let mut node_config = Config(config_from_tree(&file.tests, &fqn));
    node_config.merge(&config);

    let spec = TestSpec {
        test_name: short_name,
        package,
        column_name: column,
        kwargs,
        attached_to: pending.attached_to.clone(),
    };
    let mut node = Node::new(
        format!("test.{}.{}", file.name, name),
        ResourceType::Test,
        name,
        path,
        fqn,
        node_config,
    );
    node.test = Some(spec);
    let (call, _) = generic_test_call(scope, nodes, sources, &node)?;
    node.raw_code = call;
    if !node.config.enabled() {
        return Ok(None);
    }
    Ok(Some(node))
}

/// The parse render of a generic test (the refs its arguments and macro make) and its
/// materialization: independent of other tests, so tests finish in parallel.
pub(super) fn finish_generic_test(
    root: &Path,
    scope: &Arc<Scope>,
    nodes: &BTreeMap<String, Node>,
    sources: &BTreeMap<String, Source>,
    mut node: Node,
) -> Result<Node> {
    if let Some((refs, source_refs)) = builtin_test_refs(scope, &node) {
        node.refs = refs;
        node.source_refs = source_refs;
        node.materialization = crate::spec::resolve_node(root, &node)?;
        return Ok(node);
    }
    let (call, ctx) = generic_test_call(scope, nodes, sources, &node)?;
    let (_, recorded) = jinja::render(
        scope,
        Phase::Parse,
        &render_target(&node, None, false, None),
        &call,
        ctx,
    )?;
    node.refs = recorded.refs;
    node.source_refs = recorded.sources;
    node.materialization = crate::spec::resolve_node(root, &node)?;
    Ok(node)
}

/// A test's refs: model names and (source, table) pairs.
type TestRefs = (Vec<String>, Vec<(String, String)>);

/// The refs of one of orderlake's own generic tests (`unique`, `not_null`, `accepted_values`,
/// `relationships`, not replaced by the project), read from its arguments without a render:
/// their macros call no `ref` themselves, so a `ref('x')`/`source('s', 't')` written in an
/// argument is all there is. `None` when a render is needed (any other test, or Jinja that is
/// not a plain ref or source).
fn builtin_test_refs(scope: &Scope, node: &Node) -> Option<TestRefs> {
    static REF: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"^\s*ref\s*\(\s*['"]([^'"]+)['"]\s*\)\s*$"#).expect("static regex")
    });
    static SOURCE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"^\s*source\s*\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$"#)
            .expect("static regex")
    });
    let spec = node.test.as_ref()?;
    const BUILTIN: [&str; 4] = ["unique", "not_null", "accepted_values", "relationships"];
    let macro_name = format!("test_{}", spec.test_name);
    if spec.package.is_some()
        || !BUILTIN.contains(&spec.test_name.as_str())
        || scope.macros.project_defines(&macro_name)
        || node
            .config
            .str("where")
            .is_some_and(|w| w.contains("{{") || w.contains("{%"))
    {
        return None;
    }
    let (mut refs, mut source_refs) = (Vec::new(), Vec::new());
    for value in spec.kwargs.values() {
        let Json::String(text) = value else {
            continue;
        };
        // An unknown name goes through the render, whose error says where it is written.
        if let Some(c) = REF.captures(text) {
            if !scope.names.contains_key(&c[1]) {
                return None;
            }
            refs.push(c[1].to_string());
        } else if let Some(c) = SOURCE.captures(text) {
            let key = (c[1].to_string(), c[2].to_string());
            if !scope.sources.contains_key(&key) {
                return None;
            }
            source_refs.push(key);
        } else if text.contains("{{") || text.contains("ref(") || text.contains("source(") {
            return None;
        }
    }
    Some((refs, source_refs))
}

/// dbt's naming: `<test>_<model>_<column>[__<arg values>]`, shortened with a hash when long.
pub(super) fn default_test_name(
    test: &str,
    model: &str,
    column: Option<&str>,
    kwargs: &serde_json::Map<String, Json>,
) -> String {
    let mut parts = vec![test.to_string(), model.to_string()];
    if let Some(c) = column {
        parts.push(c.to_string());
    }
    let mut name = parts.join("_");
    for value in kwargs.values() {
        let flat = match value {
            Json::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join("__"),
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        name.push_str("__");
        name.push_str(&flat);
    }
    let mut clean = crate::relation::clean_identifier(&name);
    while clean.ends_with('_') {
        clean.pop();
    }
    if clean.len() > 63 {
        let hash = fnv1a(clean.as_bytes());
        clean = format!("{}_{:08x}", &clean[..50], hash as u32);
    }
    clean
}

/// A hash that stays the same across Rust versions (test names must be stable).
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// The template that calls a generic test's macro, and its context.
pub(super) fn generic_test_call(
    scope: &Scope,
    nodes: &BTreeMap<String, Node>,
    sources: &BTreeMap<String, Source>,
    node: &Node,
) -> Result<(String, BTreeMap<String, Value>)> {
    let Some(spec) = &node.test else {
        return Err(ProjectError::invalid(&node.path, "not a generic test"));
    };
    let relation = scope
        .relations
        .get(&spec.attached_to)
        .cloned()
        .or_else(|| {
            nodes
                .get(&spec.attached_to)
                .and_then(|n| n.relation.clone())
        })
        .or_else(|| sources.get(&spec.attached_to).map(|s| s.relation.clone()))
        .unwrap_or_else(|| Relation::new("__pending__", "__pending__"));
    let mut ctx = BTreeMap::new();
    let model_value = match node.config.str("where") {
        Some(cond) => Value::from(format!(
            "(select * from {relation} where {cond}) dbt_subquery"
        )),
        None => Value::from_object(relation),
    };
    ctx.insert("__model".to_string(), model_value);
    let mut args = vec!["model=__model".to_string()];
    if let Some(column) = &spec.column_name {
        ctx.insert("__column_name".to_string(), Value::from(column.clone()));
        args.push("column_name=__column_name".to_string());
    }
    // `to: ref('customers')` and `values: "{{ var('methods') }}"` are Jinja expressions.
    static CALL: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^\s*((ref|source)\s*\(.*\))\s*$").expect("static regex")
    });
    static TEMPLATED: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^\s*\{\{(.*)\}\}\s*$").expect("static regex"));
    let (call, templated) = (&*CALL, &*TEMPLATED);
    for (key, value) in &spec.kwargs {
        let expression = match value {
            Json::String(s) => call
                .captures(s)
                .or_else(|| templated.captures(s))
                .map(|c| c[1].trim().to_string()),
            _ => None,
        };
        match expression {
            Some(e) => args.push(format!("{key}={e}")),
            None => {
                let var = format!("__arg_{key}");
                ctx.insert(
                    var.clone(),
                    Value::from(minijinja::value::Serde(value.clone())),
                );
                args.push(format!("{key}={var}"));
            }
        }
    }
    Ok((
        format!(
            "{{{{ {}test_{}({}) }}}}",
            spec.package
                .as_ref()
                .map(|p| format!("{p}."))
                .unwrap_or_default(),
            spec.test_name,
            args.join(", ")
        ),
        ctx,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_names_follow_dbt_and_stay_short() {
        let mut kw = serde_json::Map::new();
        kw.insert("values".into(), serde_json::json!(["placed", "shipped"]));
        assert_eq!(
            default_test_name("accepted_values", "orders", Some("status"), &kw),
            "accepted_values_orders_status__placed__shipped"
        );
        kw.insert(
            "values".into(),
            serde_json::json!(["a_very_long_value_name", "another_very_long_value", "third"]),
        );
        let long = default_test_name("accepted_values", "orders", Some("status"), &kw);
        assert!(long.len() <= 63, "{long}");
    }
}
