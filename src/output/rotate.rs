//! A log file rotated by size: `name.log` is renamed `name.log.1` (and `.1`
//! to `.2`, ... up to `keep`) before a record would make it exceed
//! `max_size`, so the files never hold more than max_size × (keep + 1) bytes.
//! A write that fails (full disk, deleted directory) drops the record, counts
//! it and leaves one warning for its owner to say (it may run on a thread that
//! must not write to warden's streams); the next record tries again with a
//! fresh open. A file deleted from under warden is noticed and created again.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use crate::config::FileLog;
use crate::sys::Reason;

/// Records between two checks that the file still has a name.
const CHECK_EVERY: u32 = 64;

pub struct RotatingFile {
    log: FileLog,
    file: Option<File>,
    size: u64,
    since_check: u32,
    failing: bool,
    pub dropped_lines: u64,
    /// What went wrong, once per failure streak, for the owner to say.
    pub warning: Option<String>,
    /// The open file is a regular file on a local file system
    /// (`sys::fs::on_local_disk`): writing it never waits on another machine.
    pub local: bool,
}

impl RotatingFile {
    pub fn new(log: FileLog) -> RotatingFile {
        RotatingFile {
            log,
            file: None,
            size: 0,
            since_check: 0,
            failing: false,
            dropped_lines: 0,
            warning: None,
            local: false,
        }
    }

    /// Closes the file (the next write opens it again).
    pub fn close(&mut self) {
        self.file = None;
    }

    /// Appends whole records (lines, each with its newline), rotating
    /// between records as needed.
    pub fn write(&mut self, mut records: &[u8]) {
        while !records.is_empty() {
            // As many whole records as fit before the size limit (at least one).
            let room = self.log.max_size.saturating_sub(self.size) as usize;
            let fits = match records.get(..room.min(records.len())) {
                Some(part) if part.len() == records.len() => records.len(),
                Some(part) => part.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1),
                None => 0,
            };
            let take = if fits > 0 || self.size > 0 {
                fits
            } else {
                records.iter().position(|&b| b == b'\n').map_or(records.len(), |i| i + 1)
            };
            let (batch, rest) = if take == 0 {
                // Nothing fits in what is left: rotate first, with the next record.
                let one = records.iter().position(|&b| b == b'\n').map_or(records.len(), |i| i + 1);
                records.split_at(one)
            } else {
                records.split_at(take)
            };
            self.write_batch(batch);
            records = rest;
        }
    }

    fn write_batch(&mut self, record: &[u8]) {
        match self.try_write(record) {
            Ok(()) => self.failing = false,
            Err(e) => {
                self.dropped_lines += record.iter().filter(|&&b| b == b'\n').count() as u64;
                self.file = None;
                if !self.failing {
                    self.failing = true;
                    self.warning = Some(format!(
                        "cannot write to {} ({}): dropping lines",
                        self.log.path.display(),
                        Reason(&e)
                    ));
                }
            }
        }
    }

    fn try_write(&mut self, record: &[u8]) -> std::io::Result<()> {
        self.since_check += 1;
        if self.since_check >= CHECK_EVERY {
            self.since_check = 0;
            if self.file.as_ref().and_then(|f| f.metadata().ok()).is_some_and(|m| m.nlink() == 0) {
                self.file = None; // deleted: start a new one
            }
        }
        let length = record.len() as u64;
        if self.file.is_some() && self.size > 0 && self.size + length > self.log.max_size {
            self.file = None;
            self.rotate()?;
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o640)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(&self.log.path)?;
                self.size = file.metadata()?.len();
                if self.size > 0 && self.size + length > self.log.max_size {
                    drop(file);
                    self.rotate()?;
                    return self.try_write(record);
                }
                self.local = crate::sys::fs::on_local_disk(&file);
                self.file.insert(file)
            }
        };
        file.write_all(record)?;
        self.size += length;
        Ok(())
    }

    /// name.log.(k) → .(k+1) from the oldest kept, then name.log → .1; with
    /// `keep: 0` the file is simply started again.
    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: u32| {
            let mut name = self.log.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if self.log.keep == 0 {
            return std::fs::remove_file(&self.log.path);
        }
        for n in (1..self.log.keep).rev() {
            match std::fs::rename(numbered(n), numbered(n + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.log.path, numbered(1))?;
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
