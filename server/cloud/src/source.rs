//! The cloud code as loaded from disk: the entry file and every script beside it that it may
//! `require`, read once so a running runtime never touches the file system; and the npm
//! packages it requires, read from `node_modules` the first time a runtime asks for a file.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Files larger than this, or a tree larger than [`MAX_TOTAL`], are refused at load.
const MAX_FILE: u64 = 4 << 20;
const MAX_TOTAL: u64 = 32 << 20;
/// Extensions `require` and `import` can load.
const EXTENSIONS: &[&str] = &["js", "cjs", "mjs", "json"];
/// What the npm packages' files read may add up to.
const MAX_PACKAGES: u64 = 64 << 20;

#[derive(Debug, Clone)]
pub struct Source {
    /// The entry file, relative to `dir` (`main.js`).
    pub entry: String,
    /// The directory the entry file is in; shown in messages only.
    pub dir: PathBuf,
    /// Path relative to `dir`, with `/` separators → contents.
    pub files: BTreeMap<String, String>,
    /// A hash of every file: equal code has equal versions.
    pub version: u64,
    /// The npm packages `require` finds (not part of the version).
    pub packages: Arc<Packages>,
}

impl Source {
    /// Reads `entry` and the scripts under its directory (not `node_modules` or hidden ones).
    pub fn load(entry: &Path) -> Result<Source, String> {
        let dir = entry
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{} is not a file name", entry.display()))?
            .to_string();
        let mut files = BTreeMap::new();
        let mut total = 0;
        collect(&dir, "", &mut files, &mut total)?;
        if !files.contains_key(&name) {
            return Err(format!("{} could not be read", entry.display()));
        }
        let packages = Packages::beside(&dir);
        Ok(Source::new(name, dir, files).with_packages(packages))
    }

    /// The same code, requiring npm packages from `packages`.
    pub fn with_packages(mut self, packages: Packages) -> Source {
        self.packages = Arc::new(packages);
        self
    }

    /// Whether the script at `path` is an ES module, as Node decides: `.mjs`, or `.js` under a
    /// `package.json` (the nearest, in the code's folders or above them) saying `"type":
    /// "module"`. Packages in `node_modules` are loaded as CommonJS.
    pub fn is_module(&self, path: &str) -> bool {
        if path.ends_with(".mjs") {
            return true;
        }
        if !path.ends_with(".js") || path.starts_with("node_modules/") {
            return false;
        }
        let mut dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        loop {
            let at = if dir.is_empty() {
                "package.json".to_string()
            } else {
                format!("{dir}/package.json")
            };
            if let Some(text) = self.files.get(&at) {
                return module_type(text);
            }
            if dir.is_empty() {
                return self.packages.module_type;
            }
            dir = dir.rsplit_once('/').map_or("", |(d, _)| d);
        }
    }

    /// The text of the script at `path` (as `require` and `import` name it): one of the code's
    /// own files, or a file of an npm package under `node_modules/`. An error when reading the
    /// package would pass its limits.
    pub fn script(&self, path: &str) -> Result<Option<Cow<'_, str>>, String> {
        if let Some(src) = self.files.get(path) {
            return Ok(Some(Cow::Borrowed(src)));
        }
        if !path.starts_with("node_modules/") {
            return Ok(None);
        }
        Ok(self
            .packages
            .read(path)?
            .map(|src| Cow::Owned(src.to_string())))
    }

    /// Code given in memory (tests, `basalt deploy` bodies).
    pub fn new(entry: String, dir: PathBuf, files: BTreeMap<String, String>) -> Source {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        files.hash(&mut h);
        entry.hash(&mut h);
        Source {
            entry,
            dir,
            files,
            version: h.finish(),
            packages: Arc::default(),
        }
    }

    /// One file of code, as the entry.
    pub fn single(name: &str, code: &str) -> Source {
        let mut files = BTreeMap::new();
        files.insert(name.to_string(), code.to_string());
        Source::new(name.to_string(), PathBuf::from("."), files)
    }
}

/// The `node_modules` folders a script's bare `require('name')` looks in: beside the code and
/// in every folder above it, nearest first, as Node looks (a Parse Server project keeps its
/// packages in the project's root, above `cloud/`). Files are read on first use and kept for
/// every runtime of this code; only `.js`, `.cjs` and `.json` files inside a package's own
/// folder can be read.
#[derive(Debug, Default)]
pub struct Packages {
    roots: Vec<PathBuf>,
    read: Mutex<Read>,
    /// The nearest `package.json` at or above the code's folder says `"type": "module"`.
    module_type: bool,
}

fn module_type(package_json: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(package_json)
        .is_ok_and(|p| p.get("type").and_then(|t| t.as_str()) == Some("module"))
}

#[derive(Debug, Default)]
struct Read {
    files: HashMap<String, Option<Arc<str>>>,
    total: u64,
}

impl Packages {
    /// The `node_modules` folders in `dir` and above it.
    pub fn beside(dir: &Path) -> Packages {
        let start = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let roots = start
            .ancestors()
            .map(|a| a.join("node_modules"))
            .filter(|p| p.is_dir())
            .collect();
        let module_type = start
            .ancestors()
            .find_map(|a| std::fs::read_to_string(a.join("package.json")).ok())
            .is_some_and(|p| module_type(&p));
        Packages {
            roots,
            read: Mutex::default(),
            module_type,
        }
    }

    /// The text of `node_modules/<package>/<file>` (a path as the code sees it), `None` when
    /// there is no such file; an error when the packages read grow past 64 MB or the file
    /// past 4 MB. The first `node_modules` folder that has the package is the one read, as in
    /// Node.
    pub fn read(&self, path: &str) -> Result<Option<Arc<str>>, String> {
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = read.files.get(path) {
            return Ok(known.clone());
        }
        let text = match self.locate(path) {
            Some(file) => {
                let len = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                if len > MAX_FILE {
                    return Err(format!("{path} is larger than 4 MB"));
                }
                if read.total + len > MAX_PACKAGES {
                    return Err(format!(
                        "the npm packages cloud code requires are larger than 64 MB (at {path})"
                    ));
                }
                read.total += len;
                std::fs::read_to_string(&file).ok().map(Arc::from)
            }
            None => None,
        };
        read.files.insert(path.to_string(), text.clone());
        Ok(text)
    }

    /// The file behind `node_modules/<package>/<rest>`, if it is a readable script inside the
    /// package's folder (symbolic links followed, as pnpm makes them, but not out of it).
    fn locate(&self, path: &str) -> Option<PathBuf> {
        let parts: Vec<&str> = path.split('/').collect();
        let bad = |p: &&str| {
            p.is_empty() || *p == "." || *p == ".." || p.contains('\\') || p.contains('\0')
        };
        if parts.first() != Some(&"node_modules") || parts.iter().any(bad) {
            return None;
        }
        let name_len = if parts.get(1)?.starts_with('@') { 2 } else { 1 };
        if parts.len() < 2 + name_len {
            return None;
        }
        let name = parts[1..1 + name_len].join("/");
        let rest = parts[1 + name_len..].join("/");
        let ext = Path::new(&rest).extension().and_then(|e| e.to_str())?;
        if !EXTENSIONS.contains(&ext) {
            return None;
        }
        let package = self
            .roots
            .iter()
            .map(|r| r.join(&name))
            .find(|p| p.is_dir())?;
        let package = std::fs::canonicalize(package).ok()?;
        let file = std::fs::canonicalize(package.join(rest)).ok()?;
        (file.starts_with(&package) && file.is_file()).then_some(file)
    }
}

/// Calls `f` with each file [`Source::load`] would read for `entry`, in a stable order.
fn visit(entry: &Path, f: &mut impl FnMut(&Path, &std::fs::Metadata)) {
    fn walk(dir: &Path, f: &mut impl FnMut(&Path, &std::fs::Metadata)) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "node_modules" {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                walk(&entry.path(), f);
                continue;
            }
            let ext = entry
                .path()
                .extension()
                .and_then(|e| e.to_str().map(str::to_string));
            if ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str())) {
                f(&entry.path(), &meta);
            }
        }
    }
    walk(entry.parent().unwrap_or(Path::new(".")), f);
}

/// A fingerprint of the files [`Source::load`] would read for `entry` (names, sizes, modification
/// times), cheap enough to poll: it changes when any of them does.
pub fn fingerprint(entry: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    visit(entry, &mut |path, meta| {
        path.hash(&mut h);
        meta.len().hash(&mut h);
        meta.modified().ok().hash(&mut h);
    });
    h.finish()
}

/// When the newest of the files [`Source::load`] would read for `entry` last changed.
pub fn last_changed(entry: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    visit(entry, &mut |_, meta| {
        newest = newest.max(meta.modified().ok());
    });
    newest
}

fn collect(
    dir: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, String>,
    total: &mut u64,
) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        let path = entry.path();
        let rel = format!("{prefix}{name}");
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            collect(&path, &format!("{rel}/"), files, total)?;
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !EXTENSIONS.contains(&ext) {
            continue;
        }
        if meta.len() > MAX_FILE {
            return Err(format!("{} is larger than 4 MB", path.display()));
        }
        *total += meta.len();
        if *total > MAX_TOTAL {
            return Err(format!(
                "cloud code under {} is larger than 32 MB",
                dir.display()
            ));
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        files.insert(rel, text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `<tmp>/node_modules/pkg` and `<tmp>/app/node_modules/near`, with files a script must
    /// not reach beside them.
    fn tree() -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let root =
            std::env::temp_dir().join(format!("basalt-packages-{}-{nanos}", std::process::id()));
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("app/main.js", "");
        write("app/node_modules/near/index.js", "near");
        write("node_modules/pkg/index.js", "pkg");
        write("node_modules/pkg/package.json", "{}");
        write("node_modules/pkg/notes.txt", "not a script");
        write("node_modules/@scope/p/lib/a.cjs", "scoped");
        write("node_modules/near/index.js", "far");
        write("secret.js", "secret");
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            root.join("secret.js"),
            root.join("node_modules/pkg/leak.js"),
        )
        .unwrap();
        root
    }

    #[test]
    fn packages_are_read_from_the_nearest_node_modules_and_nothing_else() {
        let root = tree();
        let p = Packages::beside(&root.join("app"));
        let text = |path: &str| p.read(path).unwrap().map(|t| t.to_string());
        assert_eq!(text("node_modules/pkg/index.js").as_deref(), Some("pkg"));
        assert_eq!(text("node_modules/pkg/package.json").as_deref(), Some("{}"));
        assert_eq!(
            text("node_modules/@scope/p/lib/a.cjs").as_deref(),
            Some("scoped")
        );
        // The nearest folder that has the package wins, as in Node.
        assert_eq!(text("node_modules/near/index.js").as_deref(), Some("near"));
        for refused in [
            "node_modules/pkg/notes.txt",
            "node_modules/pkg/../../secret.js",
            "node_modules/../secret.js",
            "node_modules/pkg/./index.js",
            "node_modules/pkg//index.js",
            "node_modules/pkg/leak.js",
            "node_modules/absent/index.js",
            "node_modules/@scope/index.js",
            "secret.js",
            "app/main.js",
        ] {
            assert_eq!(text(refused), None, "{refused}");
        }
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn code_given_in_memory_has_no_packages() {
        let s = Source::single("main.js", "");
        assert_eq!(s.packages.read("node_modules/pkg/index.js").unwrap(), None);
    }
}
