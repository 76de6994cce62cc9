//! The parse cache, `<target-path>/partial_parse.msgpack`: a loaded project's nodes, sources and
//! graph, kept with a fingerprint of everything the parse read, so that an unchanged project
//! loads without rendering or reading its YAML again.
//!
//! The fingerprint is by content: each file's BLAKE3 hash, re-read only when the file's size or
//! modification time differ from when the hash was taken (so a `touch` costs one read, not a
//! parse). Seed files count by name only: the parse never reads their rows. Also in the
//! fingerprint: the orderlake binary itself, `--vars`, the target; and, checked separately, the
//! environment variables the renders read (`env_var`), with the values they saw.
//!
//! The file is a sequence of length-prefixed MessagePack frames: the header (format, fingerprint,
//! file stamps, environment), then names, sources and graph, then the nodes in chunks that are
//! decoded on every core. A stale cache costs the header's decoding only. Any trouble reading or
//! writing it means a full parse, never an error: the cache is an optimisation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::LoadOptions;
use crate::config::{ProjectFile, Target};
use crate::graph::Dag;
use crate::packages::Packages;
use crate::{Node, Source};

const FILE_NAME: &str = "partial_parse.msgpack";
/// Bumped when the layout of this file changes.
const FORMAT: u32 = 2;
/// Nodes per frame: enough frames to keep every core busy while decoding.
const NODES_PER_FRAME: usize = 2048;

/// What a parse produced that the cache keeps.
#[derive(Debug)]
pub(super) struct Parsed {
    /// Model, seed and snapshot names to unique ids (enabled nodes only).
    pub names: BTreeMap<String, String>,
    pub nodes: BTreeMap<String, Node>,
    pub sources: BTreeMap<String, Source>,
    pub dag: Dag,
}

/// [`Parsed`] borrowed, for writing.
pub(super) struct ParsedRef<'a> {
    pub names: &'a BTreeMap<String, String>,
    pub nodes: &'a BTreeMap<String, Node>,
    pub sources: &'a BTreeMap<String, Source>,
    pub dag: &'a Dag,
}

/// The frame after the header.
#[derive(Serialize, Deserialize)]
struct Graph<N, S, D> {
    names: N,
    sources: S,
    dag: D,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stamp {
    path: PathBuf,
    len: u64,
    modified_ns: u64,
    hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    fingerprint: String,
    files: Vec<Stamp>,
    env: BTreeMap<String, Option<String>>,
}

/// The cache of one project, fingerprinted as it is now.
pub(super) struct ParseCache {
    path: PathBuf,
    fingerprint: String,
    files: Vec<Stamp>,
    /// The previous cache's header, and its body being decoded meanwhile (on another thread:
    /// most loads are hits, and the decoding then overlaps the fingerprinting).
    previous: Option<(Header, std::thread::JoinHandle<Option<Parsed>>)>,
}

impl ParseCache {
    /// Reads the previous cache (if any) and fingerprints the project's files.
    pub fn open(
        root: &Path,
        file: &ProjectFile,
        packages: &Packages,
        target: &Target,
        options: &LoadOptions,
    ) -> Self {
        let path = root.join(&file.target_path).join(FILE_NAME);
        let previous = std::fs::read(&path).ok().and_then(|bytes| {
            let (header, rest) = next_frame(&bytes)?;
            let header: Header = rmp_serde::from_slice(header).ok()?;
            if header.format != FORMAT {
                return None;
            }
            let consumed = bytes.len() - rest.len();
            let body = std::thread::Builder::new()
                .name("parse-cache".into())
                .spawn(move || decode(&bytes[consumed..]))
                .ok()?;
            Some((header, body))
        });
        let known: BTreeMap<&Path, &Stamp> = previous
            .iter()
            .flat_map(|(h, _)| h.files.iter().map(|s| (s.path.as_path(), s)))
            .collect();
        let files = stamps(root, file, packages, &known);
        tracing::debug!(files = files.len(), "parse cache: project stamped");

        let mut hasher = blake3::Hasher::new();
        let mut feed = |part: &str| {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        };
        feed(&FORMAT.to_string());
        feed(&binary_identity());
        feed(options.vars.as_deref().unwrap_or_default());
        feed(&format!(
            "{}|{}|{}|{}",
            target.name, target.schema, target.warehouse, target.threads
        ));
        for stamp in &files {
            feed(&stamp.path.to_string_lossy());
            feed(&stamp.hash);
        }
        ParseCache {
            path,
            fingerprint: hasher.finalize().to_hex().to_string(),
            files,
            previous,
        }
    }

    /// The cached parse, if it was made from the same files, settings and environment.
    pub fn hit(&mut self) -> Option<Parsed> {
        let (header, body) = self.previous.take()?;
        if header.fingerprint != self.fingerprint {
            tracing::debug!(
                "parse cache: the project changed since {}",
                self.path.display()
            );
            return None;
        }
        if let Some(name) = header
            .env
            .iter()
            .find(|(name, seen)| std::env::var(name).ok() != **seen)
            .map(|(name, _)| name)
        {
            tracing::debug!("parse cache: environment variable {name} changed");
            return None;
        }
        match body.join().ok().flatten() {
            Some(parsed) => Some(parsed),
            None => {
                tracing::debug!("parse cache: unreadable; parsing");
                None
            }
        }
    }

    /// Keeps `parsed` for the next load; a failure is logged and otherwise ignored.
    pub fn store(&self, parsed: ParsedRef<'_>) {
        let header = Header {
            format: FORMAT,
            fingerprint: self.fingerprint.clone(),
            files: self.files.clone(),
            env: crate::jinja::env_read(),
        };
        let write = || -> Result<(), Box<dyn std::error::Error>> {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let mut bytes = Vec::new();
            push_frame(&mut bytes, &header)?;
            let graph = Graph {
                names: parsed.names,
                sources: parsed.sources,
                dag: parsed.dag,
            };
            push_frame(&mut bytes, &graph)?;
            let nodes: Vec<&Node> = parsed.nodes.values().collect();
            for chunk in nodes.chunks(NODES_PER_FRAME) {
                push_frame(&mut bytes, &chunk)?;
            }
            // Written aside and renamed, so a concurrent load never reads half a file.
            let temporary = dir.join(format!("{FILE_NAME}.{}", std::process::id()));
            std::fs::write(&temporary, bytes)?;
            std::fs::rename(&temporary, &self.path)?;
            Ok(())
        };
        if let Err(e) = write() {
            tracing::debug!("parse cache: not written to {}: {e}", self.path.display());
        }
    }
}

/// Appends `value` as a frame: its length (8 bytes, little-endian), then its MessagePack, with
/// field names so that optional fields may be left out.
fn push_frame(bytes: &mut Vec<u8>, value: &impl Serialize) -> Result<(), rmp_serde::encode::Error> {
    let encoded = rmp_serde::to_vec_named(value)?;
    bytes.extend_from_slice(&(encoded.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&encoded);
    Ok(())
}

/// The first frame of `bytes` and what follows it.
fn next_frame(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<8>()?;
    let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// The frames after the header, decoded (the node chunks in parallel).
fn decode(mut bytes: &[u8]) -> Option<Parsed> {
    type Owned = Graph<BTreeMap<String, String>, BTreeMap<String, Source>, Dag>;
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (frame, rest) = next_frame(bytes)?;
        frames.push(frame);
        bytes = rest;
    }
    let (graph, chunks) = frames.split_first()?;
    // Half the frames on another thread, the graph and the other half on this one.
    let (theirs, ours) = chunks.split_at(chunks.len() / 2);
    let decode_nodes = |frames: &[&[u8]]| -> Option<Vec<Vec<Node>>> {
        frames
            .iter()
            .map(|f| rmp_serde::from_slice::<Vec<Node>>(f).ok())
            .collect()
    };
    let (graph, ours, theirs) = std::thread::scope(|s| {
        let theirs = s.spawn(|| decode_nodes(theirs));
        let graph: Option<Owned> = rmp_serde::from_slice(graph).ok();
        let ours = decode_nodes(ours);
        (graph, ours, theirs.join().ok().flatten())
    });
    let (graph, decoded) = (graph?, theirs?.into_iter().chain(ours?));
    Some(Parsed {
        names: graph.names,
        sources: graph.sources,
        dag: graph.dag,
        nodes: decoded
            .into_iter()
            .flatten()
            .map(|n| (n.unique_id.clone(), n))
            .collect(),
    })
}

/// The running binary, by size and modification time: another build of orderlake may parse
/// differently, so it never reuses this one's cache.
fn binary_identity() -> String {
    std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| format!("{}:{}", m.len(), modified_ns(&m)))
        .unwrap_or_default()
}

fn modified_ns(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Stamps of every file the parse may read, in path order: the project's and its packages'
/// `dbt_project.yml`, `packages.yml`, `dependencies.yml`, and everything below their model,
/// seed, snapshot, test and macro paths.
fn stamps(
    root: &Path,
    file: &ProjectFile,
    packages: &Packages,
    known: &BTreeMap<&Path, &Stamp>,
) -> Vec<Stamp> {
    let mut projects = vec![(PathBuf::new(), file)];
    projects.extend(packages.folders.iter().map(|p| (p.dir.clone(), &p.file)));
    // (relative path, whether only the path counts)
    let mut wanted: Vec<(PathBuf, bool)> = Vec::new();
    for (base, file) in projects {
        for name in ["dbt_project.yml", "packages.yml", "dependencies.yml"] {
            let path = base.join(name);
            if root.join(&path).is_file() {
                wanted.push((path, false));
            }
        }
        let folders = [
            (&file.model_paths, false),
            (&file.seed_paths, true),
            (&file.snapshot_paths, false),
            (&file.test_paths, false),
            (&file.macro_paths, false),
        ];
        for (dirs, seeds) in folders {
            for dir in dirs {
                let dir = root.join(base.join(dir));
                for entry in walkdir::WalkDir::new(&dir).into_iter().flatten() {
                    if entry.file_type().is_file() {
                        let path = entry.path();
                        let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
                        let is_seed_data = seeds
                            && path
                                .extension()
                                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
                        wanted.push((rel, is_seed_data));
                    }
                }
            }
        }
    }
    wanted.sort();
    wanted.dedup_by(|a, b| a.0 == b.0);
    // The stat calls dominate: on every core.
    let stamped = super::parallel(wanted, |(path, path_only)| {
        let Ok(meta) = std::fs::metadata(root.join(&path)) else {
            return Ok(None);
        };
        let len = meta.len();
        let modified_ns = modified_ns(&meta);
        let hash = match known.get(path.as_path()) {
            Some(old) if old.len == len && old.modified_ns == modified_ns => old.hash.clone(),
            // Only its name counts: the parse never reads a seed's rows.
            _ if path_only => "seed".to_string(),
            // Unreadable now: a fingerprint no cache has, so the parse reports it.
            _ => match std::fs::read(root.join(&path)) {
                Ok(bytes) => blake3::hash(&bytes).to_hex().to_string(),
                Err(_) => format!("unreadable:{len}:{modified_ns}"),
            },
        };
        Ok(Some(Stamp {
            path,
            len,
            modified_ns,
            hash,
        }))
    });
    stamped.unwrap_or_default().into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Project;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn shop(root: &Path) {
        write(root, "dbt_project.yml", "name: shop\nversion: '1.0'\n");
        write(root, "models/orders.sql", "select 1 as id");
        write(
            root,
            "models/marts/revenue.sql",
            "{{ config(materialized='table', tags=['money']) }}\nselect * from {{ ref('orders') }}",
        );
        write(
            root,
            "models/_props.yml",
            "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        tests: [not_null]\n",
        );
        write(root, "seeds/regions.csv", "id,name\n1,north\n");
    }

    fn load(root: &Path) -> Project {
        Project::load(root, &LoadOptions::default()).unwrap()
    }

    /// Whether the cache as it is on disk would serve the next load.
    fn would_hit(root: &Path) -> bool {
        let file = ProjectFile::load(&root.join("dbt_project.yml")).unwrap();
        let packages = Packages::resolve(root, &file).unwrap();
        let target = Target::resolve(root, file.profile.as_deref(), None).unwrap();
        ParseCache::open(root, &file, &packages, &target, &LoadOptions::default())
            .hit()
            .is_some()
    }

    fn nodes_json(project: &Project) -> serde_json::Value {
        serde_json::to_value(&project.nodes).unwrap()
    }

    #[test]
    fn an_unchanged_project_loads_from_the_cache_as_it_was_parsed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        shop(root);
        let parsed = load(root);
        assert!(root.join("target").join(FILE_NAME).is_file());
        assert!(would_hit(root));
        let cached = load(root);
        assert_eq!(nodes_json(&cached), nodes_json(&parsed));
        assert_eq!(cached.dag.parents, parsed.dag.parents);
        assert_eq!(cached.dag.children, parsed.dag.children);
        assert_eq!(
            cached.node_by_name("revenue").unwrap().depends_on,
            ["model.shop.orders"]
        );
        assert_eq!(cached.nodes.len(), 4, "2 models, 1 seed, 1 test");
        assert_eq!(
            cached.compile("model.shop.revenue", false).unwrap().sql,
            parsed.compile("model.shop.revenue", false).unwrap().sql
        );

        // Written again with the same text: a new modification time, the same content.
        write(root, "models/orders.sql", "select 1 as id");
        assert!(would_hit(root));
        // A seed's rows are not part of the parse.
        write(root, "seeds/regions.csv", "id,name\n1,north\n2,south\n");
        assert!(would_hit(root));
    }

    #[test]
    fn an_edit_is_seen_by_the_next_load() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        shop(root);
        load(root);
        write(
            root,
            "models/marts/revenue.sql",
            "{{ config(materialized='view', tags=['edited']) }}\nselect 2 as id",
        );
        assert!(!would_hit(root));
        let project = load(root);
        let revenue = project.node_by_name("revenue").unwrap();
        assert_eq!(revenue.config.tags(), ["edited"]);
        assert_eq!(revenue.materialized(), "view");
        assert!(revenue.depends_on.is_empty());
        assert!(would_hit(root), "the new parse was cached");

        write(root, "models/customers.sql", "select 1 as id");
        assert!(load(root).node_by_name("customers").is_some());
        write(
            root,
            "models/_props.yml",
            "version: 2\nmodels:\n  - name: orders\n",
        );
        assert!(
            !load(root).nodes.keys().any(|id| id.starts_with("test.")),
            "the removed test is gone"
        );
        std::fs::remove_file(root.join("models/customers.sql")).unwrap();
        assert!(load(root).node_by_name("customers").is_none());
    }

    #[test]
    fn a_changed_environment_variable_is_a_new_parse() {
        const VAR: &str = "ORDERLAKE_PARSE_CACHE_TEST_TAG";
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        shop(root);
        write(
            root,
            "models/orders.sql",
            &format!("{{{{ config(tags=[env_var('{VAR}', 'unset')]) }}}}\nselect 1 as id"),
        );
        // SAFETY: no other test reads or writes this variable.
        unsafe { std::env::set_var(VAR, "first") };
        assert_eq!(
            load(root).node_by_name("orders").unwrap().config.tags(),
            ["first"]
        );
        assert!(would_hit(root));
        unsafe { std::env::set_var(VAR, "second") };
        assert!(!would_hit(root));
        assert_eq!(
            load(root).node_by_name("orders").unwrap().config.tags(),
            ["second"]
        );
        unsafe { std::env::remove_var(VAR) };
        assert_eq!(
            load(root).node_by_name("orders").unwrap().config.tags(),
            ["unset"]
        );
    }

    #[test]
    fn a_damaged_cache_or_another_vars_is_a_full_parse() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        shop(root);
        let parsed = load(root);
        let path = root.join("target").join(FILE_NAME);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(!would_hit(root));
        assert_eq!(nodes_json(&load(root)), nodes_json(&parsed));
        std::fs::write(&path, b"not a cache").unwrap();
        assert_eq!(nodes_json(&load(root)), nodes_json(&parsed));

        let with_vars = LoadOptions {
            vars: Some("{region: north}".into()),
            ..LoadOptions::default()
        };
        Project::load(root, &with_vars).unwrap();
        assert!(
            !would_hit(root),
            "the cache now holds the parse with --vars"
        );
    }

    #[test]
    fn no_partial_parse_neither_reads_nor_writes_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        shop(root);
        let options = LoadOptions {
            no_partial_parse: true,
            ..LoadOptions::default()
        };
        Project::load(root, &options).unwrap();
        assert!(!root.join("target").join(FILE_NAME).exists());
    }
}
