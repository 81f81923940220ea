//! Which files of an app are read (code is parsed; the rest is read as text for hard-coded
//! references), and how an import names another file of the app.

use crate::AssessError;
use std::path::{Path, PathBuf};

/// Folders never read: dependencies, builds, version control.
const SKIPPED_FOLDERS: [&str; 7] = [
    "node_modules",
    ".git",
    "dist",
    "build",
    ".vite",
    "coverage",
    ".next",
];

/// Extensions parsed as JavaScript or TypeScript.
const CODE: [&str; 8] = ["js", "jsx", "ts", "tsx", "mjs", "cjs", "mts", "cts"];

/// Extensions read as text for hard-coded references.
const TEXT: [&str; 11] = [
    "html",
    "json",
    "jsonc",
    "css",
    "scss",
    "md",
    "svg",
    "webmanifest",
    "txt",
    "toml",
    "env",
];

/// Files larger than this are not read (bundles and data, not source).
const MAX_BYTES: u64 = 2 * 1024 * 1024;

/// A file to read.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub path: PathBuf,
    /// Relative to the app, `/`-separated.
    pub name: String,
    pub code: bool,
}

/// Every file to read under `root`, sorted by name.
pub(crate) fn list(root: &Path) -> Result<Vec<Listed>, AssessError> {
    let mut listed = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|source| AssessError::Io {
            path: folder.clone(),
            source,
        })?;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                if !SKIPPED_FOLDERS.contains(&file_name.as_str()) {
                    folders.push(path);
                }
                continue;
            }
            if !kind.is_file() || entry.metadata().map_or(true, |meta| meta.len() > MAX_BYTES) {
                continue;
            }
            let extension = path
                .extension()
                .map(|extension| extension.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let code = CODE.contains(&extension.as_str());
            let text = TEXT.contains(&extension.as_str()) || file_name.starts_with(".env");
            if !code && !text {
                continue;
            }
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let name = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            listed.push(Listed { path, name, code });
        }
    }
    listed.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(listed)
}

/// A module's key: its name without the extension (`src/api/entities`).
pub(crate) fn module_key(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, extension)) if !extension.contains('/') && !stem.ends_with('/') => {
            stem.to_owned()
        }
        _ => name.to_owned(),
    }
}

/// The module key an import names from `file`: `@/x` is `src/x` (the templates' alias),
/// `./x` and `../x` are relative to the file; packages are `None`.
pub(crate) fn resolve_import(file: &str, source: &str) -> Option<String> {
    let joined = if let Some(rest) = source.strip_prefix("@/") {
        format!("src/{rest}")
    } else if source.starts_with("./") || source.starts_with("../") {
        let folder = file.rsplit_once('/').map_or("", |(folder, _)| folder);
        format!("{folder}/{source}")
    } else {
        return None;
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    Some(module_key(&parts.join("/")))
}

/// `@base44/sdk` as `package.json` asks for it (dependencies or devDependencies).
pub(crate) fn sdk_version(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("package.json")).ok()?;
    let package: serde_json::Value = serde_json::from_str(&text).ok()?;
    ["dependencies", "devDependencies"]
        .iter()
        .find_map(|group| package.get(group)?.get("@base44/sdk")?.as_str())
        .map(str::to_owned)
}
