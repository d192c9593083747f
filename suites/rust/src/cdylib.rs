//! The cdylib the runner built, from `PYJAMAZ_LIB_PATH`: the suite state
//! ([`Extra`]) of the suites that call the C ABI. Read and checked once in
//! the suite's set-up, so a missing library is an unusable environment (exit
//! status 2) named before any test runs, not a failure of the first test.

use crate::{PyjamazError, TestError};
use memtest_harness::Extra;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const LIB_PATH_ENV: &str = "PYJAMAZ_LIB_PATH";

/// The cdylib's path, when the suite asked for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lib {
    path: Option<PathBuf>,
}

impl Lib {
    /// The library path; an error in suites set up with [`no_lib`].
    pub fn path(&self) -> Result<&Path, TestError> {
        self.path
            .as_deref()
            .ok_or(TestError::Project(PyjamazError::LibPathUnset))
    }
}

impl Extra for Lib {
    fn describe(&self) -> String {
        self.path
            .as_ref()
            .map(|p| format!("; library {}", p.display()))
            .unwrap_or_default()
    }
}

/// `Suite::setup` of a suite that does not load the cdylib.
pub fn no_lib() -> Result<Lib, TestError> {
    Ok(Lib::default())
}

/// `Suite::setup` of a suite that loads the cdylib: `PYJAMAZ_LIB_PATH` must
/// name an existing file.
pub fn needs_lib() -> Result<Lib, TestError> {
    lib_from(std::env::var_os(LIB_PATH_ENV)).map_err(TestError::Project)
}

fn lib_from(value: Option<OsString>) -> Result<Lib, PyjamazError> {
    let path = value
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .ok_or(PyjamazError::LibPathUnset)?;
    if !path.exists() {
        return Err(PyjamazError::LibPathMissing { path });
    }
    Ok(Lib { path: Some(path) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lib_path_must_be_set_and_exist() {
        assert!(matches!(lib_from(None), Err(PyjamazError::LibPathUnset)));
        assert!(matches!(
            lib_from(Some(OsString::new())),
            Err(PyjamazError::LibPathUnset)
        ));
        let missing = lib_from(Some("/nowhere/libpyjamaz.so".into())).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "PYJAMAZ_LIB_PATH points at /nowhere/libpyjamaz.so, which does not exist"
        );
        let exe = std::env::current_exe().unwrap();
        let lib = lib_from(Some(exe.clone().into())).unwrap();
        assert_eq!(lib.path().unwrap(), exe);
        assert_eq!(lib.describe(), format!("; library {}", exe.display()));
    }

    #[test]
    fn suites_without_the_library_say_so() {
        let lib = no_lib().unwrap();
        assert_eq!(lib.describe(), "");
        assert_eq!(
            lib.path().unwrap_err().to_string(),
            "PYJAMAZ_LIB_PATH is not set: the runner sets it to the built cdylib"
        );
    }
}
