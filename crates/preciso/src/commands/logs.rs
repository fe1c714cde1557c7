//! `preciso logs --tail N`: the last lines of the newest daily log file (`log.dir`), the
//! replacement for `tail` on the old system's log files.

use crate::settings::Settings;
use anyhow::{Result, bail};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Daily files are `preciso.log.YYYY-MM-DD`.
pub const FILE_PREFIX: &str = "preciso.log";

/// The log files in `dir`, oldest first (the cleanup job's list).
pub fn files(dir: &Path) -> Vec<PathBuf> {
    preciso_ops::jobs::cleanup::log_files(dir, FILE_PREFIX)
}

/// The last `n` lines of `path`, read backwards in blocks (log files can be large).
pub fn tail(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.seek(SeekFrom::End(0))?;
    let mut pos = len;
    let mut buf: Vec<u8> = Vec::new();
    const BLOCK: u64 = 64 * 1024;
    while pos > 0 && buf.iter().filter(|&&b| b == b'\n').count() <= n {
        let step = BLOCK.min(pos);
        pos -= step;
        file.seek(SeekFrom::Start(pos))?;
        let mut block = vec![0; step as usize];
        file.read_exact(&mut block)?;
        block.extend_from_slice(&buf);
        buf = block;
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    Ok(lines[lines.len().saturating_sub(n)..].iter().map(|l| l.to_string()).collect())
}

pub fn run(settings: &Settings, n: usize) -> Result<ExitCode> {
    let Some(dir) = &settings.log.dir else {
        bail!("file logging is off: set log.dir (or PRECISO_LOG_DIR) for `preciso serve`");
    };
    let Some(newest) = files(dir).pop() else {
        bail!("no log files in {} yet", dir.display());
    };
    for line in tail(&newest, n)? {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
