//! Where the warehouse's files are: a local folder or an S3-compatible bucket, behind one
//! object-store interface, with the settings delta-rs needs to open tables there.
//!
//! S3 settings are the standard AWS ones, read from the environment once, here:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` (an
//! S3-compatible server; `http://` endpoints are allowed plain HTTP), `AWS_ALLOW_HTTP`. Commits
//! use S3's conditional puts (`If-None-Match`), so two writers never overwrite each other's
//! commit; a store that ignores them is not safe for Delta tables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use futures::{StreamExt as _, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _};
use orderlake_project::StorageLocation;

use crate::error::{EngineError, Result};

/// An open storage location: list, read, write and delete below its root.
#[derive(Clone)]
pub struct Store {
    location: StorageLocation,
    objects: Arc<dyn ObjectStore>,
    /// What delta-rs is given to open tables here (S3 settings; empty for a folder).
    options: HashMap<String, String>,
    /// The root as a URL (`file:///…` or `s3://bucket/prefix`), for table URLs.
    root_url: url::Url,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.location)
    }
}

/// What listing a prefix finds directly below it.
#[derive(Debug, Default)]
pub struct Listing {
    /// Names of the "folders" (common prefixes), sorted.
    pub folders: Vec<String>,
    /// Objects (files): name, size, last modified.
    pub files: Vec<(String, u64, chrono::DateTime<chrono::Utc>)>,
}

impl Store {
    /// Opens `location`, creating a local folder if needed. On S3 the bucket is listed once, so
    /// a wrong key, bucket or endpoint is reported now, naming the endpoint.
    pub async fn open(location: &StorageLocation) -> Result<Store> {
        match location {
            StorageLocation::Folder(path) => Self::open_folder(path),
            StorageLocation::S3(url) => {
                register_s3();
                let options = s3_options();
                let store = s3_store(url, &options).map_err(|e| EngineError::Storage {
                    location: location.to_string(),
                    endpoint: endpoint_of(location, &options),
                    source: Box::new(e),
                })?;
                let prefix = ObjectPath::from(url.path().trim_start_matches('/'));
                let objects: Arc<dyn ObjectStore> =
                    Arc::new(object_store::prefix::PrefixStore::new(store, prefix));
                let opened = Store {
                    location: location.clone(),
                    objects,
                    options,
                    root_url: url.clone(),
                };
                opened.list(&[]).await?;
                Ok(opened)
            }
        }
    }

    fn open_folder(path: &Path) -> Result<Store> {
        std::fs::create_dir_all(path).map_err(|e| EngineError::io(path, e))?;
        let root = path.canonicalize().map_err(|e| EngineError::io(path, e))?;
        let objects =
            object_store::local::LocalFileSystem::new_with_prefix(&root).map_err(|e| {
                EngineError::Storage {
                    location: root.display().to_string(),
                    endpoint: None,
                    source: Box::new(e),
                }
            })?;
        let root_url = url::Url::from_directory_path(&root).map_err(|()| {
            EngineError::Warehouse(format!("{} is not an absolute folder", root.display()))
        })?;
        Ok(Store {
            location: StorageLocation::Folder(root),
            objects: Arc::new(objects),
            options: HashMap::new(),
            root_url,
        })
    }

    pub fn location(&self) -> &StorageLocation {
        &self.location
    }

    /// The local folder, when the store is one.
    pub fn folder(&self) -> Option<&Path> {
        self.location.as_folder()
    }

    /// Settings for delta-rs to open tables here.
    pub fn delta_options(&self) -> &HashMap<String, String> {
        &self.options
    }

    /// The URL of `parts` below the root (a table's folder).
    pub fn url_of(&self, parts: &[&str]) -> url::Url {
        let mut url = self.root_url.clone();
        let base = url.path().trim_end_matches('/').to_string();
        let mut path = base;
        for part in parts {
            path.push('/');
            path.push_str(part);
        }
        url.set_path(&path);
        url
    }

    /// Where `parts` is, for messages: a path for a folder, a URL otherwise.
    pub fn describe(&self, parts: &[&str]) -> String {
        match &self.location {
            StorageLocation::Folder(root) => {
                let mut path: PathBuf = root.clone();
                for part in parts {
                    path.push(part);
                }
                path.display().to_string()
            }
            StorageLocation::S3(_) => self.url_of(parts).to_string(),
        }
    }

    /// The folders and files directly below `parts` (nothing when it does not exist).
    pub async fn list(&self, parts: &[&str]) -> Result<Listing> {
        let prefix = object_path(parts);
        let prefix = (!parts.is_empty()).then_some(&prefix);
        let found = match self.objects.list_with_delimiter(prefix).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(Listing::default()),
            Err(e) => return Err(self.error(parts, e)),
        };
        let mut folders: Vec<String> = found
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        folders.sort();
        let files = found
            .objects
            .iter()
            .filter_map(|o| {
                o.location
                    .filename()
                    .map(|name| (name.to_string(), o.size, o.last_modified))
            })
            .collect();
        Ok(Listing { folders, files })
    }

    /// The text of the file at `parts`, or `None` if there is none.
    pub async fn read_text(&self, parts: &[&str]) -> Result<Option<String>> {
        let location = object_path(parts);
        match self.objects.get(&location).await {
            Ok(found) => {
                let bytes = found.bytes().await.map_err(|e| self.error(parts, e))?;
                String::from_utf8(bytes.to_vec()).map(Some).map_err(|e| {
                    EngineError::Warehouse(format!("{}: not UTF-8 text: {e}", self.describe(parts)))
                })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(parts, e)),
        }
    }

    /// Copies the file at `parts` to the local file `to`, streaming (a landing file read from
    /// a bucket).
    pub async fn download(&self, parts: &[&str], to: &Path) -> Result<()> {
        use tokio::io::AsyncWriteExt as _;
        let found = self
            .objects
            .get(&object_path(parts))
            .await
            .map_err(|e| self.error(parts, e))?;
        let mut file = tokio::fs::File::create(to)
            .await
            .map_err(|e| EngineError::io(to, e))?;
        let mut chunks = found.into_stream();
        while let Some(chunk) = chunks.try_next().await.map_err(|e| self.error(parts, e))? {
            file.write_all(&chunk)
                .await
                .map_err(|e| EngineError::io(to, e))?;
        }
        file.flush().await.map_err(|e| EngineError::io(to, e))?;
        Ok(())
    }

    /// Writes the file at `parts` whole (a reader sees the old text or the new, never a part).
    pub async fn write_text(&self, parts: &[&str], text: &str) -> Result<()> {
        self.objects
            .put(&object_path(parts), text.to_string().into())
            .await
            .map_err(|e| self.error(parts, e))?;
        Ok(())
    }

    /// Deletes the file at `parts` if it is there.
    pub async fn delete(&self, parts: &[&str]) -> Result<()> {
        match self.objects.delete(&object_path(parts)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(parts, e)),
        }
    }

    /// Deletes everything below `parts` (a table's or view's folder).
    pub async fn delete_all(&self, parts: &[&str]) -> Result<()> {
        if let Some(root) = self.folder() {
            let mut dir = root.to_path_buf();
            for part in parts {
                dir.push(part);
            }
            return match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(EngineError::io(&dir, e)),
            };
        }
        let prefix = object_path(parts);
        let locations = self
            .objects
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        self.objects
            .delete_stream(locations)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| self.error(parts, e))?;
        Ok(())
    }

    fn error(&self, parts: &[&str], source: object_store::Error) -> EngineError {
        EngineError::Storage {
            location: self.describe(parts),
            endpoint: endpoint_of(&self.location, &self.options),
            source: Box::new(source),
        }
    }
}

fn object_path(parts: &[&str]) -> ObjectPath {
    ObjectPath::from_iter(parts.iter().copied())
}

/// The S3 endpoint a location is reached at, for messages (`None` for a folder).
fn endpoint_of(location: &StorageLocation, options: &HashMap<String, String>) -> Option<String> {
    match location {
        StorageLocation::Folder(_) => None,
        StorageLocation::S3(_) => Some(
            endpoint(options)
                .unwrap_or("AWS S3 (no AWS_ENDPOINT_URL)")
                .to_string(),
        ),
    }
}

/// The endpoint the S3 settings name, if any.
fn endpoint(options: &HashMap<String, String>) -> Option<&str> {
    options
        .get("AWS_ENDPOINT_URL")
        .or_else(|| options.get("AWS_ENDPOINT"))
        .map(String::as_str)
}

/// The S3 settings from the environment (every `AWS_*` variable), with plain HTTP allowed
/// for an `http://` endpoint (a local S3-compatible server).
fn s3_options() -> HashMap<String, String> {
    let mut options: HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .collect();
    if endpoint(&options).is_some_and(|e| e.starts_with("http://"))
        && !options.contains_key("AWS_ALLOW_HTTP")
    {
        options.insert("AWS_ALLOW_HTTP".into(), "true".into());
    }
    options
}

/// The bucket of an `s3://bucket/…` URL, with the S3 settings `options` gives.
fn s3_store(
    url: &url::Url,
    options: &HashMap<String, String>,
) -> object_store::Result<object_store::aws::AmazonS3> {
    let mut builder = object_store::aws::AmazonS3Builder::new().with_url(url.as_str());
    for (key, value) in options {
        if let Ok(key) = key.to_ascii_lowercase().parse() {
            builder = builder.with_config(key, value);
        }
    }
    builder.build()
}

/// DataFusion's object stores for a process that reads a warehouse by URL alone — a cluster's
/// scheduler and executors: `file://` is the local disk, and any `s3://bucket` is opened on first
/// use with the AWS settings of this process's environment (as [`Store::open`] does).
#[derive(Debug, Default)]
pub struct EnvironmentStores {
    opened: std::sync::RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl EnvironmentStores {
    fn key(url: &url::Url) -> String {
        format!("{}://{}", url.scheme(), url.authority())
    }
}

impl datafusion::execution::object_store::ObjectStoreRegistry for EnvironmentStores {
    fn register_store(
        &self,
        url: &url::Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.opened
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(Self::key(url), store)
    }

    fn deregister_store(&self, url: &url::Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.opened
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&Self::key(url))
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Execution(format!(
                    "no object store is registered for {url}"
                ))
            })
    }

    fn get_store(&self, url: &url::Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        let key = Self::key(url);
        if let Some(store) = self
            .opened
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(store.clone());
        }
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "file" | "" => Arc::new(object_store::local::LocalFileSystem::new()),
            "s3" | "s3a" => {
                let options = s3_options();
                let bucket = url::Url::parse(&format!("s3://{}", url.authority()))
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
                Arc::new(s3_store(&bucket, &options).map_err(|e| {
                    datafusion::error::DataFusionError::Execution(format!(
                        "cannot open {key} (endpoint {}): {e}",
                        endpoint(&options).unwrap_or("AWS S3")
                    ))
                })?)
            }
            other => {
                return Err(datafusion::error::DataFusionError::Execution(format!(
                    "{url}: {other}:// is not a storage orderlake reads"
                )));
            }
        };
        Ok(self
            .opened
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert(store)
            .clone())
    }
}

/// Lets delta-rs open `s3://` tables (once per process).
fn register_s3() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| deltalake::aws::register_handlers(None));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_folder_lists_reads_writes_and_deletes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&StorageLocation::Folder(dir.path().join("wh")))
            .await
            .expect("open");
        assert!(
            store
                .list(&["gold"])
                .await
                .expect("list")
                .folders
                .is_empty()
        );
        store
            .write_text(&["gold", "v", "view.sql"], "select 1")
            .await
            .expect("write");
        std::fs::create_dir_all(dir.path().join("wh/gold/t/_delta_log")).expect("mkdir");
        let gold = store.list(&["gold"]).await.expect("list");
        assert_eq!(gold.folders, ["t", "v"]);
        let t = store.list(&["gold", "t"]).await.expect("list");
        assert_eq!(
            t.folders,
            ["_delta_log"],
            "an empty log folder is still seen"
        );
        assert_eq!(
            store
                .read_text(&["gold", "v", "view.sql"])
                .await
                .expect("read"),
            Some("select 1".to_string())
        );
        assert_eq!(
            store
                .read_text(&["gold", "w", "view.sql"])
                .await
                .expect("read"),
            None
        );
        store.delete_all(&["gold", "v"]).await.expect("delete");
        assert_eq!(store.list(&["gold"]).await.expect("list").folders, ["t"]);
        assert!(
            store
                .url_of(&["gold", "t"])
                .as_str()
                .ends_with("/wh/gold/t")
        );
    }
}
