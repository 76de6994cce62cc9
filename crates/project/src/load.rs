//! Reading a project from disk, the parse render, and the compile render.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Value;
use serde_json::Value as Json;

use crate::config::{Config, ProjectFile, Target, config_from_tree, yaml_to_json};
use crate::error::{ProjectError, Result};
use crate::graph::Dag;
use crate::jinja::{self, MacroLibrary, Phase, RenderTarget, Scope};
use crate::props::{NodeProps, PropertiesFile};
use crate::relation::Relation;
use crate::{Compiled, External, Materialization, Node, Project, ResourceType, Source, TestSpec};

/// What the command line may override.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--vars`: a YAML mapping, e.g. `{as_of_date: '2024-01-31'}`.
    pub vars: Option<String>,
    /// `--target`: the output of `profiles.yml` to use.
    pub target: Option<String>,
    /// `--warehouse`: where the Delta tables live.
    pub warehouse: Option<PathBuf>,
    /// `--threads`.
    pub threads: Option<usize>,
}

pub(crate) fn load(root: &Path, options: &LoadOptions) -> Result<Project> {
    let root = root.to_path_buf();
    let project_path = root.join("dbt_project.yml");
    if !project_path.exists() {
        return Err(ProjectError::invalid(
            &root,
            "no dbt_project.yml here: pass --project-dir, or create a project with `orderlake init`",
        ));
    }
    let file = ProjectFile::load(&project_path)?;
    let mut target = Target::resolve(&root, file.profile.as_deref(), options.target.as_deref())?;
    if let Some(w) = &options.warehouse {
        target.warehouse = w.clone();
    }
    if let Some(t) = options.threads {
        target.threads = t.max(1);
    }

    let vars = collect_vars(&file, options.vars.as_deref())?;
    let macros = MacroLibrary::build(&read_macro_files(&root, &file)?);
    let mut loader = Loader {
        root: root.clone(),
        file,
        nodes: BTreeMap::new(),
        names: BTreeMap::new(),
        sources: BTreeMap::new(),
        pending_tests: Vec::new(),
    };
    loader.discover()?;
    loader.apply_properties()?;

    let mut scope = Arc::new(Scope {
        names: loader
            .names
            .iter()
            .map(|(name, (id, _))| (name.clone(), id.clone()))
            .collect(),
        relations: BTreeMap::new(),
        sources: loader
            .sources
            .values()
            .map(|s| {
                (
                    (s.source_name.clone(), s.name.clone()),
                    (s.unique_id.clone(), s.relation.clone()),
                )
            })
            .collect(),
        vars,
        macros,
        target: Some(target.clone()),
        run_started_at: chrono::Utc::now(),
        invocation_id: format!(
            "{:x}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ),
        event_times: BTreeMap::new(),
    });

    let Loader {
        file,
        mut nodes,
        sources,
        pending_tests,
        ..
    } = loader;

    // Parse render: discover refs, sources and in-file config.
    for node in nodes.values_mut() {
        if matches!(node.resource_type, ResourceType::Seed) {
            continue;
        }
        let render_target = RenderTarget {
            path: &node.path,
            name: &node.name,
            unique_id: &node.unique_id,
            resource_type: node.resource_type.as_str(),
            this: Some(Relation::new("__pending__", node.name.clone())),
            is_incremental: false,
            config: &node.config.0,
            batch: None,
        };
        let (_, recorded) = jinja::render(
            &scope,
            Phase::Parse,
            &render_target,
            &node.raw_code,
            BTreeMap::new(),
        )?;
        node.config.merge(&recorded.config);
        node.refs = recorded.refs;
        node.source_refs = recorded.sources;
    }

    // Disabled nodes leave the graph; a ref to one is an error below.
    let disabled: BTreeMap<String, PathBuf> = nodes
        .values()
        .filter(|n| !n.config.enabled())
        .map(|n| (n.name.clone(), n.path.clone()))
        .collect();
    nodes.retain(|_, n| n.config.enabled());
    for node in nodes.values_mut() {
        node.materialization = crate::spec::resolve_node(&root, node)?;
    }
    Arc::make_mut(&mut scope)
        .names
        .retain(|name, _| !disabled.contains_key(name));

    // Relations: where each model, seed and snapshot lives.
    let mut relations = BTreeMap::new();
    for node in nodes.values() {
        if node.resource_type == ResourceType::Test {
            continue;
        }
        relations.insert(node.unique_id.clone(), resolve_relation(&scope, node)?);
    }
    Arc::make_mut(&mut scope).relations = relations;
    Arc::make_mut(&mut scope).event_times = nodes
        .values()
        .filter_map(|n| {
            n.config
                .str("event_time")
                .map(|e| (n.unique_id.clone(), e.to_string()))
        })
        .collect();
    for node in nodes.values_mut() {
        node.relation = scope.relations.get(&node.unique_id).cloned();
    }

    // Generic tests from properties files.
    let mut used_names = BTreeSet::new();
    for pending in pending_tests {
        if let Some(node) = build_generic_test(
            &root,
            &scope,
            &file,
            &nodes,
            &sources,
            pending,
            &mut used_names,
        )? {
            nodes.insert(node.unique_id.clone(), node);
        }
    }

    // Dependencies.
    for node in nodes.values_mut() {
        let mut deps: Vec<String> = Vec::new();
        if let Some(test) = &node.test {
            deps.push(test.attached_to.clone());
        }
        for name in &node.refs {
            match scope.names.get(name) {
                Some(id) => deps.push(id.clone()),
                None => {
                    let reason = match disabled.get(name) {
                        Some(path) => {
                            format!("ref('{name}') names a disabled node ({})", path.display())
                        }
                        None => format!("ref('{name}') does not name a model, seed or snapshot"),
                    };
                    return Err(ProjectError::invalid(&node.path, reason));
                }
            }
        }
        for (source_name, table) in &node.source_refs {
            if let Some((id, _)) = scope.sources.get(&(source_name.clone(), table.clone())) {
                deps.push(id.clone());
            }
        }
        let mut seen = BTreeSet::new();
        deps.retain(|d| seen.insert(d.clone()));
        node.depends_on = deps;
    }

    let dag = Dag::build(&nodes, &sources)?;
    Ok(Project {
        root,
        name: file.name.clone(),
        file,
        target,
        nodes,
        sources,
        dag,
        scope,
    })
}

fn collect_vars(file: &ProjectFile, cli: Option<&str>) -> Result<BTreeMap<String, Json>> {
    let mut vars = BTreeMap::new();
    for (key, value) in &file.vars {
        let Some(key) = key.as_str() else { continue };
        match value {
            // vars scoped to this project (`vars: {my_project: {...}}`) apply as if top-level.
            serde_yaml::Value::Mapping(inner) if key == file.name => {
                for (k, v) in inner {
                    if let Some(k) = k.as_str() {
                        vars.insert(k.to_string(), yaml_to_json(v));
                    }
                }
            }
            other => {
                vars.insert(key.to_string(), yaml_to_json(other));
            }
        }
    }
    if let Some(text) = cli {
        let parsed: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| ProjectError::yaml("--vars", &e))?;
        match yaml_to_json(&parsed) {
            Json::Object(map) => vars.extend(map),
            Json::Null => {}
            _ => {
                return Err(ProjectError::invalid(
                    "--vars",
                    "expected a YAML mapping, e.g. '{as_of_date: 2024-01-31}'",
                ));
            }
        }
    }
    Ok(vars)
}

/// Files with `extension` below `dir` (sorted, so loading is deterministic), relative to `root`.
fn files_with(root: &Path, dir: &str, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let base = root.join(dir);
    if !base.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&base).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| base.clone());
            ProjectError::io(path, std::io::Error::other(e.to_string()))
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let matches = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)));
        if matches {
            out.push(path.strip_prefix(root).unwrap_or(path).to_path_buf());
        }
    }
    Ok(out)
}

fn read(root: &Path, rel: &Path) -> Result<String> {
    std::fs::read_to_string(root.join(rel)).map_err(|e| ProjectError::io(rel, e))
}

fn read_macro_files(root: &Path, file: &ProjectFile) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for dir in &file.macro_paths {
        for path in files_with(root, dir, &["sql"])? {
            out.push((path.clone(), read(root, &path)?));
        }
    }
    for dir in &file.test_paths {
        for path in files_with(root, &format!("{dir}/generic"), &["sql"])? {
            out.push((path.clone(), read(root, &path)?));
        }
    }
    Ok(out)
}

struct PendingTest {
    attached_to: String,
    attached_name: String,
    column: Option<String>,
    definition: serde_yaml::Value,
    props_path: PathBuf,
}

struct Loader {
    root: PathBuf,
    file: ProjectFile,
    nodes: BTreeMap<String, Node>,
    /// Model/seed/snapshot name to (unique id, file).
    names: BTreeMap<String, (String, PathBuf)>,
    sources: BTreeMap<String, Source>,
    pending_tests: Vec<PendingTest>,
}

impl Loader {
    fn discover(&mut self) -> Result<()> {
        let file = self.file.clone();
        for dir in &file.model_paths {
            for path in files_with(&self.root, dir, &["sql"])? {
                self.add_node(ResourceType::Model, dir, path, &file.models)?;
            }
        }
        for dir in &file.seed_paths {
            for path in files_with(&self.root, dir, &["csv"])? {
                self.add_node(ResourceType::Seed, dir, path, &file.seeds)?;
            }
        }
        for dir in &file.snapshot_paths {
            for path in files_with(&self.root, dir, &["sql"])? {
                self.add_snapshots(dir, path, &file.snapshots)?;
            }
        }
        for dir in &file.test_paths {
            let generic = Path::new(dir).join("generic");
            for path in files_with(&self.root, dir, &["sql"])? {
                if path.starts_with(&generic) {
                    continue;
                }
                self.add_node(ResourceType::Test, dir, path, &file.tests)?;
            }
        }
        Ok(())
    }

    /// A snapshot file holds `{% snapshot name %} ... {% endsnapshot %}` blocks, one node each.
    fn add_snapshots(&mut self, base: &str, path: PathBuf, tree: &serde_yaml::Value) -> Result<()> {
        let text = read(&self.root, &path)?;
        let block = regex::Regex::new(r"(?s)\{%-?\s*snapshot\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}(.*?)\{%-?\s*endsnapshot\s*-?%\}")
            .expect("static regex");
        let mut found = false;
        for caps in block.captures_iter(&text) {
            found = true;
            let name = caps[1].to_string();
            let body = caps.get(2).expect("group 2");
            // Pad with the lines before the block so errors point at the file's own lines.
            let padding = "\n".repeat(text[..body.start()].matches('\n').count());
            let raw = format!("{padding}{}", body.as_str());
            self.add_node_with(
                ResourceType::Snapshot,
                base,
                path.clone(),
                name,
                Some(raw),
                tree,
            )?;
        }
        if !found {
            return Err(ProjectError::invalid(
                &path,
                "no {% snapshot name %} ... {% endsnapshot %} block in this snapshot file",
            ));
        }
        Ok(())
    }

    fn add_node(
        &mut self,
        resource_type: ResourceType,
        base: &str,
        path: PathBuf,
        tree: &serde_yaml::Value,
    ) -> Result<()> {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        self.add_node_with(resource_type, base, path, name, None, tree)
    }

    fn add_node_with(
        &mut self,
        resource_type: ResourceType,
        base: &str,
        path: PathBuf,
        name: String,
        raw: Option<String>,
        tree: &serde_yaml::Value,
    ) -> Result<()> {
        let mut fqn = vec![self.file.name.clone()];
        if let Ok(rel) = path.strip_prefix(base)
            && let Some(parent) = rel.parent()
        {
            fqn.extend(parent.iter().map(|c| c.to_string_lossy().into_owned()));
        }
        fqn.push(name.clone());
        let unique_id = format!("{}.{}.{}", resource_type.as_str(), self.file.name, name);
        let kind = resource_type.as_str();
        if resource_type == ResourceType::Test {
            if let Some(existing) = self.nodes.get(&unique_id) {
                return Err(ProjectError::Duplicate {
                    kind,
                    name,
                    first: existing.path.clone(),
                    second: path,
                });
            }
        } else if let Some((_, first)) = self.names.get(&name) {
            return Err(ProjectError::Duplicate {
                kind: "model/seed/snapshot",
                name,
                first: first.clone(),
                second: path,
            });
        } else {
            self.names
                .insert(name.clone(), (unique_id.clone(), path.clone()));
        }
        let raw_code = match (resource_type, raw) {
            (_, Some(raw)) => raw,
            (ResourceType::Seed, None) => String::new(),
            (_, None) => read(&self.root, &path)?,
        };
        let config = Config(config_from_tree(tree, &fqn));
        self.nodes.insert(
            unique_id.clone(),
            Node {
                unique_id,
                resource_type,
                name,
                path,
                patch_path: None,
                fqn,
                raw_code,
                config,
                // Resolved after the parse render, once the SQL's own config() is known.
                materialization: Materialization::View,
                description: String::new(),
                columns: Vec::new(),
                refs: Vec::new(),
                source_refs: Vec::new(),
                depends_on: Vec::new(),
                relation: None,
                test: None,
                expectations: Vec::new(),
            },
        );
        Ok(())
    }

    fn apply_properties(&mut self) -> Result<()> {
        let mut dirs: Vec<String> = self.file.model_paths.clone();
        dirs.extend(self.file.seed_paths.iter().cloned());
        dirs.extend(self.file.snapshot_paths.iter().cloned());
        let mut seen = BTreeSet::new();
        for dir in dirs {
            for path in files_with(&self.root, &dir, &["yml", "yaml"])? {
                if !seen.insert(path.clone()) {
                    continue;
                }
                let props = PropertiesFile::load(&self.root.join(&path)).map_err(|e| match e {
                    ProjectError::Yaml {
                        line,
                        column,
                        message,
                        ..
                    } => ProjectError::Yaml {
                        path: path.clone(),
                        line,
                        column,
                        message,
                    },
                    other => other,
                })?;
                for (kind, entries) in [
                    (ResourceType::Model, &props.models),
                    (ResourceType::Seed, &props.seeds),
                    (ResourceType::Snapshot, &props.snapshots),
                ] {
                    for entry in entries {
                        self.patch_node(kind, entry, &path);
                    }
                }
                for source in &props.sources {
                    self.add_source(source, &path)?;
                }
            }
        }
        Ok(())
    }

    fn patch_node(&mut self, kind: ResourceType, props: &NodeProps, path: &Path) {
        let unique_id = format!("{}.{}.{}", kind.as_str(), self.file.name, props.name);
        let Some(node) = self.nodes.get_mut(&unique_id) else {
            tracing::warn!(
                "{}: properties for {} '{}', which does not exist",
                path.display(),
                kind.as_str(),
                props.name
            );
            return;
        };
        node.patch_path = Some(path.to_path_buf());
        if let Some(d) = &props.description {
            node.description = d.clone();
        }
        node.columns = props.columns.clone();
        if let Json::Object(map) = yaml_to_json(&serde_yaml::Value::Mapping(props.config.clone())) {
            node.config.merge(&map);
        }
        node.expectations = props.expectations.clone();
        if let Some(list) = node.config.get("expectations") {
            match serde_json::from_value::<Vec<crate::props::Expectation>>(list.clone()) {
                Ok(more) => node.expectations.extend(more),
                Err(e) => {
                    tracing::warn!("{}: expectations of '{}': {e}", path.display(), props.name)
                }
            }
        }
        for test in props.all_tests() {
            self.pending_tests.push(PendingTest {
                attached_to: unique_id.clone(),
                attached_name: props.name.clone(),
                column: None,
                definition: test.clone(),
                props_path: path.to_path_buf(),
            });
        }
        for column in &props.columns {
            for test in column.all_tests() {
                self.pending_tests.push(PendingTest {
                    attached_to: unique_id.clone(),
                    attached_name: props.name.clone(),
                    column: Some(column.name.clone()),
                    definition: test.clone(),
                    props_path: path.to_path_buf(),
                });
            }
        }
    }

    fn add_source(&mut self, source: &crate::props::SourceProps, path: &Path) -> Result<()> {
        for table in &source.tables {
            let unique_id = format!("source.{}.{}.{}", self.file.name, source.name, table.name);
            if let Some(existing) = self.sources.get(&unique_id) {
                return Err(ProjectError::Duplicate {
                    kind: "source table",
                    name: format!("{}.{}", source.name, table.name),
                    first: existing.path.clone(),
                    second: path.to_path_buf(),
                });
            }
            let external = table
                .external_location
                .clone()
                .map(|location| External {
                    location,
                    file_format: None,
                })
                .or_else(|| {
                    table.external.as_ref().map(|e| External {
                        location: e.location.clone(),
                        file_format: e.file_format.clone(),
                    })
                });
            let schema = source.schema.clone().unwrap_or_else(|| source.name.clone());
            let identifier = table
                .identifier
                .clone()
                .unwrap_or_else(|| table.name.clone());
            self.sources.insert(
                unique_id.clone(),
                Source {
                    unique_id: unique_id.clone(),
                    source_name: source.name.clone(),
                    name: table.name.clone(),
                    description: table.description.clone().unwrap_or_default(),
                    path: path.to_path_buf(),
                    relation: Relation::new(schema, identifier),
                    external,
                    columns: table.columns.clone(),
                    loaded_at_field: table
                        .loaded_at_field
                        .clone()
                        .or_else(|| source.loaded_at_field.clone()),
                    freshness: table
                        .freshness
                        .as_ref()
                        .or(source.freshness.as_ref())
                        .map(yaml_to_json),
                },
            );
            let tests = table.tests.iter().chain(table.data_tests.iter());
            for test in tests {
                self.pending_tests.push(PendingTest {
                    attached_to: unique_id.clone(),
                    attached_name: format!("{}_{}", source.name, table.name),
                    column: None,
                    definition: test.clone(),
                    props_path: path.to_path_buf(),
                });
            }
            for column in &table.columns {
                for test in column.all_tests() {
                    self.pending_tests.push(PendingTest {
                        attached_to: unique_id.clone(),
                        attached_name: format!("source_{}_{}", source.name, table.name),
                        column: Some(column.name.clone()),
                        definition: test.clone(),
                        props_path: path.to_path_buf(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn node_value(node: &Node) -> Value {
    Value::from(minijinja::value::Serde(serde_json::json!({
        "name": node.name,
        "unique_id": node.unique_id,
        "resource_type": node.resource_type.as_str(),
        "path": node.path.to_string_lossy(),
        "original_file_path": node.path.to_string_lossy(),
        "fqn": node.fqn,
        "config": node.config.0,
        "tags": node.config.tags(),
    })))
}

fn render_target<'a>(
    node: &'a Node,
    this: Option<Relation>,
    is_incremental: bool,
    batch: Option<&'a crate::Batch>,
) -> RenderTarget<'a> {
    RenderTarget {
        path: &node.path,
        name: &node.name,
        unique_id: &node.unique_id,
        resource_type: node.resource_type.as_str(),
        this,
        is_incremental,
        config: &node.config.0,
        batch,
    }
}

fn resolve_relation(scope: &Arc<Scope>, node: &Node) -> Result<Relation> {
    // Snapshots' `target_schema` is taken as is (dbt's legacy snapshot config).
    if node.resource_type == ResourceType::Snapshot
        && let Some(schema) = node.config.str("target_schema")
    {
        return Ok(Relation::new(
            schema,
            node.config.alias().unwrap_or(&node.name),
        ));
    }
    let custom_schema = node
        .config
        .schema()
        .map(Value::from)
        .unwrap_or(Value::from(()));
    let custom_alias = node
        .config
        .alias()
        .map(Value::from)
        .unwrap_or(Value::from(()));
    let mut ctx = BTreeMap::new();
    ctx.insert("__custom_schema".to_string(), custom_schema);
    ctx.insert("__custom_alias".to_string(), custom_alias);
    ctx.insert("__node".to_string(), node_value(node));
    let target = render_target(node, None, false, None);
    let schema = jinja::render_snippet(
        scope,
        &target,
        "{{ generate_schema_name(__custom_schema, __node) }}",
        ctx.clone(),
    )?
    .trim()
    .to_string();
    let alias = jinja::render_snippet(
        scope,
        &target,
        "{{ generate_alias_name(__custom_alias, __node) }}",
        ctx,
    )?
    .trim()
    .to_string();
    if schema.is_empty() || alias.is_empty() {
        return Err(ProjectError::invalid(
            &node.path,
            "generate_schema_name / generate_alias_name rendered an empty name",
        ));
    }
    let mut relation = Relation::new(schema, alias);
    relation.ephemeral = node.is_ephemeral();
    Ok(relation)
}

/// Test configuration keys; every other key of a test definition is an argument of its macro.
const TEST_CONFIG_KEYS: &[&str] = &[
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

fn build_generic_test(
    root: &Path,
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
    // `dbt_utils.expression_is_true` → the macro `test_expression_is_true`.
    let short_name = test_name
        .rsplit('.')
        .next()
        .unwrap_or(&test_name)
        .to_string();
    let macro_name = format!("test_{short_name}");
    if !scope.macros.has(&macro_name) {
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
            &short_name,
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
        column_name: column,
        kwargs,
        attached_to: pending.attached_to.clone(),
    };
    let mut node = Node {
        unique_id: format!("test.{}.{}", file.name, name),
        resource_type: ResourceType::Test,
        name,
        path,
        patch_path: None,
        fqn,
        raw_code: String::new(),
        config: node_config,
        materialization: Materialization::View,
        description: String::new(),
        columns: Vec::new(),
        refs: Vec::new(),
        source_refs: Vec::new(),
        depends_on: Vec::new(),
        relation: None,
        test: Some(spec),
        expectations: Vec::new(),
    };
    let (call, ctx) = generic_test_call(scope, nodes, sources, &node)?;
    node.raw_code = call.clone();
    let (_, recorded) = jinja::render(
        scope,
        Phase::Parse,
        &render_target(&node, None, false, None),
        &call,
        ctx,
    )?;
    node.refs = recorded.refs;
    node.source_refs = recorded.sources;
    if !node.config.enabled() {
        return Ok(None);
    }
    node.materialization = crate::spec::resolve_node(root, &node)?;
    Ok(Some(node))
}

/// dbt's naming: `<test>_<model>_<column>[__<arg values>]`, shortened with a hash when long.
fn default_test_name(
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
    let mut clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
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
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// The template that calls a generic test's macro, and its context.
fn generic_test_call(
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
    let call = regex::Regex::new(r"^\s*((ref|source)\s*\(.*\))\s*$").expect("static regex");
    let templated = regex::Regex::new(r"^\s*\{\{(.*)\}\}\s*$").expect("static regex");
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
        format!("{{{{ test_{}({}) }}}}", spec.test_name, args.join(", ")),
        ctx,
    ))
}

pub(crate) fn compile(
    project: &Project,
    unique_id: &str,
    is_incremental: bool,
    batch: Option<&crate::Batch>,
) -> Result<Compiled> {
    let sql = compile_body(project, unique_id, is_incremental, batch)?;
    // Inline ephemeral ancestors as CTEs, deepest first.
    let mut ordered = Vec::new();
    collect_ephemeral(project, unique_id, &mut ordered, &mut BTreeSet::new());
    if ordered.is_empty() {
        return Ok(Compiled { sql });
    }
    let mut ctes = Vec::new();
    for id in &ordered {
        let body = compile_body(project, id, false, batch)?;
        let name = project.nodes[id]
            .relation
            .as_ref()
            .map(Relation::cte_name)
            .unwrap_or_default();
        ctes.push(format!(
            "{name} as (\n{}\n)",
            strip_trailing_semicolon(&body)
        ));
    }
    Ok(Compiled {
        sql: inject_ctes(&sql, &ctes),
    })
}

fn collect_ephemeral(
    project: &Project,
    id: &str,
    out: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) {
    let Some(node) = project.nodes.get(id) else {
        return;
    };
    for dep in &node.depends_on {
        if let Some(parent) = project.nodes.get(dep)
            && parent.is_ephemeral()
            && seen.insert(dep.clone())
        {
            collect_ephemeral(project, dep, out, seen);
            out.push(dep.clone());
        }
    }
}

fn compile_body(
    project: &Project,
    unique_id: &str,
    is_incremental: bool,
    batch: Option<&crate::Batch>,
) -> Result<String> {
    let Some(node) = project.nodes.get(unique_id) else {
        return Err(ProjectError::invalid(
            &project.root,
            format!("no node '{unique_id}'"),
        ));
    };
    if node.test.is_some() {
        let (call, ctx) =
            generic_test_call(&project.scope, &project.nodes, &project.sources, node)?;
        let (sql, _) = jinja::render(
            &project.scope,
            Phase::Compile,
            &render_target(node, None, false, None),
            &call,
            ctx,
        )?;
        return Ok(sql.trim().to_string());
    }
    let (sql, _) = jinja::render(
        &project.scope,
        Phase::Compile,
        &render_target(node, node.relation.clone(), is_incremental, batch),
        &node.raw_code,
        BTreeMap::new(),
    )?;
    Ok(sql.trim().to_string())
}

pub(crate) fn compile_inline(project: &Project, sql: &str) -> Result<String> {
    let config = serde_json::Map::new();
    let path = PathBuf::from("<inline>");
    let target = RenderTarget {
        path: &path,
        name: "inline",
        unique_id: "sql_operation.inline",
        resource_type: "sql_operation",
        this: None,
        is_incremental: false,
        config: &config,
        batch: None,
    };
    let (sql, _) = jinja::render(
        &project.scope,
        Phase::Compile,
        &target,
        sql,
        BTreeMap::new(),
    )?;
    Ok(sql.trim().to_string())
}

pub(crate) fn strip_trailing_semicolon(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}

/// Prepends CTEs to `sql`, merging into its own `WITH` if it has one.
fn inject_ctes(sql: &str, ctes: &[String]) -> String {
    let body = strip_trailing_semicolon(sql);
    let start = skip_comments(body);
    let rest = &body[start..];
    let joined = ctes.join(",\n");
    let starts_with_with = rest.len() >= 4
        && rest[..4].eq_ignore_ascii_case("with")
        && rest[4..].starts_with(|c: char| c.is_whitespace());
    if starts_with_with {
        format!(
            "{}with {joined},\n{}",
            &body[..start],
            rest[4..].trim_start()
        )
    } else {
        format!("{}with {joined}\n{rest}", &body[..start])
    }
}

/// The byte offset of the first token that is neither white space nor a comment.
fn skip_comments(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if sql[i..].starts_with("--") {
            i = sql[i..]
                .find('\n')
                .map(|n| i + n + 1)
                .unwrap_or(bytes.len());
        } else if sql[i..].starts_with("/*") {
            i = sql[i..]
                .find("*/")
                .map(|n| i + n + 2)
                .unwrap_or(bytes.len());
        } else {
            return i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_merge_into_existing_with() {
        let out = inject_ctes(
            "-- hi\nWITH a as (select 1) select * from a;",
            &["__dbt__cte__e as (\nselect 2\n)".into()],
        );
        assert_eq!(
            out,
            "-- hi\nwith __dbt__cte__e as (\nselect 2\n),\na as (select 1) select * from a"
        );
        let out = inject_ctes(
            "select * from __dbt__cte__e",
            &["__dbt__cte__e as (\nselect 2\n)".into()],
        );
        assert_eq!(
            out,
            "with __dbt__cte__e as (\nselect 2\n)\nselect * from __dbt__cte__e"
        );
    }

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
