//! A built frontend driven in headless Chromium: `tests/frontend/` is a tiny app on the
//! published `@base44/sdk` (`createClient({appId, serverUrl: ''})`), `build.mjs` bundles it
//! with esbuild into a folder `offbase serve --frontend` serves, and `drive.mjs` drives it with
//! puppeteer-core in the system's Chromium (Debian's `chromium`), printing what it saw as JSON.
//!
//! esbuild and puppeteer-core are pinned as devDependencies in `tests/sdk/package.json` (and its
//! lock file) beside the SDK: `npm ci --prefix tests/sdk` installs them (`.ci/run` does, and
//! installs `chromium` when it is missing). Also here: a small PNG writer and reader of a PNG's
//! size, for the image the test uploads and the screenshots it checks.

use crate::sdk::sdk_dir;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The variable that makes a missing Chromium, Node or npm package fail the test instead of
/// skipping it (`.ci/run` sets it).
pub const REQUIRE: &str = crate::REQUIRE_CORPUS;

/// What building the frontend may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(60);

/// What a whole drive of the app may take.
const DRIVE_TIMEOUT: Duration = Duration::from_secs(90);

/// The packages `build.mjs` and `drive.mjs` need, pinned in `tests/sdk/package.json`'s
/// `devDependencies`.
const PACKAGES: [&str; 2] = ["esbuild", "puppeteer-core"];

/// The app's folder: `tests/frontend`.
pub fn frontend_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("frontend")
}

/// The system's Chromium: `chromium` (Debian's) or `chromium-browser` on `PATH`, if it runs.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| {
            candidate.is_file()
                && std::process::Command::new(candidate)
                    .arg("--version")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
        })
}

/// Node, the pinned esbuild and puppeteer-core, and Chromium.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The Chromium `drive.mjs` launches.
    pub chromium: PathBuf,
}

impl Browser {
    /// The tools when all are there, or `None` after saying on stderr that `test` skipped and
    /// why; with `OFFBASE_REQUIRE_CORPUS=1` a missing one fails the test instead.
    pub fn find_or_skip(test: &str) -> Option<Browser> {
        match Browser::locate() {
            Ok(browser) => Some(browser),
            Err(reason) => {
                let fix = "install Chromium with `apt-get install chromium` and the npm packages \
                           with `npm ci --prefix tests/sdk`";
                if std::env::var(REQUIRE).is_ok_and(|value| value == "1") {
                    panic!("{test}: {reason} ({fix}), and {REQUIRE}=1 makes it mandatory");
                }
                // Straight to stderr, past the test harness's capture, so every run shows it.
                let _ = writeln!(
                    std::io::stderr(),
                    "{test}: skipped: {reason} ({fix}; CI makes it mandatory: {REQUIRE}=1)"
                );
                None
            }
        }
    }

    fn locate() -> Result<Browser, String> {
        let node = std::process::Command::new("node")
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !node.is_ok_and(|status| status.success()) {
            return Err("Node (`node`) is not on PATH".to_owned());
        }
        let dir = sdk_dir();
        let manifest = read_json(&dir.join("package.json"))?;
        for package in PACKAGES {
            let pinned = manifest
                .get("devDependencies")
                .and_then(|pins| pins.get(package))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("tests/sdk/package.json pins no {package}"))?;
            let installed = dir.join("node_modules").join(package).join("package.json");
            if !installed.is_file() {
                return Err(format!(
                    "{package} is not installed in tests/sdk/node_modules"
                ));
            }
            let version = read_json(&installed)?
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if version != pinned {
                return Err(format!(
                    "tests/sdk/node_modules holds {package} {version}, package.json pins {pinned}"
                ));
            }
        }
        let chromium = chromium().ok_or_else(|| {
            "Chromium (`chromium` or `chromium-browser`) is not on PATH or does not run".to_owned()
        })?;
        Ok(Browser { chromium })
    }

    /// Builds `tests/frontend` into `out` (`index.html`, `assets/main.js`, `assets/main.css`)
    /// for the app `app_id`; panics with esbuild's messages when the build fails.
    pub async fn build_frontend(&self, out: &Path, app_id: &str) {
        let script = frontend_dir().join("build.mjs");
        let child = tokio::process::Command::new("node")
            .arg(&script)
            .arg(out)
            .arg(app_id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("starting node {}: {error}", script.display()));
        let output = match tokio::time::timeout(BUILD_TIMEOUT, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(error)) => panic!("build.mjs: {error}"),
            Err(_) => panic!(
                "build.mjs did not finish within {} s (the child is killed)",
                BUILD_TIMEOUT.as_secs()
            ),
        };
        assert!(
            output.status.success(),
            "build.mjs failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            out.join("index.html").is_file() && out.join("assets/main.js").is_file(),
            "build.mjs wrote no index.html and assets/main.js into {}",
            out.display()
        );
    }

    /// Runs `tests/frontend/drive.mjs` with `input` (its keys are in the script's header; the
    /// Chromium found is added as `chromium`) and returns the JSON document it printed. Panics
    /// with its stderr (`secrets` hidden) when it fails or takes more than 90 s.
    pub async fn drive(&self, input: &Value, secrets: &[&str]) -> Value {
        let mut input = input.clone();
        if let Some(object) = input.as_object_mut() {
            object.insert(
                "chromium".to_owned(),
                Value::String(self.chromium.display().to_string()),
            );
        }
        let script = frontend_dir().join("drive.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(&script)
            .current_dir(frontend_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("starting node {}: {error}", script.display()));
        if let Some(mut stdin) = child.stdin.take() {
            let bytes = serde_json::to_vec(&input).unwrap_or_default();
            if let Err(error) = stdin.write_all(&bytes).await {
                panic!("writing the input of drive.mjs: {error}");
            }
            // Dropping stdin closes it: the script reads to the end.
        }
        let output = match tokio::time::timeout(DRIVE_TIMEOUT, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(error)) => panic!("drive.mjs: {error}"),
            Err(_) => panic!(
                "drive.mjs did not finish within {} s (the child and its browser are killed)",
                DRIVE_TIMEOUT.as_secs()
            ),
        };
        let stderr = redact(&String::from_utf8_lossy(&output.stderr), secrets);
        let stdout = redact(&String::from_utf8_lossy(&output.stdout), secrets);
        assert!(
            output.status.success(),
            "drive.mjs failed ({}):\n{stderr}\n{stdout}",
            output.status
        );
        serde_json::from_str(&stdout).unwrap_or_else(|error| {
            panic!("drive.mjs printed no JSON document ({error}):\n{stdout}\nstderr:\n{stderr}")
        })
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
}

fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret, "<redacted>")
        })
}

/// The 8 bytes every PNG file starts with.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// A PNG of `width` × `height` RGB pixels, each `pixel(x, y)`: 8 bits a channel, the image
/// data in stored (uncompressed) deflate blocks, so any decoder reads it.
pub fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&pixel(x, y));
        }
    }
    // zlib: a header, stored blocks of at most 65535 bytes, the Adler-32 of the data.
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(0xffff).collect();
    for (index, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(index + 1 == blocks.len()));
        let length = u16::try_from(block.len()).unwrap_or(u16::MAX);
        zlib.extend_from_slice(&length.to_le_bytes());
        zlib.extend_from_slice(&(!length).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter, no interlace

    let mut file = PNG_SIGNATURE.to_vec();
    for (kind, data) in [
        (b"IHDR", header.as_slice()),
        (b"IDAT", zlib.as_slice()),
        (b"IEND", &[][..]),
    ] {
        let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
        file.extend_from_slice(&length.to_be_bytes());
        let start = file.len();
        file.extend_from_slice(kind);
        file.extend_from_slice(data);
        let crc = crc32(&file[start..]);
        file.extend_from_slice(&crc.to_be_bytes());
    }
    file
}

/// The width and height in a PNG's header, or `None` when `bytes` is no PNG.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || bytes[..8] != PNG_SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let number = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|slice| <[u8; 4]>::try_from(slice).ok())
            .map(u32::from_be_bytes)
    };
    Some((number(16)?, number(20)?))
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1_u32, 0_u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_png_reads_back_its_size_and_checksums() {
        let image = png(3, 2, |x, y| [x as u8 * 80, y as u8 * 120, 200]);
        assert_eq!(png_size(&image), Some((3, 2)));
        // The CRC of `IEND` with no data is a well-known constant.
        assert_eq!(image[image.len() - 4..], [0xae, 0x42, 0x60, 0x82]);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(png_size(b"not a png at all, not at all"), None);
    }
}
