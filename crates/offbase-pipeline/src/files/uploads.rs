//! The sync's new uploads: the app takes uploads until the write freeze, so a record that
//! changes or arrives during the cutover period may point at a file the copy never saw. Before
//! a page of changed records is written, the public files they point at that the URL map does
//! not hold yet are added to the file manifest, copied the way `files copy` copied the rest (the
//! destination and origin the map records), and the map is read again; the records are then
//! rewritten through it like every other. A file that cannot be copied keeps its URL and its
//! reject line, as in `files copy`.

use crate::PipelineError;
use crate::files::copy::{CopyOptions, CopySummary, copy};
use crate::files::rewrite::{read_url_map, read_url_map_file};
use crate::files::scan::{add_to_manifest, files_in_records};
use crate::files::storage::Destination;
use crate::progress::Reporter;
use crate::workspace::Workspace;
use offbase_base44::files::UrlRewrite;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The URL map a sync rewrites through, and how it copies new uploads.
#[derive(Debug)]
pub(crate) struct SyncFiles {
    urls: Mutex<UrlRewrite>,
    /// `None` when the map does not say where the copies went (a map written by an older
    /// copy): new uploads are then named, not copied.
    copy: Option<CopyOptions>,
}

impl SyncFiles {
    /// The workspace's URL map and the copy it records.
    pub(crate) fn open(workspace: &Workspace) -> Result<Self, PipelineError> {
        let map = read_url_map_file(workspace)?;
        let copy = match &map.destination {
            Some(to) => {
                let mut options = CopyOptions::new(Destination::from_argument(Path::new(to))?);
                options.via = map.via.clone();
                options.public_url = Some(map.base.clone());
                Some(options)
            }
            None => None,
        };
        Ok(SyncFiles {
            urls: Mutex::new(UrlRewrite::new(map.urls)),
            copy,
        })
    }

    /// The map as it is now.
    pub(crate) fn urls(&self) -> MutexGuard<'_, UrlRewrite> {
        self.urls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Copies the public files `records` of `entity` point at that the map does not hold, and
    /// takes the map the copy wrote. `None` when there were none.
    pub(crate) async fn copy_new_uploads(
        &self,
        workspace: &Workspace,
        entity: &str,
        records: &[&Map<String, Value>],
        reporter: &dyn Reporter,
    ) -> Result<Option<CopySummary>, PipelineError> {
        let missing: Vec<_> = {
            let urls = self.urls();
            files_in_records(entity, records.iter().copied())
                .into_iter()
                .filter(|file| file.shape != "private" && urls.get(&file.url).is_none())
                .collect()
        };
        if missing.is_empty() {
            return Ok(None);
        }
        let Some(copy_options) = &self.copy else {
            reporter.message(&format!(
                "{entity}: {} new file URLs are not copied (files/url-map.json does not say where copies go): run `offbase files scan` and `offbase files copy` again",
                missing.len()
            ));
            return Ok(None);
        };
        add_to_manifest(workspace, &missing)?;
        let mut options = copy_options.clone();
        options.only = Some(missing.iter().map(|file| file.url.clone()).collect());
        let summary = copy(workspace, &options, reporter).await?;
        *self.urls() = read_url_map(workspace)?;
        if summary.copied > 0 {
            reporter.message(&format!(
                "{entity}: copied {} new files to {} before writing the records that point at them",
                summary.copied, summary.destination
            ));
        }
        if summary.rejected > 0 {
            reporter.message(&format!(
                "{entity}: {} new files could not be copied and keep their Base44 URLs: see reports/rejects/files.jsonl",
                summary.rejected
            ));
        }
        Ok(Some(summary))
    }
}
