//! Files: what an app's records (and code) point at on the platform's storage. `scan` finds
//! every hosted-file URL and private file reference and writes the file manifest; `copy` copies
//! them to a folder or a bucket (`storage`) and writes the URL map; `rewrite` applies the map
//! to records and loaded tables and counts what still points at the platform; `uploads` copies
//! the files of records the sync brings.

pub mod copy;
pub mod rewrite;
pub mod scan;
pub mod storage;
pub(crate) mod uploads;
