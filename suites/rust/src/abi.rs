//! The C ABI of `core/include/pyjamaz.h` as the bindings see it: the structs
//! mirrored field for field (from the header, not the core's Rust types),
//! the error codes the suites expect, and [`Api`], the cdylib loaded with
//! libloading and its entry points. Shared by the suites that call the
//! library through its C ABI (`ffi_alloc_stats`, `concurrency`).

use crate::{Ctx, PyjamazError, Snapshot, TestError};
use libloading::Library;
use std::ffi::c_char;

pub const ABI_VERSION: u32 = 1;
pub const PYJAMAZ_OK: i32 = 0;
pub const PYJAMAZ_ERR_NULL_POINTER: i32 = 1;
pub const PYJAMAZ_ERR_EMPTY_INPUT: i32 = 2;
pub const PYJAMAZ_ERR_UNKNOWN_FORMAT: i32 = 3;
pub const PYJAMAZ_ERR_CORRUPT_INPUT: i32 = 4;
pub const PYJAMAZ_ERR_INVALID_OPTIONS: i32 = 7;

#[repr(C)]
pub struct PyjamazOptions {
    pub input: *const u8,
    pub input_len: usize,
    pub max_bytes: u64,
    pub max_diff: f64,
    pub metric: *const c_char,
    pub formats: *const c_char,
    pub concurrency: u32,
}

#[repr(C)]
pub struct PyjamazResult {
    pub output: *mut u8,
    pub output_len: usize,
    pub format: *const c_char,
    pub diff_value: f64,
    pub passed: i32,
    pub error_code: i32,
    pub error_message: *mut c_char,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PyjamazAllocStats {
    pub live_allocations: u64,
    pub live_bytes: u64,
    pub total_allocations: u64,
    pub peak_bytes: u64,
}

impl From<PyjamazAllocStats> for Snapshot {
    fn from(stats: PyjamazAllocStats) -> Snapshot {
        Snapshot {
            live_allocations: stats.live_allocations,
            live_bytes: stats.live_bytes,
            total_allocations: stats.total_allocations,
            peak_bytes: stats.peak_bytes,
        }
    }
}

pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
pub type OptimizeFn = unsafe extern "C" fn(*const PyjamazOptions) -> *mut PyjamazResult;
pub type FreeResultFn = unsafe extern "C" fn(*mut PyjamazResult);
pub type AllocStatsFn = unsafe extern "C" fn(*mut PyjamazAllocStats) -> i32;
pub type AllocSitesFn = unsafe extern "C" fn(u64, *mut std::ffi::c_char, usize) -> usize;

/// The library and the entry points copied out of it; the function pointers
/// stay valid as long as `_library` is alive, which is as long as `Api` is.
/// `Sync`: the pointers are plain functions and the header promises every
/// entry point may be called from any thread.
pub struct Api {
    pub abi_version: AbiVersionFn,
    pub optimize: OptimizeFn,
    pub free_result: FreeResultFn,
    pub alloc_stats: AllocStatsFn,
    pub alloc_sites: AllocSitesFn,
    _library: Library,
}

impl Api {
    /// Loads the cdylib of `PYJAMAZ_LIB_PATH` (the suite's [`crate::Lib`]).
    pub fn load(ctx: &Ctx) -> Result<Api, TestError> {
        let path = ctx.extra.path()?;
        let ffi = |what: &str, source| {
            TestError::from(PyjamazError::Ffi {
                what: format!("{what} in {}", path.display()),
                source,
            })
        };
        // SAFETY: loading runs the library's initialisers; libpyjamaz has no
        // constructors beyond Rust's runtime setup.
        let library = unsafe { Library::new(path) }.map_err(|e| ffi("cannot load", e))?;
        // SAFETY: each symbol's type is the prototype in pyjamaz.h.
        unsafe {
            Ok(Api {
                abi_version: *library
                    .get::<AbiVersionFn>(b"pyjamaz_abi_version\0")
                    .map_err(|e| ffi("pyjamaz_abi_version missing", e))?,
                optimize: *library
                    .get::<OptimizeFn>(b"pyjamaz_optimize\0")
                    .map_err(|e| ffi("pyjamaz_optimize missing", e))?,
                free_result: *library
                    .get::<FreeResultFn>(b"pyjamaz_free_result\0")
                    .map_err(|e| ffi("pyjamaz_free_result missing", e))?,
                alloc_stats: *library
                    .get::<AllocStatsFn>(b"pyjamaz_alloc_stats\0")
                    .map_err(|e| ffi("pyjamaz_alloc_stats missing", e))?,
                alloc_sites: *library
                    .get::<AllocSitesFn>(b"pyjamaz_alloc_sites\0")
                    .map_err(|e| ffi("pyjamaz_alloc_sites missing", e))?,
                _library: library,
            })
        }
    }

    /// The library's own heap accounting, `pyjamaz_alloc_stats`.
    pub fn stats(&self) -> PyjamazAllocStats {
        let mut stats = PyjamazAllocStats::default();
        // SAFETY: `stats` is a valid, writable PyjamazAllocStats.
        let code = unsafe { (self.alloc_stats)(&mut stats) };
        assert_eq!(code, PYJAMAZ_OK, "pyjamaz_alloc_stats failed");
        stats
    }

    /// The library's leak sites since allocation number `since`
    /// (`pyjamaz_alloc_sites`): `MEMTEST site=` lines, empty unless it was
    /// loaded in attribution mode (`MEMTEST_EXPLAIN`).
    pub fn sites(&self, since: u64) -> String {
        // SAFETY: a NULL buffer of capacity 0 asks for the length only.
        let mut need = unsafe { (self.alloc_sites)(since, std::ptr::null_mut(), 0) };
        loop {
            let mut buf = vec![0u8; need + 1];
            // SAFETY: `buf` is writable for its whole length.
            let len = unsafe { (self.alloc_sites)(since, buf.as_mut_ptr().cast(), buf.len()) };
            if len < buf.len() {
                buf.truncate(len);
                return String::from_utf8_lossy(&buf).into_owned();
            }
            // It grew in between (another thread allocating): ask again.
            need = len;
        }
    }
}
