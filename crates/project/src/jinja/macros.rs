//! Macros: orderlake's built-ins, the project's own and those of its packages, and how a call
//! reaches them.
//!
//! Every `{% macro name %}` is stored under a mangled name (`__m__name`) and called through a
//! [`MacroProxy`]: a global named `name` for the project's macros, or an attribute of a
//! package's namespace object (`dbt_utils.star`). The proxy evaluates the macro's template and
//! calls the macro there. That indirection is what lets `{{ return(value) }}` hand a list or a
//! mapping back to the caller, as in dbt: a plain minijinja macro can only produce text.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use minijinja::value::{Enumerator, Object, Value};
use minijinja::{Environment, Error, ErrorKind, State};

/// The template holding the built-in macros and the project's own.
pub(crate) const ROOT_TEMPLATE: &str = "__macros__";
const MANGLE: &str = "__m__";
/// The detail of the error `return()` raises to stop its macro; the proxy turns it into a value.
const RETURN_SIGNAL: &str = "orderlake: return() outside a macro";

/// The built-in macros: generic tests and the schema/alias naming hooks. A project macro of the
/// same name replaces one of these, as in dbt.
const BUILTIN_MACROS: &str = include_str!("builtin_macros.sql");

/// One template of macros: the root project's (with the built-ins) or one package's.
#[derive(Debug, Clone, Default)]
struct MacroSet {
    /// `None` for the root project.
    package: Option<String>,
    template: String,
    text: String,
    /// Macro names as written (not mangled), sorted.
    names: Vec<String>,
    /// (first line in `text`, file) for each concatenated file.
    segments: Vec<(usize, PathBuf)>,
}

impl MacroSet {
    fn new(package: Option<&str>) -> Self {
        MacroSet {
            package: package.map(str::to_string),
            template: match package {
                Some(p) => format!("__pkg__{p}"),
                None => ROOT_TEMPLATE.to_string(),
            },
            ..Default::default()
        }
    }

    fn push(&mut self, path: &Path, source: &str) {
        let start = self.text.lines().count() + 1;
        self.segments.push((start, path.to_path_buf()));
        self.text.push_str(&mangle(&rewrite_blocks(source)));
        if !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    fn finish(mut self) -> Self {
        let re = regex::Regex::new(&format!(
            r"\{{%-?\s*macro\s+{MANGLE}([A-Za-z_][A-Za-z0-9_]*)"
        ))
        .expect("static regex");
        let mut names: Vec<String> = re
            .captures_iter(&self.text)
            .map(|c| c[1].to_string())
            .collect();
        names.sort();
        names.dedup();
        self.names = names;
        // A package's macros call each other by bare name: bind those names to the package's own
        // proxies first (on the first line, so line numbers stay those of the files).
        if let Some(package) = &self.package {
            let bindings: String = self
                .names
                .iter()
                .map(|n| format!("{{% set {n} = {} %}}", namespace_global(package) + "." + n))
                .collect();
            self.text = format!("{bindings}{}", self.text);
        }
        self
    }

    fn has(&self, name: &str) -> bool {
        self.names
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }

    fn locate(&self, line: usize) -> (PathBuf, usize) {
        let mut found = (PathBuf::from(&self.template), line);
        for (start, path) in &self.segments {
            if line >= *start {
                found = (path.clone(), line - start + 1);
            }
        }
        found
    }
}

/// The (sorted, unique) names of the macros a mangled text defines.
fn defined_names(text: &str) -> Vec<String> {
    static DEFINED: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(&format!(
            r"\{{%-?\s*macro\s+{MANGLE}([A-Za-z_][A-Za-z0-9_]*)"
        ))
        .expect("static regex")
    });
    let mut names: Vec<String> = DEFINED
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The global through which a package's own templates reach its namespace.
fn namespace_global(package: &str) -> String {
    format!("__ns__{package}")
}

/// `{% macro name(` → `{% macro __m__name(`.
fn mangle(source: &str) -> String {
    static MACRO: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"\{%(-?)\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(").expect("static regex")
    });
    MACRO
        .replace_all(source, format!("{{%$1 macro {MANGLE}$2(").as_str())
        .into_owned()
}

/// dbt's block tags that are not Jinja: `{% test x(...) %}` defines the macro `test_x`.
pub(crate) fn rewrite_blocks(source: &str) -> String {
    static TEST_OPEN: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"\{%(-?)\s*test\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(").expect("static regex")
    });
    static TEST_CLOSE: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"\{%(-?)\s*endtest\s*(-?)%\}").expect("static regex"));
    let out = TEST_OPEN.replace_all(source, "{%$1 macro test_$2(");
    TEST_CLOSE
        .replace_all(&out, "{%$1 endmacro $2%}")
        .into_owned()
}

/// The macros of a project and of its packages (packages in the order they may depend on each
/// other: bundled ones first).
#[derive(Debug, Clone, Default)]
pub struct MacroLibrary {
    root: MacroSet,
    packages: Vec<MacroSet>,
    /// Macros the project defines itself (a built-in of the same name is replaced).
    project_defined: Vec<String>,
}

/// A package's macro files, for [`MacroLibrary::build_with_packages`].
#[derive(Debug, Clone)]
pub struct PackageMacros {
    pub name: String,
    pub files: Vec<(PathBuf, String)>,
}

impl MacroLibrary {
    /// Builds the library from the project's `(path, source)` pairs.
    pub fn build(files: &[(PathBuf, String)]) -> Self {
        Self::build_with_packages(files, &[])
    }

    /// Builds the library from the project's macro files and its packages'.
    pub fn build_with_packages(files: &[(PathBuf, String)], packages: &[PackageMacros]) -> Self {
        let mut root = MacroSet::new(None);
        root.push(Path::new("<orderlake builtins>"), BUILTIN_MACROS);
        let builtin_end = root.text.len();
        for (path, source) in files {
            root.push(path, source);
        }
        let project_defined = defined_names(&root.text[builtin_end..]);
        let packages = packages
            .iter()
            .map(|p| {
                let mut set = MacroSet::new(Some(&p.name));
                for (path, source) in &p.files {
                    set.push(path, source);
                }
                set.finish()
            })
            .collect();
        MacroLibrary {
            root: root.finish(),
            packages,
            project_defined,
        }
    }

    /// Whether the project replaces the built-in macro `name` (e.g. `generate_schema_name`).
    pub fn project_defines(&self, name: &str) -> bool {
        self.project_defined
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }

    /// Whether a macro of this name can be called without a package prefix.
    pub fn has(&self, name: &str) -> bool {
        self.root.has(name) || self.packages.iter().any(|p| p.has(name))
    }

    /// Whether `package` is a package with the macro `name`.
    pub fn package_has(&self, package: &str, name: &str) -> bool {
        self.package(package).is_some_and(|p| p.has(name))
    }

    pub fn package_names(&self) -> impl Iterator<Item = &str> {
        self.packages.iter().filter_map(|p| p.package.as_deref())
    }

    fn package(&self, name: &str) -> Option<&MacroSet> {
        self.packages
            .iter()
            .rev()
            .find(|p| p.package.as_deref() == Some(name))
    }

    /// Each macro's source by name (`star` for the project's and built-ins, `dbt_utils.star`
    /// for a package's), for the manifest and `state:modified.macros`.
    pub fn sources(&self) -> BTreeMap<String, String> {
        let re = regex::Regex::new(&format!(
            r"(?s)\{{%-?\s*macro\s+{MANGLE}([A-Za-z_][A-Za-z0-9_]*)\s*\(.*?\{{%-?\s*endmacro\s*-?%\}}"
        ))
        .expect("static regex");
        let mut out = BTreeMap::new();
        for set in std::iter::once(&self.root).chain(&self.packages) {
            for caps in re.captures_iter(&set.text) {
                let name = match &set.package {
                    Some(p) => format!("{p}.{}", &caps[1]),
                    None => caps[1].to_string(),
                };
                out.insert(name, caps[0].replacen(MANGLE, "", 1));
            }
        }
        out
    }

    /// The names of the macro templates (the project's, then each package's).
    pub(crate) fn template_names(&self) -> Vec<String> {
        std::iter::once(&self.root)
            .chain(&self.packages)
            .map(|s| s.template.clone())
            .collect()
    }

    /// The template source of a macro template, for the environment's loader.
    pub(crate) fn template_source(&self, template: &str) -> Option<&str> {
        std::iter::once(&self.root)
            .chain(&self.packages)
            .find(|s| s.template == template)
            .map(|s| s.text.as_str())
    }

    /// Maps a line of a macro template back to (file, line).
    pub(crate) fn locate(&self, template: &str, line: usize) -> Option<(PathBuf, usize)> {
        std::iter::once(&self.root)
            .chain(&self.packages)
            .find(|s| s.template == template)
            .map(|s| s.locate(line))
    }

    /// The proxy for a bare `name`: the project's (or a built-in), else the first package's.
    fn resolve(&self, name: &str) -> Option<&MacroSet> {
        std::iter::once(&self.root)
            .chain(&self.packages)
            .find(|s| s.has(name))
    }

    /// The macro `adapter.dispatch(name, namespace)` picks: an `orderlake__`, `duckdb__`,
    /// `postgres__` or `default__` variant, the root project's first, then the namespace's.
    pub(crate) fn dispatch(&self, name: &str, namespace: Option<&str>) -> Option<Value> {
        const PREFIXES: [&str; 4] = ["orderlake__", "duckdb__", "postgres__", "default__"];
        let mut sets = vec![&self.root];
        match namespace.and_then(|n| self.package(n)) {
            Some(p) => sets.push(p),
            None => sets.extend(&self.packages),
        }
        for set in sets {
            for prefix in PREFIXES {
                let candidate = format!("{prefix}{name}");
                if set.has(&candidate) {
                    return Some(proxy(set, &candidate));
                }
            }
            if set.package.as_deref() == namespace && set.has(name) && namespace.is_some() {
                return Some(proxy(set, name));
            }
        }
        None
    }

    /// Registers the globals through which templates call macros: one per bare name, one
    /// namespace object per package (and its `__ns__` twin), and `return`.
    pub(crate) fn register(self: &Arc<Self>, env: &mut Environment<'static>) {
        let library = self.clone();
        env.set_loader(move |name| Ok(library.template_source(name).map(str::to_string)));
        let mut seen = std::collections::BTreeSet::new();
        for set in std::iter::once(&self.root).chain(&self.packages) {
            for name in &set.names {
                if seen.insert(name.clone())
                    && let Some(set) = self.resolve(name)
                {
                    env.add_global(name.to_string(), proxy(set, name));
                }
            }
        }
        for set in &self.packages {
            let Some(package) = &set.package else {
                continue;
            };
            let namespace = Value::from_object(Namespace {
                template: set.template.clone(),
                names: set.names.clone(),
            });
            env.add_global(package.clone(), namespace.clone());
            env.add_global(namespace_global(package), namespace);
        }
        env.add_function("return", |value: Value| -> Result<Value, Error> {
            RETURNED.with(|slot| *slot.borrow_mut() = Some(value));
            Err(Error::new(ErrorKind::InvalidOperation, RETURN_SIGNAL))
        });
    }
}

thread_local! {
    /// The value of the `return()` being unwound to its proxy. Rendering is single-threaded per
    /// template, and the nearest proxy takes the value before anything else can run.
    static RETURNED: RefCell<Option<Value>> = const { RefCell::new(None) };
}

fn proxy(set: &MacroSet, name: &str) -> Value {
    Value::from_object(MacroProxy {
        template: set.template.clone(),
        name: name.to_string(),
    })
}

/// A callable that runs the macro `name` of `template`.
#[derive(Debug)]
struct MacroProxy {
    template: String,
    name: String,
}

impl Object for MacroProxy {
    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let template = state.env().get_template(&self.template)?;
        let mut captured = template.render_captured(())?;
        let mangled = format!("{MANGLE}{}", self.name);
        captured.with_state_mut(|inner| {
            let Some(callable) = inner.lookup(&mangled) else {
                return Err(Error::new(
                    ErrorKind::UnknownFunction,
                    format!("macro '{}' is not defined", self.name),
                ));
            };
            match callable.call(inner, args) {
                Ok(text) => Ok(text),
                Err(err) => match RETURNED.with(|slot| slot.borrow_mut().take()) {
                    Some(value) => Ok(value),
                    None => Err(err),
                },
            }
        })
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.name.clone())),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<macro {}>", self.name)
    }
}

/// A package's macros as attributes: `dbt_utils.star(...)`.
#[derive(Debug)]
struct Namespace {
    template: String,
    names: Vec<String>,
}

impl Object for Namespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()?;
        Some(Value::from_object(MacroProxy {
            template: self.template.clone(),
            name: name.to_string(),
        }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.names.iter().map(|n| Value::from(n.clone())).collect())
    }
}
