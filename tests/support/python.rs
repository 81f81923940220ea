//! Real servers the tests run from PyPI packages (moto's S3, aiosmtpd's SMTP): whether the
//! package is installed (else the test says it skipped, or fails where `OFFBASE_REQUIRE_CORPUS=1`
//! makes it mandatory, as `.ci/run` does after installing them), and a server process started on
//! a free port and waited for. Only the standard library: tests of other crates include this
//! file by path (through `moto.rs`).

// Each test that includes this file uses part of it.
#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable that makes a missing package fail the test instead of skipping it.
pub const REQUIRE: &str = "OFFBASE_REQUIRE_CORPUS";

/// Whether `python3 -c "import {module}"` works; when not, says on stderr that `test` skipped
/// (`pin` is what to install), or fails when [`REQUIRE`] is `1`.
pub fn installed_or_skip(test: &str, module: &str, pin: &str) -> bool {
    let installed = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        let name = pin.split(['=', '[']).next().unwrap_or(pin);
        if std::env::var(REQUIRE).is_ok_and(|value| value == "1") {
            panic!(
                "{test}: {name} is not installed (pip install '{pin}') and {REQUIRE}=1 makes it mandatory"
            );
        }
        let _ = writeln!(
            std::io::stderr(),
            "{test}: skipped: {name} is not installed (pip install '{pin}'; CI makes it mandatory: {REQUIRE}=1)"
        );
    }
    installed
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| panic!("a free port: {error}"))
}

/// `python3 {arguments}` started quietly, once it answers on `port` (30 s at most); `name`
/// says what it is in failures.
pub fn start_server(test: &str, name: &str, arguments: &[String], port: u16) -> Child {
    let mut child = Command::new("python3")
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("{test}: starting {name}: {error}"));
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{test}: {name} did not answer on port {port} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}
