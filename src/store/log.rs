//! [`FileStore`]: an append-only log of checksummed records, an in-memory index of the live
//! ones, replay on open, compaction when most of the file is dead.
//!
//! The file: an 8-byte header (`MIDGELG1`), then records
//! `[len u32 LE | crc u32 LE | kind u8 | key_len u32 LE | key | value]`, where `len` is the
//! length of everything after the crc and `crc` is the CRC-32C of `len`'s four bytes and
//! everything after the crc. `kind` is put (1) or remove (2, no value).
//!
//! Why it survives crashes and power cuts:
//! - Each put or remove is ONE `write(2)` (`O_APPEND`) of a whole record, so a killed
//!   process leaves whole records; a power cut can leave a torn or garbled tail. Replay
//!   stops at the first record whose length or checksum does not hold, truncates the file
//!   there, and keeps everything before it: never a panic, never a garbled record replayed.
//! - A failed write (disk full) is cut off at once (`ftruncate` to the last good end), so a
//!   partial record never hides the records written after it; if even that fails, the store
//!   refuses every later call ([`StoreError::Poisoned`]).
//! - Compaction (dead bytes above live bytes and above a minimum) writes the live records
//!   to `<file>.compact`, fsyncs it, renames it over the log, then fsyncs the directory.
//!   A crash before the rename leaves the old log whole (the temp file is removed on the
//!   next open); after it, the new log is already complete on disk.
//! - `<file>.lock` is held with an exclusive `flock` while the store is open (a lock file
//!   apart from the log, which compaction replaces): a second open, from this process or
//!   another, fails with [`StoreError::Locked`].

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Store, StoreError, StoreLimits, StoreUsage, Syncer};

const MAGIC: &[u8; 8] = b"MIDGELG1";
const HEADER_LEN: u64 = MAGIC.len() as u64;
/// `len` and `crc`.
const RECORD_HEADER: usize = 8;
/// `kind` and `key_len`.
const BODY_FIXED: usize = 5;
const PUT: u8 = 1;
const REMOVE: u8 = 2;
/// The largest record body: a length field beyond it is damage, not a record.
const MAX_BODY: usize = 1 << 30;
/// The name of the log when `FileStore::open` is given a directory.
const FILE_NAME: &str = "midge.store";
/// No compaction while the dead bytes are fewer than this (by default).
const DEFAULT_COMPACTION_MIN: u64 = 1 << 20;

/// Where a live record lies in the log.
#[derive(Debug, Clone, Copy)]
struct Loc {
    offset: u64,
    value_len: usize,
}

fn record_len(key_len: usize, value_len: usize) -> u64 {
    (RECORD_HEADER + BODY_FIXED + key_len + value_len) as u64
}

/// A durable store in one append-only file (see the module documentation).
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    /// The log, opened for reading and appending.
    file: File,
    /// The lock file, locked while this value lives.
    _lock: File,
    index: HashMap<Vec<u8>, Loc>,
    usage: StoreUsage,
    limits: StoreLimits,
    /// The log's length: where the next record goes.
    end: u64,
    /// The bytes of the live records in the log (the rest after the header is dead).
    live_file: u64,
    compaction_min: u64,
    /// After a failed compaction, the next try waits for this many dead bytes.
    compaction_retry: u64,
    compactions: u64,
    truncated_at_open: u64,
    /// The directory's fsync after a compaction failed: `sync` must do it.
    dir_dirty: bool,
    poisoned: bool,
    #[cfg(test)]
    crash_before_rename: bool,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Why replay stopped before the end of the file.
enum Replay {
    End,
    Damaged,
}

impl FileStore {
    /// Opens (or creates) the store at `path`: a directory (the log is `midge.store` in
    /// it) or the log file itself (its directory must exist). Replays the log; a damaged
    /// tail is cut off (see [`FileStore::truncated_at_open`]). Fails with
    /// [`StoreError::Locked`] while another `FileStore` has it open, and with
    /// [`StoreError::NotAStore`] for a file that is not a midge store (left untouched).
    pub fn open(path: impl AsRef<Path>, limits: StoreLimits) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let path = if path.is_dir() {
            path.join(FILE_NAME)
        } else {
            path.to_owned()
        };
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(with_suffix(&path, ".lock"))?;
        lock_exclusive(&lock, &path)?;
        // A compaction that did not reach its rename: the log is whole without it.
        match std::fs::remove_file(with_suffix(&path, ".compact")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut store = Self {
            path,
            file,
            _lock: lock,
            index: HashMap::new(),
            usage: StoreUsage::default(),
            limits,
            end: HEADER_LEN,
            live_file: 0,
            compaction_min: DEFAULT_COMPACTION_MIN,
            compaction_retry: 0,
            compactions: 0,
            truncated_at_open: 0,
            dir_dirty: false,
            poisoned: false,
            #[cfg(test)]
            crash_before_rename: false,
        };
        store.check_header()?;
        store.replay()?;
        Ok(store)
    }

    /// Writes the header of a new log, or checks an existing one's.
    fn check_header(&mut self) -> Result<(), StoreError> {
        let len = self.file.metadata()?.len();
        let mut head = vec![0; len.min(HEADER_LEN) as usize];
        self.file.read_exact_at(&mut head, 0)?;
        if head[..] != MAGIC[..head.len()] {
            return Err(StoreError::NotAStore(self.path.display().to_string()));
        }
        if len < HEADER_LEN {
            // New, or a crash while its header was written: nothing was stored yet.
            self.file.set_len(0)?;
            self.file.write_all(MAGIC)?;
            self.file.sync_all()?;
            sync_dir(parent_dir(&self.path))?;
        }
        Ok(())
    }

    /// Rebuilds the index from the log and cuts off a damaged tail.
    fn replay(&mut self) -> Result<(), StoreError> {
        let len = self.file.metadata()?.len();
        let file = self.file.try_clone()?;
        let mut reader = BufReader::with_capacity(1 << 16, &file);
        reader.seek(SeekFrom::Start(HEADER_LEN))?;
        let mut pos = HEADER_LEN;
        let mut body = Vec::new();
        loop {
            let stop = Self::next_record(&mut reader, len - pos, &mut body)?;
            if let Some(stop) = stop {
                if matches!(stop, Replay::Damaged) {
                    self.truncated_at_open = len - pos;
                }
                break;
            }
            let key_len = u32::from_le_bytes([body[1], body[2], body[3], body[4]]) as usize;
            let key = &body[BODY_FIXED..BODY_FIXED + key_len];
            if body[0] == PUT {
                let value_len = body.len() - BODY_FIXED - key_len;
                let loc = Loc {
                    offset: pos,
                    value_len,
                };
                if let Some(old) = self.index.insert(key.to_vec(), loc) {
                    self.forget(key_len, old.value_len);
                }
                self.usage.bytes += (key_len + value_len) as u64;
                self.usage.records += 1;
                self.live_file += record_len(key_len, value_len);
            } else if let Some(old) = self.index.remove(key) {
                self.forget(key_len, old.value_len);
            }
            pos += (RECORD_HEADER + body.len()) as u64;
        }
        drop(reader);
        if pos < len {
            self.file.set_len(pos)?;
            self.file.sync_all()?;
        }
        self.end = pos;
        Ok(())
    }

    /// Reads the next record's body into `body`; `Some` when there is none (the end, or
    /// damage: a length or checksum that does not hold, an unknown kind).
    fn next_record(
        reader: &mut impl Read,
        left: u64,
        body: &mut Vec<u8>,
    ) -> Result<Option<Replay>, StoreError> {
        if left == 0 {
            return Ok(Some(Replay::End));
        }
        if left < (RECORD_HEADER + BODY_FIXED) as u64 {
            return Ok(Some(Replay::Damaged));
        }
        let mut header = [0u8; RECORD_HEADER];
        reader.read_exact(&mut header)?;
        let len_bytes = [header[0], header[1], header[2], header[3]];
        let body_len = u32::from_le_bytes(len_bytes) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if !(BODY_FIXED..=MAX_BODY).contains(&body_len)
            || body_len as u64 > left - RECORD_HEADER as u64
        {
            return Ok(Some(Replay::Damaged));
        }
        body.resize(body_len, 0);
        reader.read_exact(body)?;
        if crc32c(&[&len_bytes, body]) != crc {
            return Ok(Some(Replay::Damaged));
        }
        let key_len = u32::from_le_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let fits = BODY_FIXED + key_len <= body_len;
        let ok = match body[0] {
            PUT => fits,
            REMOVE => BODY_FIXED + key_len == body_len,
            _ => false,
        };
        Ok(if ok { None } else { Some(Replay::Damaged) })
    }

    /// The accounting of a record that stopped being live.
    fn forget(&mut self, key_len: usize, value_len: usize) {
        self.usage.bytes -= (key_len + value_len) as u64;
        self.usage.records -= 1;
        self.live_file -= record_len(key_len, value_len);
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log's length in bytes now (live and dead records).
    pub fn file_len(&self) -> u64 {
        self.end
    }

    /// How many compactions this store ran.
    pub fn compactions(&self) -> u64 {
        self.compactions
    }

    /// How many bytes of damaged tail `open` cut off (0: the log was whole).
    pub fn truncated_at_open(&self) -> u64 {
        self.truncated_at_open
    }

    /// Compaction waits for at least this many dead bytes (default 1 MiB), and for more
    /// dead than live bytes.
    pub fn set_compaction_min(&mut self, bytes: u64) {
        self.compaction_min = bytes;
    }

    fn usable(&self) -> Result<(), StoreError> {
        if self.poisoned {
            Err(StoreError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Appends one whole record with one write; on failure the file is cut back to its
    /// last good end.
    fn append(&mut self, record: &[u8]) -> Result<u64, StoreError> {
        let offset = self.end;
        if let Err(e) = self.file.write_all(record) {
            if self.file.set_len(self.end).is_err() {
                self.poisoned = true;
            }
            return Err(e.into());
        }
        self.end += record.len() as u64;
        Ok(offset)
    }

    fn maybe_compact(&mut self) {
        let dead = self.end - HEADER_LEN - self.live_file;
        if dead > self.live_file && dead >= self.compaction_min.max(self.compaction_retry) {
            // The write that got here succeeded; a failed compaction leaves the log as it
            // was and is tried again when twice as much is dead.
            if self.compact().is_err() {
                self.compaction_retry = dead.saturating_mul(2);
            }
        }
    }

    /// Rewrites the live records into a new log and renames it over the old one.
    fn compact(&mut self) -> Result<(), StoreError> {
        let tmp_path = with_suffix(&self.path, ".compact");
        let written = self.write_compacted(&tmp_path);
        #[cfg(test)]
        if self.crash_before_rename {
            return Err(StoreError::Io(io::Error::other("simulated crash")));
        }
        let renamed = written.and_then(|w| Ok((w, std::fs::rename(&tmp_path, &self.path)?)));
        let ((file, index, end), ()) = match renamed {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp_path);
                return Err(e);
            }
        };
        self.file = file;
        self.index = index;
        self.end = end;
        self.compactions += 1;
        self.compaction_retry = 0;
        // The new log is complete on disk; the rename reaches the disk with the directory.
        self.dir_dirty = sync_dir(parent_dir(&self.path)).is_err();
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn write_compacted(
        &self,
        tmp_path: &Path,
    ) -> Result<(File, HashMap<Vec<u8>, Loc>, u64), StoreError> {
        let _ = std::fs::remove_file(tmp_path);
        let mut tmp = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(tmp_path)?;
        // In log order: sequential reads, and replay meets the records in the order the
        // old log had them.
        let mut live: Vec<(&Vec<u8>, &Loc)> = self.index.iter().collect();
        live.sort_by_key(|(_, loc)| loc.offset);
        let mut index = HashMap::with_capacity(live.len());
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(MAGIC);
        let mut end = HEADER_LEN;
        for (key, loc) in live {
            let start = buf.len();
            self.read_record(key, *loc, &mut buf)?;
            index.insert(
                key.clone(),
                Loc {
                    offset: end,
                    value_len: loc.value_len,
                },
            );
            end += (buf.len() - start) as u64;
            if buf.len() >= 1 << 20 {
                tmp.write_all(&buf)?;
                buf.clear();
            }
        }
        tmp.write_all(&buf)?;
        tmp.sync_all()?;
        Ok((tmp, index, end))
    }

    /// Appends the whole record of a live key to `buf`, its checksum and key checked.
    fn read_record(&self, key: &[u8], loc: Loc, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        let start = buf.len();
        buf.resize(start + record_len(key.len(), loc.value_len) as usize, 0);
        let record = &mut buf[start..];
        self.file.read_exact_at(record, loc.offset)?;
        let crc = u32::from_le_bytes([record[4], record[5], record[6], record[7]]);
        let body = &record[RECORD_HEADER..];
        if crc32c(&[&record[..4], body]) != crc
            || body[0] != PUT
            || &body[BODY_FIXED..][..key.len()] != key
        {
            buf.truncate(start);
            return Err(StoreError::Corrupt(format!(
                "{} at offset {}",
                self.path.display(),
                loc.offset
            )));
        }
        Ok(())
    }
}

fn encode(kind: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    let body_len = (BODY_FIXED + key.len() + value.len()) as u32;
    let mut record = Vec::with_capacity(RECORD_HEADER + body_len as usize);
    record.extend_from_slice(&body_len.to_le_bytes());
    record.extend_from_slice(&[0; 4]);
    record.push(kind);
    record.extend_from_slice(&(key.len() as u32).to_le_bytes());
    record.extend_from_slice(key);
    record.extend_from_slice(value);
    let crc = crc32c(&[&record[..4], &record[RECORD_HEADER..]]);
    record[4..8].copy_from_slice(&crc.to_le_bytes());
    record
}

// `File::try_lock`: flock(2) on Linux, without unsafe (stable since Rust 1.89, the crate's
// rust-version for this reason).
fn lock_exclusive(lock: &File, path: &Path) -> Result<(), StoreError> {
    match lock.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(StoreError::Locked(path.display().to_string()))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

impl Store for FileStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.usable()?;
        let old = self
            .index
            .get(key)
            .map(|l| (key.len() + l.value_len) as u64);
        self.limits.check(self.usage, old, key.len(), value.len())?;
        if BODY_FIXED + key.len() + value.len() > MAX_BODY {
            return Err(StoreError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a record over 1 GiB",
            )));
        }
        let offset = self.append(&encode(PUT, key, value))?;
        let loc = Loc {
            offset,
            value_len: value.len(),
        };
        if let Some(old) = self.index.insert(key.to_vec(), loc) {
            self.forget(key.len(), old.value_len);
        }
        self.usage.bytes += (key.len() + value.len()) as u64;
        self.usage.records += 1;
        self.live_file += record_len(key.len(), value.len());
        self.maybe_compact();
        Ok(())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.usable()?;
        let Some(&loc) = self.index.get(key) else {
            return Ok(None);
        };
        let mut record = Vec::new();
        self.read_record(key, loc, &mut record)?;
        record.drain(..RECORD_HEADER + BODY_FIXED + key.len());
        Ok(Some(record))
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.usable()?;
        let Some(&old) = self.index.get(key) else {
            return Ok(());
        };
        self.append(&encode(REMOVE, key, &[]))?;
        self.index.remove(key);
        self.forget(key.len(), old.value_len);
        self.maybe_compact();
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.usable()?;
        Ok(self.index.keys().cloned().collect())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.usable()?;
        self.file.sync_data()?;
        if self.dir_dirty {
            sync_dir(parent_dir(&self.path))?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    fn usage(&self) -> StoreUsage {
        self.usage
    }

    fn syncer(&mut self) -> Result<Option<Syncer>, StoreError> {
        self.usable()?;
        if self.dir_dirty {
            return Ok(None);
        }
        // A second descriptor of the same log: its fdatasync covers every write made so
        // far. A compaction after this point fsyncs the new log itself.
        let file = self.file.try_clone()?;
        Ok(Some(Box::new(move || Ok(file.sync_data()?))))
    }
}

/// The CRC-32C (Castagnoli) tables for slicing-by-8, reflected polynomial 0x82F63B78:
/// `CRC32C[0]` is the byte-at-a-time table, `CRC32C[k]` advances it over `k` more zero
/// bytes (eight bytes per step: replay checks every byte of the log).
const CRC32C: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 0 {
                c >> 1
            } else {
                (c >> 1) ^ 0x82F6_3B78
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};

/// The CRC-32C of the concatenation of `parts`.
fn crc32c(parts: &[&[u8]]) -> u32 {
    let t = &CRC32C;
    let mut c = !0u32;
    for part in parts {
        let mut chunks = part.chunks_exact(8);
        for b in &mut chunks {
            let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) ^ c;
            let hi = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            c = t[7][(lo & 0xFF) as usize]
                ^ t[6][((lo >> 8) & 0xFF) as usize]
                ^ t[5][((lo >> 16) & 0xFF) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xFF) as usize]
                ^ t[2][((hi >> 8) & 0xFF) as usize]
                ^ t[1][((hi >> 16) & 0xFF) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
        for &b in chunks.remainder() {
            c = t[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
    }
    !c
}

#[cfg(test)]
mod tests;
