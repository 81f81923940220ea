//! Files: what an app's records (and code) point at on the platform's storage. `scan` finds
//! every hosted-file URL and private file reference and writes the file manifest; copying them
//! to storage the owner controls and rewriting the URLs build on that manifest.

pub mod copy;
pub mod scan;
