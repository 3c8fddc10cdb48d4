//! The `--record` file: every received line, appended and written through immediately.

use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Appends lines to the record file; each line is written with one `write_all` call.
pub(crate) struct Recorder {
    file: Mutex<File>,
}

impl Recorder {
    /// Opens (creating if needed) `path` for appending.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Recorder> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening record file {}", path.display()))?;
        Ok(Recorder {
            file: Mutex::new(file),
        })
    }

    /// Appends `line` plus a newline. Errors are reported on stderr, never fatal.
    pub(crate) fn line(&self, line: &str) {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        let mut file = self.file.lock();
        if let Err(err) = file.write_all(&buf) {
            eprintln!("testkit: cannot write record file: {err}");
        }
    }
}
