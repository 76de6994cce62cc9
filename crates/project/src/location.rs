//! Where a warehouse (or a landing area) lives: a local folder, or a prefix in an S3-compatible
//! object store (`s3://bucket/prefix`). Parsed once from the command line or `profiles.yml`;
//! a URL whose scheme orderlake cannot write is refused by name, never taken for a folder.

use std::fmt;
use std::path::{Path, PathBuf};

/// A local folder or an object-store prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StorageLocation {
    Folder(PathBuf),
    /// `s3://bucket/prefix` (`s3a://` is read as `s3://`), without a trailing slash.
    S3(url::Url),
}

/// Object-store schemes people write that orderlake does not serve (yet): named in the error.
const UNSUPPORTED: &[&str] = &[
    "gs", "gcs", "az", "azure", "abfs", "abfss", "adl", "wasb", "wasbs", "hdfs", "http", "https",
    "memory", "oss", "r2", "lakefs",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LocationError {
    #[error(
        "'{text}': {scheme}:// is not a storage orderlake can use; give a local folder or s3://bucket/prefix \
         (any S3-compatible store, with AWS_ENDPOINT_URL)"
    )]
    UnsupportedScheme { text: String, scheme: String },
    #[error("'{text}': {why}")]
    Invalid { text: String, why: String },
}

impl StorageLocation {
    /// Reads `text`: a URL with a scheme (`s3://…`; other schemes are refused), a `file://` URL,
    /// or a path (relative ones are taken from `relative_to`).
    pub fn parse(text: &str, relative_to: &Path) -> Result<StorageLocation, LocationError> {
        let trimmed = text.trim();
        if let Some((scheme, _)) = trimmed.split_once("://") {
            let scheme_lower = scheme.to_ascii_lowercase();
            let looks_like_scheme = scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if looks_like_scheme {
                return match scheme_lower.as_str() {
                    "s3" | "s3a" => Self::s3(trimmed),
                    "file" => {
                        let url = url::Url::parse(trimmed).map_err(|e| LocationError::Invalid {
                            text: text.to_string(),
                            why: e.to_string(),
                        })?;
                        let path = url.to_file_path().map_err(|()| LocationError::Invalid {
                            text: text.to_string(),
                            why: "not a local path".into(),
                        })?;
                        Ok(StorageLocation::Folder(path))
                    }
                    _ => Err(LocationError::UnsupportedScheme {
                        text: text.to_string(),
                        scheme: scheme_lower,
                    }),
                };
            }
        }
        // `gs:bucket` and the like (no slashes) are still URLs to anyone who wrote them.
        if let Some((scheme, _)) = trimmed.split_once(':')
            && UNSUPPORTED.contains(&scheme.to_ascii_lowercase().as_str())
        {
            return Err(LocationError::UnsupportedScheme {
                text: text.to_string(),
                scheme: scheme.to_ascii_lowercase(),
            });
        }
        if trimmed.is_empty() {
            return Err(LocationError::Invalid {
                text: text.to_string(),
                why: "empty".into(),
            });
        }
        let path = PathBuf::from(trimmed);
        Ok(StorageLocation::Folder(if path.is_absolute() {
            path
        } else {
            relative_to.join(path)
        }))
    }

    fn s3(text: &str) -> Result<StorageLocation, LocationError> {
        let invalid = |why: &str| LocationError::Invalid {
            text: text.to_string(),
            why: why.to_string(),
        };
        let (_, rest) = text.split_once("://").ok_or_else(|| invalid("not a URL"))?;
        let mut url =
            url::Url::parse(&format!("s3://{rest}")).map_err(|e| invalid(&e.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no bucket: write s3://bucket/prefix"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a storage URL has no ?query or #fragment"));
        }
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        Ok(StorageLocation::S3(url))
    }

    /// The local folder, for a warehouse on disk.
    pub fn as_folder(&self) -> Option<&Path> {
        match self {
            StorageLocation::Folder(path) => Some(path),
            StorageLocation::S3(_) => None,
        }
    }
}

impl From<&Path> for StorageLocation {
    fn from(path: &Path) -> Self {
        StorageLocation::Folder(path.to_path_buf())
    }
}

impl From<PathBuf> for StorageLocation {
    fn from(path: PathBuf) -> Self {
        StorageLocation::Folder(path)
    }
}

impl From<&PathBuf> for StorageLocation {
    fn from(path: &PathBuf) -> Self {
        StorageLocation::Folder(path.clone())
    }
}

impl From<&StorageLocation> for StorageLocation {
    fn from(location: &StorageLocation) -> Self {
        location.clone()
    }
}

impl fmt::Display for StorageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageLocation::Folder(path) => write!(f, "{}", path.display()),
            StorageLocation::S3(url) => write!(f, "{url}"),
        }
    }
}

impl serde::Serialize for StorageLocation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StorageLocation, LocationError> {
        StorageLocation::parse(text, Path::new("/project"))
    }

    #[test]
    fn folders_relative_and_absolute() {
        assert_eq!(
            parse("warehouse").unwrap(),
            StorageLocation::Folder(PathBuf::from("/project/warehouse"))
        );
        assert_eq!(
            parse("/data/wh").unwrap(),
            StorageLocation::Folder(PathBuf::from("/data/wh"))
        );
        assert_eq!(
            parse("file:///data/wh").unwrap(),
            StorageLocation::Folder(PathBuf::from("/data/wh"))
        );
        // A folder whose name has a colon is still a folder.
        assert_eq!(
            parse("runs/2026-12-01T10:00").unwrap(),
            StorageLocation::Folder(PathBuf::from("/project/runs/2026-12-01T10:00"))
        );
    }

    #[test]
    fn s3_urls_keep_bucket_and_prefix() {
        let StorageLocation::S3(url) = parse("s3://lake/wh/").unwrap() else {
            panic!("s3")
        };
        assert_eq!(url.as_str(), "s3://lake/wh");
        assert_eq!(
            parse("s3a://lake/wh").unwrap(),
            parse("s3://lake/wh").unwrap()
        );
        assert_eq!(parse("s3://lake/").unwrap().to_string(), "s3://lake");
        assert!(matches!(
            parse("s3:///wh"),
            Err(LocationError::Invalid { .. })
        ));
    }

    /// Found by a user: `--warehouse s3://lake/wh` once wrote a local folder named `s3:`.
    #[test]
    fn other_schemes_are_refused_by_name() {
        for (text, scheme) in [
            ("gs://lake/wh", "gs"),
            ("abfss://c@acct.dfs.core.windows.net/wh", "abfss"),
            ("https://example.com/wh", "https"),
            ("hdfs://nn/wh", "hdfs"),
            ("ftp://host/wh", "ftp"),
            ("gs:lake", "gs"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(
                err,
                LocationError::UnsupportedScheme {
                    text: text.into(),
                    scheme: scheme.into()
                }
            );
            assert!(err.to_string().contains(&format!("{scheme}://")), "{err}");
        }
    }
}
