//! A real SMTP server for the account tests: aiosmtpd (`python3 -m aiosmtpd`, pinned in
//! `.ci/run`) on a free port, delivering into a maildir the tests read the codes, tokens and
//! links from. Without aiosmtpd a test says so and skips; with `OFFBASE_REQUIRE_CORPUS=1` (CI)
//! it fails.

use crate::python;
use offbase_serve::SmtpSettings;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// The sender the servers under test are configured with.
pub const FROM: &str = "Tasks <no-reply@tasks.example>";
const AIOSMTPD: &str = "aiosmtpd==1.4.6";

/// aiosmtpd on a free port, delivering into a maildir; killed on drop.
#[derive(Debug)]
pub struct Smtp {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
    /// The mails already taken by a test.
    taken: BTreeSet<PathBuf>,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One mail: its headers (names lowercased) and its decoded text.
#[derive(Debug)]
pub struct Received {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Smtp {
    /// aiosmtpd on a free port, or `None` after saying that `test` skipped, when it is not
    /// installed; with `OFFBASE_REQUIRE_CORPUS=1` a missing aiosmtpd fails.
    pub fn start_or_skip(test: &str) -> Option<Smtp> {
        if !python::installed_or_skip(test, "aiosmtpd", AIOSMTPD) {
            return None;
        }
        let maildir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let port = python::free_port();
        let arguments = [
            "-m".to_owned(),
            "aiosmtpd".to_owned(),
            "-n".to_owned(),
            "-l".to_owned(),
            format!("127.0.0.1:{port}"),
            "-c".to_owned(),
            "aiosmtpd.handlers.Mailbox".to_owned(),
            maildir.path().join("mail").display().to_string(),
        ];
        let child = python::start_server(test, "aiosmtpd", &arguments, port);
        Some(Smtp {
            child,
            port,
            maildir,
            taken: BTreeSet::new(),
        })
    }

    pub fn settings(&self) -> SmtpSettings {
        SmtpSettings {
            url: format!("smtp://127.0.0.1:{}", self.port),
            from: FROM.to_owned(),
        }
    }

    /// Every mail delivered so far, with its file.
    pub fn mails(&self) -> Vec<(PathBuf, Received)> {
        let new = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|path| {
                let text = std::fs::read_to_string(&path).ok()?;
                Some((path, parse_mail(&text)))
            })
            .collect()
    }

    /// The next mail to `to` not taken yet, waiting for it up to 20 s.
    pub async fn next_mail(&mut self, to: &str) -> Received {
        let started = Instant::now();
        loop {
            let found = self
                .mails()
                .into_iter()
                .find(|(path, mail)| !self.taken.contains(path) && mail.to.contains(to));
            if let Some((path, mail)) = found {
                self.taken.insert(path);
                return mail;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no mail to {to} arrived within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many mails went to `to` in all.
    pub fn count_to(&self, to: &str) -> usize {
        self.mails()
            .iter()
            .filter(|(_, mail)| mail.to.contains(to))
            .count()
    }
}

/// Headers unfolded, the body decoded (quoted-printable or base64, as lettre chose).
fn parse_mail(text: &str) -> Received {
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let encoding = header("Content-Transfer-Encoding").to_ascii_lowercase();
    let body = match encoding.as_str() {
        "quoted-printable" => quoted_printable(body),
        "base64" => {
            use base64::Engine;
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_else(|error| panic!("a base64 body: {error}"));
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => body.to_owned(),
    };
    Received {
        to: header("To"),
        subject: header("Subject"),
        body,
    }
}

fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'='
            && let Some(hex) = joined.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The 6-digit code of a code mail: the line that is only digits.
pub fn code_in(mail: &Received) -> String {
    mail.body
        .lines()
        .map(str::trim)
        .find(|line| line.len() == 6 && line.bytes().all(|byte| byte.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in the mail: {}", mail.body))
        .to_owned()
}

/// The line after `label` in a mail.
pub fn line_after(mail: &Received, label: &str) -> String {
    let mut lines = mail.body.lines();
    lines
        .by_ref()
        .find(|line| line.contains(label))
        .unwrap_or_else(|| panic!("no `{label}` in the mail: {}", mail.body));
    lines
        .next()
        .map(|line| line.trim().to_owned())
        .unwrap_or_else(|| panic!("nothing after `{label}` in the mail: {}", mail.body))
}
