//! The cloud code as loaded from disk: the entry file and every script beside it that it may
//! `require`, read once so a running runtime never touches the file system.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// Files larger than this, or a tree larger than [`MAX_TOTAL`], are refused at load.
const MAX_FILE: u64 = 4 << 20;
const MAX_TOTAL: u64 = 32 << 20;
/// Extensions `require` can load.
const EXTENSIONS: &[&str] = &["js", "cjs", "json"];

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
        Ok(Source::new(name, dir, files))
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
        }
    }

    /// One file of code, as the entry.
    pub fn single(name: &str, code: &str) -> Source {
        let mut files = BTreeMap::new();
        files.insert(name.to_string(), code.to_string());
        Source::new(name.to_string(), PathBuf::from("."), files)
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
