//! The ABI check: dlopen a freshly built library and call its version
//! function, so a suite never runs against a library whose structs or
//! signatures differ from what memtest.toml (and the bindings) expect.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AbiError {
    #[error("cannot load {}", path.display())]
    Load {
        path: PathBuf,
        #[source]
        source: libloading::Error,
    },
    #[error("{} has no symbol `{symbol}`; is [build] abi_symbol right?", path.display())]
    Symbol {
        path: PathBuf,
        symbol: String,
        #[source]
        source: libloading::Error,
    },
    #[error("{} reports ABI version {found} but memtest.toml expects {expected}; rebuild, or update abi_version and the bindings together", path.display())]
    Mismatch {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
}

/// Loads `path`, calls `symbol` (an `extern "C" fn() -> u32`) and compares
/// its answer with `expected`.
pub fn check(path: &Path, symbol: &str, expected: u32) -> Result<(), AbiError> {
    // SAFETY: loading runs the library's initialisers; the library is the one
    // this repository just built, which is exactly what the suites will load.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|source| AbiError::Load {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: the config declares the symbol as `uint32_t (*)(void)`, as the C
    // header does; the call takes no arguments and touches no state.
    let found = unsafe {
        let f = lib
            .get::<unsafe extern "C" fn() -> u32>(symbol.as_bytes())
            .map_err(|source| AbiError::Symbol {
                path: path.to_path_buf(),
                symbol: symbol.to_string(),
                source,
            })?;
        f()
    };
    if found != expected {
        return Err(AbiError::Mismatch {
            path: path.to_path_buf(),
            found,
            expected,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-function shared library built with the system C compiler.
    fn tiny_lib(dir: &Path, version: u32) -> PathBuf {
        let src = dir.join("v.c");
        let lib = dir.join("libv.so");
        std::fs::write(
            &src,
            format!("unsigned int v_abi(void) {{ return {version}; }}\n"),
        )
        .unwrap();
        let status = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&lib)
            .arg(&src)
            .status()
            .expect("a C compiler (cc) is needed for this test");
        assert!(status.success());
        lib
    }

    #[test]
    fn matching_versions_pass_and_others_name_both_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let lib = tiny_lib(dir.path(), 7);
        check(&lib, "v_abi", 7).unwrap();
        let err = check(&lib, "v_abi", 1).unwrap_err();
        assert!(
            matches!(
                err,
                AbiError::Mismatch {
                    found: 7,
                    expected: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err
            .to_string()
            .contains("ABI version 7 but memtest.toml expects 1"));
    }

    #[test]
    fn a_missing_library_is_a_load_error_naming_it() {
        let err = check(Path::new("/nonexistent/libx.so"), "x_abi_version", 1).unwrap_err();
        assert!(matches!(err, AbiError::Load { .. }));
        assert!(err.to_string().contains("/nonexistent/libx.so"));
    }

    #[test]
    fn a_missing_symbol_is_named() {
        let libc = Path::new("libc.so.6");
        let err = check(libc, "memtest_no_such_symbol", 1).unwrap_err();
        assert!(
            matches!(err, AbiError::Symbol { ref symbol, .. } if symbol == "memtest_no_such_symbol"),
            "{err}"
        );
    }
}
