//! Atomic file replacement, the one way memtest replaces a file: report
//! files, the saved baseline and the copied libraries are either their old
//! content or their new content, never half of either, even when a run is
//! interrupted or a CI job is killed mid-write. Write (or copy) to a
//! temporary file in the same folder (rename is only atomic within one file
//! system), fsync it, rename it over the target, then fsync the folder so the
//! rename itself survives a crash. A rename also gives the target a new
//! inode, so a process that has the old file open or mapped (a suite still
//! running the previous library) keeps reading the old content.
//!
//! A leaf module: it imports nothing from the crate, so every stage may use it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writers in one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `contents` atomically, creating its folder if needed.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace_with(path, |tmp| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(tmp)?;
        file.write_all(contents)?;
        file.sync_all()
    })
}

/// Copies `from` over `to` atomically, creating `to`'s folder if needed. The
/// copy keeps `from`'s permissions (a library stays executable).
pub fn copy_replacing(from: &Path, to: &Path) -> io::Result<()> {
    replace_with(to, |tmp| {
        fs::copy(from, tmp)?;
        File::open(tmp)?.sync_all()
    })
}

/// Fills a fresh temporary file beside `path` with `fill`, then renames it
/// over `path`. On failure the temporary file is removed.
fn replace_with(path: &Path, fill: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = fill(&tmp).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        // Best effort: a stray temp file is untidy, the original error matters.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Persist the rename; some file systems refuse to fsync a folder, and the
    // content is already safe, so this is best effort.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Appends to `path` (the GitHub step summary is shared with other steps, so
/// it is appended to, not replaced).
pub fn append(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/report.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let entries: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, vec![std::ffi::OsString::from("report.json")]);
    }

    #[test]
    fn a_reader_never_sees_a_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        // Large enough that a plain write would be observed half done.
        let a = vec![b'a'; 1 << 20];
        let b = vec![b'b'; (1 << 20) + 7];
        write_atomic(&path, &a).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, a, b, stop) = (path.clone(), a.clone(), b.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0..40 {
                    write_atomic(&path, if i % 2 == 0 { &b } else { &a }).unwrap();
                }
                stop.store(true, Ordering::SeqCst);
            })
        };
        let mut reads = 0;
        while !stop.load(Ordering::SeqCst) {
            let seen = fs::read(&path).unwrap();
            assert!(
                seen == a || seen == b,
                "partial read of {} bytes",
                seen.len()
            );
            reads += 1;
        }
        writer.join().unwrap();
        assert!(reads > 0);
    }

    #[test]
    #[cfg(unix)]
    fn copy_replacing_gives_the_target_a_new_inode_and_keeps_the_old_one_readable() {
        use std::io::Read;
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old.so"), dir.path().join("new.so"));
        fs::write(&old, b"old library").unwrap();
        fs::write(&new, b"new library").unwrap();
        fs::set_permissions(&new, fs::Permissions::from_mode(0o755)).unwrap();
        let target = dir.path().join("lib/libx.so");
        copy_replacing(&old, &target).unwrap();
        // A suite that has the library open (or mapped) while it is replaced.
        let mut held = File::open(&target).unwrap();
        let inode = fs::metadata(&target).unwrap().ino();
        copy_replacing(&new, &target).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new library");
        assert_ne!(fs::metadata(&target).unwrap().ino(), inode);
        let mut seen = String::new();
        held.read_to_string(&mut seen).unwrap();
        assert_eq!(seen, "old library");
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "copy keeps the executable bits");
        assert_eq!(fs::read_dir(target.parent().unwrap()).unwrap().count(), 1);
        assert!(copy_replacing(&dir.path().join("missing"), &target).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"new library");
    }

    #[test]
    fn append_keeps_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        append(&path, b"one\n").unwrap();
        append(&path, b"two\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }
}
