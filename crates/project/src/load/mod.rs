//! Loading a project: discovery of its files ([`discover`]), the parse render that finds refs
//! and configs, relations, generic tests from properties ([`generic_tests`]), the DAG; and the
//! compile render of a node's SQL ([`compile`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Value;
use serde_json::Value as Json;

use crate::config::{Config, ProjectFile, Target, config_from_tree, yaml_to_json};
use crate::error::{ProjectError, Result};
use crate::graph::Dag;
use crate::jinja::{self, Lookups, MacroLibrary, Phase, RenderTarget, Scope, Wanted};
use crate::props::{NodeProps, PropertiesFile};
use crate::relation::Relation;
use crate::{Compiled, External, Node, Project, ResourceType, Source, TestSpec};

mod cache;
mod compile;
mod discover;
mod generic_tests;

pub(crate) use compile::{compile, compile_inline, inject_ctes};
pub(crate) use discover::files_with;
use discover::{Loader, read_macro_files};
use generic_tests::{build_generic_test, finish_generic_test};

/// What the command line may override.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--vars`: a YAML mapping, e.g. `{as_of_date: '2024-01-31'}`.
    pub vars: Option<String>,
    /// `--target`: the output of `profiles.yml` to use.
    pub target: Option<String>,
    /// `--warehouse`: where the Delta tables live.
    pub warehouse: Option<crate::StorageLocation>,
    /// `--engine`: where model queries run.
    pub compute: Option<crate::Compute>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--state`: the target folder of an earlier run.
    pub state: Option<PathBuf>,
    /// `--no-partial-parse`: parse every file even when the parse cache says nothing changed.
    pub no_partial_parse: bool,
}

pub(crate) fn load(root: &Path, options: &LoadOptions) -> Result<Project> {
    let started = std::time::Instant::now();
    let stage =
        |what: &str| tracing::debug!(ms = started.elapsed().as_millis() as u64, "load: {what}");
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
    if let Some(c) = &options.compute {
        target.compute = c.clone();
    }
    if let Some(t) = options.threads {
        target.threads = t.max(1);
    }

    let vars = collect_vars(&file, options.vars.as_deref())?;
    let packages = crate::packages::Packages::resolve(&root, &file)?;
    let macros = Arc::new(MacroLibrary::build_with_packages(
        &read_macro_files(&root, &file)?,
        &packages.macros(&root)?,
    ));
    stage("macros");

    let mut cache = (!options.no_partial_parse)
        .then(|| cache::ParseCache::open(&root, &file, &packages, &target, options));
    if let Some(parsed) = cache.as_mut().and_then(cache::ParseCache::hit) {
        stage("parse cache hit");
        let mut scope = new_scope(parsed.names, &parsed.sources, vars, macros, &target);
        scope.relations = parsed
            .nodes
            .values()
            .filter(|n| n.resource_type != ResourceType::Test)
            .filter_map(|n| Some((n.unique_id.clone(), n.relation.clone()?)))
            .collect();
        scope.event_times = event_times(&parsed.nodes);
        return Ok(Project {
            state: load_state(options)?,
            root,
            name: file.name.clone(),
            file,
            target,
            nodes: parsed.nodes,
            sources: parsed.sources,
            dag: parsed.dag,
            scope: Arc::new(scope),
        });
    }
    let mut loader = Loader {
        root: root.clone(),
        file,
        nodes: BTreeMap::new(),
        names: BTreeMap::new(),
        sources: BTreeMap::new(),
        pending_tests: Vec::new(),
        pending_unit_tests: Vec::new(),
        base: PathBuf::new(),
        root_file: None,
    };
    loader.discover()?;
    stage("discovered");
    loader.apply_properties()?;
    for package in &packages.folders {
        loader.discover_package(package)?;
    }
    stage("properties");

    let mut scope = Arc::new(new_scope(
        loader
            .names
            .iter()
            .map(|(name, (id, _))| (name.clone(), id.clone()))
            .collect(),
        &loader.sources,
        vars,
        macros,
        &target,
    ));

    let Loader {
        file,
        mut nodes,
        sources,
        pending_tests,
        pending_unit_tests,
        ..
    } = loader;

    // Parse render: discover refs, sources and in-file config (nodes are independent: in
    // parallel).
    let parsing: Vec<&mut Node> = nodes
        .values_mut()
        .filter(|n| !matches!(n.resource_type, ResourceType::Seed))
        .collect();
    parallel(parsing, |node| {
        let render_target = RenderTarget {
            path: &node.path,
            name: &node.name,
            unique_id: &node.unique_id,
            resource_type: node.resource_type.as_str(),
            this: Some(Relation::new("__pending__", node.name.clone())),
            is_incremental: false,
            config: &node.config.0,
            batch: None,
            lookups: None,
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
        Ok(())
    })?;

    stage("parse render");

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
    Arc::make_mut(&mut scope).event_times = event_times(&nodes);
    for node in nodes.values_mut() {
        node.relation = scope.relations.get(&node.unique_id).cloned();
    }

    stage("relations");

    // Generic tests from properties files: named in order (names must be unique), rendered in
    // parallel.
    let mut used_names = BTreeSet::new();
    let mut tests = Vec::new();
    for pending in pending_tests {
        if let Some(node) =
            build_generic_test(&scope, &file, &nodes, &sources, pending, &mut used_names)?
        {
            tests.push(node);
        }
    }
    let tests = parallel(tests, |node| {
        finish_generic_test(&root, &scope, &nodes, &sources, node)
    })?;
    for node in tests {
        nodes.insert(node.unique_id.clone(), node);
    }

    stage("generic tests");
    for (props, path) in pending_unit_tests {
        if let Some(node) = unit_test_node(&root, &scope, &file, &nodes, props, &path)? {
            nodes.insert(node.unique_id.clone(), node);
        }
    }

    // Dependencies.
    for node in nodes.values_mut() {
        let mut deps: Vec<String> = Vec::new();
        if let Some(test) = &node.test {
            deps.push(test.attached_to.clone());
        }
        if let Some(unit) = &node.unit {
            deps.push(unit.model.clone());
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

    stage("dependencies");
    let dag = Dag::build(&nodes, &sources)?;
    stage("dag");
    if let Some(cache) = &cache {
        cache.store(cache::ParsedRef {
            names: &scope.names,
            nodes: &nodes,
            sources: &sources,
            dag: &dag,
        });
        stage("parse cache written");
    }
    Ok(Project {
        state: load_state(options)?,
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

fn load_state(options: &LoadOptions) -> Result<Option<Arc<crate::state::State>>> {
    match &options.state {
        Some(dir) => Ok(Some(Arc::new(crate::state::State::load(dir)?))),
        None => Ok(None),
    }
}

/// The render scope of a project whose names and sources are known; relations and event
/// times are filled in once the parse has resolved them.
fn new_scope(
    names: BTreeMap<String, String>,
    sources: &BTreeMap<String, Source>,
    vars: BTreeMap<String, Json>,
    macros: Arc<MacroLibrary>,
    target: &Target,
) -> Scope {
    let now = chrono::Utc::now();
    Scope {
        names,
        relations: BTreeMap::new(),
        sources: sources
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
        run_started_at: now,
        invocation_id: format!("{:x}", now.timestamp_nanos_opt().unwrap_or_default()),
        event_times: BTreeMap::new(),
        macro_overrides: BTreeMap::new(),
        env_overrides: BTreeMap::new(),
        base: Default::default(),
    }
}

/// Unique id to `event_time` column, for the nodes that say one (microbatch filtering).
fn event_times(nodes: &BTreeMap<String, Node>) -> BTreeMap<String, String> {
    nodes
        .values()
        .filter_map(|n| {
            n.config
                .str("event_time")
                .map(|e| (n.unique_id.clone(), e.to_string()))
        })
        .collect()
}

/// `f` over `items` on every core, results in the items' order; the first error (in that
/// order) wins.
pub(crate) fn parallel<T: Send, R: Send>(
    items: Vec<T>,
    f: impl Fn(T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 64 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(chunk).collect());
    }
    let f = &f;
    let results: Vec<Result<Vec<R>>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| s.spawn(move || chunk.into_iter().map(f).collect::<Result<Vec<R>>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ProjectError::invalid(
                        "<parse>",
                        "a parse thread panicked (a bug in orderlake)",
                    ))
                })
            })
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
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
        lookups: None,
    }
}

fn resolve_relation(scope: &Arc<Scope>, node: &Node) -> Result<Relation> {
    // dbt's default naming, without a render when the project keeps the built-in macros.
    let builtin_schema = !scope.macros.project_defines("generate_schema_name");
    let builtin_alias = !scope.macros.project_defines("generate_alias_name");
    if builtin_schema
        && builtin_alias
        && let Some(target) = &scope.target
        && (node.resource_type != ResourceType::Snapshot
            || node.config.str("target_schema").is_none())
    {
        let schema = match node.config.schema().map(str::trim) {
            Some(custom) => format!("{}_{custom}", target.schema),
            None => target.schema.clone(),
        };
        let alias = node
            .config
            .alias()
            .map(|a| a.trim().to_string())
            .unwrap_or_else(|| node.name.clone());
        let mut relation = Relation::new(schema, alias);
        relation.ephemeral = node.is_ephemeral();
        return Ok(relation);
    }
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

/// A `unit_tests:` entry as a test node attached to its model.
fn unit_test_node(
    root: &Path,
    scope: &Arc<Scope>,
    file: &ProjectFile,
    nodes: &BTreeMap<String, Node>,
    props: crate::unit_tests::UnitTestProps,
    path: &Path,
) -> Result<Option<Node>> {
    use crate::unit_tests::{Given, UnitTestSpec, resolve_input, rows_of};
    let what = format!("unit test '{}'", props.name);
    let Some(model) = scope.names.get(&props.model).cloned() else {
        return Err(ProjectError::invalid(
            path,
            format!("{what}: no model named '{}'", props.model),
        ));
    };
    if !nodes.contains_key(&model) {
        return Ok(None);
    }
    let mut given = Vec::new();
    for g in &props.given {
        let target = resolve_input(&g.input, &scope.names, &scope.sources)
            .map_err(|m| ProjectError::invalid(path, format!("{what}: {m}")))?;
        let rows = rows_of(root, &g.rows, path, &format!("{what}, given {}", g.input))?;
        given.push(Given {
            input: g.input.clone(),
            target,
            rows,
        });
    }
    let expect = rows_of(root, &props.expect, path, &format!("{what}, expect"))?;
    let overrides = props.overrides.clone().unwrap_or_default();
    let to_map = |m: &serde_yaml::Mapping| -> BTreeMap<String, Json> {
        m.iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), yaml_to_json(v))))
            .collect()
    };
    let spec = UnitTestSpec {
        model: model.clone(),
        given,
        expect,
        macro_overrides: to_map(&overrides.macros),
        var_overrides: to_map(&overrides.vars),
        env_overrides: to_map(&overrides.env_vars)
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or(v.to_string())))
            .collect(),
    };
    let fqn = vec![file.name.clone(), props.model.clone(), props.name.clone()];
    let mut config = crate::Config(crate::config::config_from_tree(&file.tests, &fqn));
    if let Json::Object(map) = yaml_to_json(&serde_yaml::Value::Mapping(props.config.clone())) {
        config.merge(&map);
    }
    let mut node = Node::new(
        format!("unit_test.{}.{}.{}", file.name, props.model, props.name),
        ResourceType::Test,
        props.name.clone(),
        path.to_path_buf(),
        fqn,
        config,
    );
    node.description = props.description.clone().unwrap_or_default();
    node.unit = Some(spec);
    if !node.config.enabled() {
        return Ok(None);
    }
    node.materialization = crate::spec::resolve_node(root, &node)?;
    Ok(Some(node))
}
