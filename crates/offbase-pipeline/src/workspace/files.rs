//! Writing output files safely: a temporary file in the same folder, fsync, then rename, so a
//! reader (or a crash) never sees half a file.

use crate::PipelineError;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` atomically, creating the parent folder if needed.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), PipelineError> {
    let parent = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|error| PipelineError::io(parent, error))?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let temporary = parent.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        // The rename is durable once the folder itself is synced.
        if let Ok(folder) = File::open(parent) {
            let _ = folder.sync_all();
        }
        Ok(())
    })();
    result.map_err(|error: std::io::Error| {
        let _ = fs::remove_file(&temporary);
        PipelineError::io(path, error)
    })
}
