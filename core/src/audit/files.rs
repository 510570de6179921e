//! Trail files: opening them safely (owner-only mode, no symbolic links), the lock that keeps
//! two engines off one trail, finding the last record to continue the chain, and rotated-file
//! numbering.
use super::error::AuditError;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Opens `path` for appending (and reading), creating it with `mode`; a symbolic link is
/// refused (`O_NOFOLLOW`), so the trail cannot be redirected to another file.
pub(super) fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    restrict(&mut options, mode);
    options.open(path).map_err(|e| explain_symlink(path, e))
}

#[cfg(unix)]
fn restrict(options: &mut OpenOptions, mode: u32) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(mode).custom_flags(libc::O_NOFOLLOW);
}

#[cfg(not(unix))]
fn restrict(_options: &mut OpenOptions, _mode: u32) {}

/// `O_NOFOLLOW` on a link fails with `ELOOP`; say what that means. Without `O_NOFOLLOW`
/// (not unix), a link is refused here, before the open.
fn explain_symlink(path: &Path, e: io::Error) -> io::Error {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        io::Error::other(format!("{} is a symbolic link; refused", path.display()))
    } else {
        e
    }
}

/// Takes the exclusive lock (`flock`) of the trail file `file` at `path`, held as long as
/// `file` is open; another engine (in this process or another) holding it gives an error.
/// Only regular files are locked (a device such as `/dev/null` is shared by design).
pub(super) fn lock(file: &File, path: &Path) -> Result<(), AuditError> {
    let shown = path.display();
    let regular = file
        .metadata()
        .map_err(AuditError::io(format!("read {shown}")))?
        .is_file();
    if !regular {
        return Ok(());
    }
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(AuditError::Locked(shown.to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(AuditError::io(format!("lock {shown}"))(e)),
    }
}

/// Creates the new current file after a rotation (`O_EXCL`: if another process created it in
/// the meantime, that is an error, not a file to share) and locks it.
pub(super) fn create_locked(path: &Path, mode: u32) -> Result<File, AuditError> {
    let shown = path.display();
    let mut options = OpenOptions::new();
    options.read(true).append(true).create_new(true);
    restrict(&mut options, mode);
    let file = options.open(path).map_err(AuditError::io(format!(
        "create audit file {shown} after rotation (another engine?)"
    )))?;
    lock(&file, path)?;
    Ok(file)
}

const CHUNK: u64 = 64 * 1024;

/// Finds the last `\n` in `file` before offset `end`, reading backwards in chunks.
fn last_newline_before(file: &mut File, end: u64) -> io::Result<Option<u64>> {
    let mut stop = end;
    let mut buf = Vec::new();
    while stop > 0 {
        let start = stop.saturating_sub(CHUNK);
        file.seek(SeekFrom::Start(start))?;
        buf.clear();
        file.by_ref().take(stop - start).read_to_end(&mut buf)?;
        if let Some(p) = buf.iter().rposition(|b| *b == b'\n') {
            return Ok(Some(start + p as u64));
        }
        stop = start;
    }
    Ok(None)
}

/// The last complete line of `file` (of `len` bytes, without its newline) and the offset just
/// after it; `(None, 0)` when the file holds no complete line. Reads backwards, so a record
/// of any size the writer accepted is found.
pub(super) fn last_line(file: &mut File, len: u64) -> io::Result<(Option<Vec<u8>>, u64)> {
    let Some(end) = last_newline_before(file, len)? else {
        return Ok((None, 0));
    };
    let start = last_newline_before(file, end)?.map_or(0, |p| p + 1);
    file.seek(SeekFrom::Start(start))?;
    let mut line = Vec::new();
    file.by_ref().take(end - start).read_to_end(&mut line)?;
    Ok((Some(line), end + 1))
}

/// The numbers of the rotated files `PATH.N` present next to `path` (any number of digits).
fn rotated_numbers(path: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let prefix = format!("{name}.");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(digits) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = digits.parse::<u64>() {
                out.push((n, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The files of the trail at `path` in chain order: the rotated files `PATH.N` by increasing
/// number, then `PATH` itself when present. This is the one order `verify` expects.
pub fn trail_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = rotated_numbers(path)?.into_iter().map(|(_, p)| p).collect();
    if std::fs::symlink_metadata(path).is_ok() {
        files.push(path.to_owned());
    }
    Ok(files)
}

/// The newest rotated file of the trail at `path`, if any.
pub(super) fn newest_rotated(path: &Path) -> io::Result<Option<PathBuf>> {
    Ok(rotated_numbers(path)?.pop().map(|(_, p)| p))
}

/// The name the current file is renamed to on rotation: one more than the highest number
/// present (never a reused gap, so numbers always follow chain order).
pub(super) fn next_rotation(path: &Path) -> io::Result<PathBuf> {
    let next = rotated_numbers(path)?
        .last()
        .map_or(1, |(n, _)| n.saturating_add(1));
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{next:06}"));
    Ok(PathBuf::from(name))
}
