'use strict';
/**
 * Finds the pyjamaz shared library on disk.
 *
 * Order: `PYJAMAZ_LIB_PATH` (and nothing else when it is set: a canary that
 * points at the leaky build must never silently load the normal one), then the
 * cargo target dir of the workspace this binding lives in (`CARGO_TARGET_DIR`
 * when set, else `<workspace>/target`), release before debug. When nothing is
 * found the error lists every place tried.
 */

const fs = require('node:fs');
const path = require('node:path');

/** File name of the cdylib cargo builds for `lib = "pyjamaz"` on this platform. */
function libraryFileName(platform = process.platform) {
  if (platform === 'win32') return 'pyjamaz.dll';
  if (platform === 'darwin') return 'libpyjamaz.dylib';
  return 'libpyjamaz.so';
}

/** True when `dir/Cargo.toml` declares a `[workspace]` table. */
function isWorkspaceRoot(dir) {
  let text;
  try {
    text = fs.readFileSync(path.join(dir, 'Cargo.toml'), 'utf8');
  } catch {
    return false;
  }
  return /^\s*\[workspace\]\s*$/m.test(text);
}

/** Walks up from `startDir` to the first folder holding a workspace Cargo.toml. */
function findWorkspaceRoot(startDir) {
  let dir = path.resolve(startDir);
  for (;;) {
    if (isWorkspaceRoot(dir)) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Raised when no library file is found; `tried` names every candidate path. */
class LibraryNotFoundError extends Error {
  constructor(message, tried) {
    super(message);
    this.name = 'LibraryNotFoundError';
    this.tried = tried;
  }
}

/**
 * Candidate paths in the order they are tried. Pure apart from reading
 * Cargo.toml files while walking up, so tests can pass their own env.
 */
function candidates({ env = process.env, startDir = __dirname, platform = process.platform } = {}) {
  const explicit = env.PYJAMAZ_LIB_PATH;
  if (explicit) return { explicit: true, paths: [path.resolve(explicit)] };

  const file = libraryFileName(platform);
  const targetDirs = [];
  if (env.CARGO_TARGET_DIR) targetDirs.push(path.resolve(env.CARGO_TARGET_DIR));
  const root = findWorkspaceRoot(startDir);
  if (root) targetDirs.push(path.join(root, 'target'));
  const paths = [];
  for (const dir of targetDirs) {
    for (const profile of ['release', 'debug']) paths.push(path.join(dir, profile, file));
  }
  return { explicit: false, paths: [...new Set(paths)], workspaceFound: root !== null };
}

/** Returns the path of the library to load, or throws LibraryNotFoundError. */
function findLibrary(opts = {}) {
  const exists = opts.exists || ((p) => fs.statSync(p, { throwIfNoEntry: false })?.isFile() === true);
  const found = candidates(opts);
  for (const p of found.paths) if (exists(p)) return p;

  let message;
  if (found.explicit) {
    message = `PYJAMAZ_LIB_PATH points at ${found.paths[0]}, which is not a file`;
  } else {
    const where = found.paths.length ? found.paths.join(', ') : '(no cargo workspace above the binding)';
    message =
      `pyjamaz library not found; tried: ${where}. ` +
      'Build it with `cargo build --release -p pyjamaz` or set PYJAMAZ_LIB_PATH';
  }
  throw new LibraryNotFoundError(message, found.paths);
}

module.exports = { findLibrary, candidates, findWorkspaceRoot, libraryFileName, LibraryNotFoundError };
