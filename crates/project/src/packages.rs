//! Packages: what `packages.yml` (or `dependencies.yml`) names, found on disk or bundled.
//!
//! orderlake downloads nothing. A `local:` package is read where it is; a hub or git package is
//! read from the install folder (`dbt_packages/`, where `dbt deps` puts them) when it is there;
//! `dbt_utils` is bundled — orderlake's own implementation of its most used macros and tests,
//! written for DataFusion, so it is used even when `dbt deps` installed the original.

use std::path::{Path, PathBuf};

use crate::config::ProjectFile;
use crate::error::{ProjectError, Result};
use crate::jinja::PackageMacros;

/// The packages orderlake carries: (name, macros).
const BUNDLED: &[(&str, &str)] = &[
    ("dbt", include_str!("packages/dbt.sql")),
    ("dbt_utils", include_str!("packages/dbt_utils.sql")),
];

/// A package read from a folder: its macros, models, seeds and tests join the project's.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// The package's folder, as a path below (or beside) the project root.
    pub dir: PathBuf,
    pub file: ProjectFile,
}

/// What a project's packages contribute.
#[derive(Debug, Clone, Default)]
pub struct Packages {
    /// Packages read from folders, in the order they were named.
    pub folders: Vec<Package>,
    /// The names of bundled packages in use.
    pub bundled: Vec<String>,
}

impl Packages {
    /// Reads `packages.yml` / `dependencies.yml` in `root`. A project without one still gets the
    /// bundled packages (so `dbt_utils.*` works without a `dbt deps`).
    pub fn resolve(root: &Path, file: &ProjectFile) -> Result<Self> {
        let mut packages = Packages::default();
        for name in ["packages.yml", "dependencies.yml"] {
            let path = root.join(name);
            if !path.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| ProjectError::io(&path, e))?;
            let doc: serde_yaml::Value =
                serde_yaml::from_str(&text).map_err(|e| ProjectError::yaml(&path, &e))?;
            let entries = doc
                .get("packages")
                .and_then(|p| p.as_sequence())
                .cloned()
                .unwrap_or_default();
            for entry in &entries {
                packages.add(root, file, Path::new(name), entry)?;
            }
        }
        for (name, _) in BUNDLED {
            if !packages.folders.iter().any(|p| p.name == *name) {
                packages.bundled.push(name.to_string());
            }
        }
        Ok(packages)
    }

    fn add(
        &mut self,
        root: &Path,
        file: &ProjectFile,
        listed_in: &Path,
        entry: &serde_yaml::Value,
    ) -> Result<()> {
        let text = |key: &str| entry.get(key).and_then(|v| v.as_str()).map(str::to_string);
        if let Some(local) = text("local") {
            let dir = PathBuf::from(&local);
            let package = read_package(root, &dir).map_err(|e| {
                ProjectError::invalid(listed_in, format!("local package '{local}': {e}"))
            })?;
            self.folders.push(package);
            return Ok(());
        }
        let (listed, name) = if let Some(hub) = text("package") {
            let name = hub.rsplit('/').next().unwrap_or(&hub).to_string();
            (hub, name)
        } else if let Some(git) = text("git").or_else(|| text("tarball")) {
            let last = git
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(&git)
                .trim_end_matches(".git")
                .trim_end_matches(".tar.gz")
                .replace('-', "_");
            (git, last)
        } else {
            return Err(ProjectError::invalid(
                listed_in,
                format!(
                    "a package entry needs `local:`, `package:` or `git:`, found: {}",
                    serde_yaml::to_string(entry).unwrap_or_default().trim()
                ),
            ));
        };
        if BUNDLED.iter().any(|(b, _)| *b == name) {
            return Ok(());
        }
        let install = PathBuf::from(&file.packages_install_path);
        if let Some(package) = installed(root, &install, &name) {
            self.folders.push(package);
            return Ok(());
        }
        Err(ProjectError::invalid(
            listed_in,
            format!(
                "package '{listed}' is not bundled with orderlake and not installed under {}/ — orderlake does not download packages: run `dbt deps` once, or copy the package into the project and list it with `local:`",
                install.display()
            ),
        ))
    }

    /// The macro files of every package, bundled ones first (others may call them).
    pub fn macros(&self, root: &Path) -> Result<Vec<PackageMacros>> {
        let mut out: Vec<PackageMacros> = BUNDLED
            .iter()
            .filter(|(name, _)| self.bundled.iter().any(|b| b == name))
            .map(|(name, text)| PackageMacros {
                name: name.to_string(),
                files: vec![(
                    PathBuf::from(format!("<orderlake {name}>")),
                    text.to_string(),
                )],
            })
            .collect();
        for package in &self.folders {
            let mut files = Vec::new();
            for dir in package.file.macro_paths.iter().chain(
                package
                    .file
                    .test_paths
                    .iter()
                    .map(|t| format!("{t}/generic"))
                    .collect::<Vec<_>>()
                    .iter(),
            ) {
                let base = package.dir.join(dir);
                for path in crate::load::files_with(root, &base, &["sql"])? {
                    let text = std::fs::read_to_string(root.join(&path))
                        .map_err(|e| ProjectError::io(&path, e))?;
                    files.push((path, text));
                }
            }
            out.push(PackageMacros {
                name: package.name.clone(),
                files,
            });
        }
        Ok(out)
    }
}

fn read_package(root: &Path, dir: &Path) -> Result<Package> {
    let project_file = root.join(dir).join("dbt_project.yml");
    if !project_file.exists() {
        return Err(ProjectError::invalid(
            root.join(dir),
            "no dbt_project.yml in this folder",
        ));
    }
    let file = ProjectFile::load(&project_file)?;
    Ok(Package {
        name: file.name.clone(),
        dir: dir.to_path_buf(),
        file,
    })
}

/// A package `dbt deps` installed: `dbt_packages/<name>`, or any folder there whose
/// `dbt_project.yml` has that name.
fn installed(root: &Path, install: &Path, name: &str) -> Option<Package> {
    if let Ok(p) = read_package(root, &install.join(name)) {
        return Some(p);
    }
    let entries = std::fs::read_dir(root.join(install)).ok()?;
    entries
        .flatten()
        .filter_map(|e| read_package(root, &install.join(e.file_name())).ok())
        .find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &Path, name: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("dbt_project.yml"),
            format!("name: {name}\nversion: '1.0'\n"),
        )
        .unwrap();
    }

    #[test]
    fn local_installed_and_bundled_packages_resolve_and_others_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("app");
        project(&root, "app");
        project(&tmp.path().join("shared_macros"), "shared");
        project(&root.join("dbt_packages/dbt-codegen"), "codegen");
        std::fs::write(
            root.join("packages.yml"),
            "packages:\n  - local: ../shared_macros\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\"]\n  - package: dbt-labs/codegen\n    version: 0.12.1\n",
        )
        .unwrap();
        let file = ProjectFile::load(&root.join("dbt_project.yml")).unwrap();
        let packages = Packages::resolve(&root, &file).unwrap();
        let names: Vec<&str> = packages.folders.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["shared", "codegen"]);
        assert_eq!(packages.bundled, ["dbt", "dbt_utils"]);

        std::fs::write(
            root.join("packages.yml"),
            "packages:\n  - git: https://example.invalid/acme/dbt-expectations.git\n    revision: 0.10.1\n",
        )
        .unwrap();
        let err = Packages::resolve(&root, &file).unwrap_err().to_string();
        assert!(err.starts_with("packages.yml: package 'https://example.invalid/acme/dbt-expectations.git' is not bundled"), "{err}");
        assert!(err.contains("dbt_packages/"), "{err}");
    }
}
