//! Files written whole or not at all: a temporary file in the same folder,
//! then a rename over the target. A reader never sees half a file, and a
//! process that has the old file mapped (a library a suite still runs) keeps
//! its inode instead of seeing its code change underneath it. A leaf module:
//! it imports nothing of the runner.

use std::path::Path;

/// Copies `from` to `to` through a temporary file and a rename, creating
/// `to`'s folder first.
pub fn copy_replacing(from: &Path, to: &Path) -> std::io::Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        to.file_name().and_then(|n| n.to_str()).unwrap_or("copy"),
        std::process::id()
    ));
    std::fs::copy(from, &tmp)?;
    std::fs::rename(&tmp, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_copy_is_a_new_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let (a, to) = (dir.path().join("a"), dir.path().join("out/lib.so"));
        std::fs::write(&a, "one").unwrap();
        copy_replacing(&a, &to).unwrap();
        let first = std::fs::metadata(&to).unwrap().ino();
        std::fs::write(&a, "two").unwrap();
        copy_replacing(&a, &to).unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "two");
        assert_ne!(
            std::fs::metadata(&to).unwrap().ino(),
            first,
            "renamed into place, not overwritten"
        );
    }
}
