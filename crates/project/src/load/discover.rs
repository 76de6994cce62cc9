//! Finding a project's files: models, seeds, snapshots, singular tests, macros and properties,
//! each becoming a node or a source with its configuration from `dbt_project.yml` and YAML.

use super::*;

/// Files with `extension` below `dir` (sorted, so loading is deterministic), relative to `root`.
pub(crate) fn files_with(
    root: &Path,
    dir: impl AsRef<Path>,
    extensions: &[&str],
) -> Result<Vec<PathBuf>> {
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

pub(super) fn read(root: &Path, rel: &Path) -> Result<String> {
    std::fs::read_to_string(root.join(rel)).map_err(|e| ProjectError::io(rel, e))
}

pub(super) fn read_macro_files(root: &Path, file: &ProjectFile) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for dir in &file.macro_paths {
        for path in files_with(root, dir, &["sql"])? {
            out.push((path.clone(), read(root, &path)?));
        }
    }
    for dir in &file.test_paths {
        for path in files_with(root, format!("{dir}/generic"), &["sql"])? {
            out.push((path.clone(), read(root, &path)?));
        }
    }
    Ok(out)
}

pub(super) struct PendingTest {
    pub(super) attached_to: String,
    pub(super) attached_name: String,
    pub(super) column: Option<String>,
    pub(super) definition: serde_yaml::Value,
    pub(super) props_path: PathBuf,
}

pub(super) struct Loader {
    pub(super) root: PathBuf,
    pub(super) file: ProjectFile,
    pub(super) nodes: BTreeMap<String, Node>,
    /// Model/seed/snapshot name to (unique id, file).
    pub(super) names: BTreeMap<String, (String, PathBuf)>,
    pub(super) sources: BTreeMap<String, Source>,
    pub(super) pending_tests: Vec<PendingTest>,
    /// `unit_tests:` entries and the properties file each is in.
    pub(super) pending_unit_tests: Vec<(crate::unit_tests::UnitTestProps, PathBuf)>,
    /// The folder of the package being discovered (empty for the project itself).
    pub(super) base: PathBuf,
    /// The root project's file while a package is discovered (`file` is the package's then).
    pub(super) root_file: Option<ProjectFile>,
}

impl Loader {
    pub(super) fn discover(&mut self) -> Result<()> {
        let file = self.file.clone();
        for dir in &file.model_paths {
            let dir = self.base.join(dir);
            for path in files_with(&self.root, &dir, &["sql"])? {
                self.add_node(ResourceType::Model, &dir, path, &file.models)?;
            }
        }
        for dir in &file.seed_paths {
            let dir = self.base.join(dir);
            for path in files_with(&self.root, &dir, &["csv"])? {
                self.add_node(ResourceType::Seed, &dir, path, &file.seeds)?;
            }
        }
        for dir in &file.snapshot_paths {
            let dir = self.base.join(dir);
            for path in files_with(&self.root, &dir, &["sql"])? {
                self.add_snapshots(&dir, path, &file.snapshots)?;
            }
        }
        for dir in &file.test_paths {
            let dir = self.base.join(dir);
            let generic = dir.join("generic");
            for path in files_with(&self.root, &dir, &["sql"])? {
                if path.starts_with(&generic) {
                    continue;
                }
                self.add_node(ResourceType::Test, &dir, path, &file.tests)?;
            }
        }
        Ok(())
    }

    /// Discovers a package's nodes and properties as if they were the project's, named after
    /// the package; the root project's `models:` (etc.) configuration applies on top of the
    /// package's own, as in dbt.
    pub(super) fn discover_package(&mut self, package: &crate::packages::Package) -> Result<()> {
        let root_file = std::mem::replace(&mut self.file, package.file.clone());
        self.base = package.dir.clone();
        self.root_file = Some(root_file);
        let result = self.discover().and_then(|()| self.apply_properties());
        self.file = self.root_file.take().expect("set above");
        self.base = PathBuf::new();
        result
    }

    /// A snapshot file holds `{% snapshot name %} ... {% endsnapshot %}` blocks, one node each.
    fn add_snapshots(
        &mut self,
        base: &Path,
        path: PathBuf,
        tree: &serde_yaml::Value,
    ) -> Result<()> {
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
        base: &Path,
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
        base: &Path,
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
        let mut config = Config(config_from_tree(tree, &fqn));
        if let Some(root_file) = &self.root_file {
            let root_tree = match resource_type {
                ResourceType::Model => &root_file.models,
                ResourceType::Seed => &root_file.seeds,
                ResourceType::Snapshot => &root_file.snapshots,
                _ => &root_file.tests,
            };
            config.merge(&config_from_tree(root_tree, &fqn));
        }
        let mut node = Node::new(unique_id.clone(), resource_type, name, path, fqn, config);
        node.raw_code = raw_code;
        self.nodes.insert(unique_id, node);
        Ok(())
    }

    pub(super) fn apply_properties(&mut self) -> Result<()> {
        let mut dirs: Vec<String> = self.file.model_paths.clone();
        dirs.extend(self.file.seed_paths.iter().cloned());
        dirs.extend(self.file.snapshot_paths.iter().cloned());
        let mut seen = BTreeSet::new();
        for dir in dirs {
            let dir = self.base.join(dir);
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
                for unit_test in &props.unit_tests {
                    self.pending_unit_tests
                        .push((unit_test.clone(), path.clone()));
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
            let schema = source.schema.clone().unwrap_or_else(|| source.name.clone());
            let schema_evolution = schema_evolution_mode(source, table, path)?;
            let identifier = table
                .identifier
                .clone()
                .unwrap_or_else(|| table.name.clone());
            let external = external_files(source, table, &schema, &identifier);
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
                    schema_evolution,
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

/// A source table's setting `key` from its own `config` or `meta`, else its source's: where
/// dbt adapters (dbt-duckdb's `external_location`, say) let either level say it.
fn source_setting<'a>(
    source: &'a crate::props::SourceProps,
    table: &'a crate::props::SourceTableProps,
    key: &str,
) -> Option<&'a str> {
    [&table.config, &table.meta, &source.config, &source.meta]
        .into_iter()
        .flatten()
        .find_map(|v| v.get(key).and_then(|m| m.as_str()))
}

/// The files a source table reads, if it is files: `external_location` on the table,
/// dbt-external-tables' `external: {location, file_format}`, or dbt-duckdb's
/// `external_location` under `config:`/`meta:` of the table or of its source — a template in
/// which `{name}`, `{identifier}` and `{schema}` stand for the table's (so one line serves
/// every table: `data/{name}.parquet`). `format`/`file_format` there names the format where the
/// extension does not.
fn external_files(
    source: &crate::props::SourceProps,
    table: &crate::props::SourceTableProps,
    schema: &str,
    identifier: &str,
) -> Option<External> {
    let format = || {
        source_setting(source, table, "file_format")
            .or_else(|| source_setting(source, table, "format"))
            .map(str::to_string)
    };
    if let Some(location) = &table.external_location {
        return Some(External {
            location: location.clone(),
            file_format: format(),
        });
    }
    if let Some(e) = &table.external {
        return Some(External {
            location: e.location.clone(),
            file_format: e.file_format.clone(),
        });
    }
    let template = source_setting(source, table, "external_location")?;
    Some(External {
        location: template
            .replace("{name}", &table.name)
            .replace("{identifier}", identifier)
            .replace("{schema}", schema),
        file_format: format(),
    })
}

/// A source table's `schema_evolution_mode`, from its own `config`/`meta` or its source's.
fn schema_evolution_mode(
    source: &crate::props::SourceProps,
    table: &crate::props::SourceTableProps,
    path: &Path,
) -> Result<crate::spec::SchemaEvolution> {
    const KEY: &str = "schema_evolution_mode";
    let written = source_setting(source, table, KEY);
    let Some(text) = written else {
        return Ok(crate::spec::SchemaEvolution::default());
    };
    crate::spec::SchemaEvolution::parse(text).map_err(|e| {
        let line = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.lines().position(|l| l.contains(KEY) && l.contains(text)))
            .map_or(0, |i| i + 1);
        ProjectError::Config {
            path: path.to_path_buf(),
            line,
            kind: "source",
            node: format!("{}.{}", source.name, table.name),
            message: e.message,
        }
    })
}
