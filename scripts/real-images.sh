#!/usr/bin/env bash
# Real-world images for corpus mode: the sample images scikit-image ships in
# its wheel (skimage/data: 27 photographs, scans and drawings; PNG, JPEG and
# an animated GIF; grey, RGB, RGBA, 8 and 16 bits), fetched from PyPI by pip
# (the wheel only: no dependencies, nothing installed) and unpacked into
# .memtest/corpus-skimage. Prints the folder; then e.g.
#   cargo run -p runner -- run --tag corpus --exclude-tag canary --corpus .memtest/corpus-skimage
# Exits 0 with a note when pip cannot fetch the wheel (offline).
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.26.0
dest=.memtest/corpus-skimage
wheels=.memtest/wheels
if [ -z "$(ls "$dest" 2>/dev/null)" ]; then
  mkdir -p "$wheels" "$dest"
  if ! python3 -m pip download --quiet --no-deps --only-binary=:all: \
      -d "$wheels" "scikit-image==$version" >&2; then
    echo "skipped: pip could not fetch scikit-image $version" >&2
    rmdir "$dest" 2>/dev/null || true
    exit 0
  fi
  python3 - "$wheels" "$dest" "$version" <<'PY'
import pathlib, sys, zipfile
wheels, dest, version = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
wheel = next(wheels.glob(f"scikit_image-{version}-*.whl"))
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("skimage/data/") and name.rsplit(".", 1)[-1].lower() in ("png", "jpg", "jpeg", "gif", "webp"):
            (dest / name.rsplit("/", 1)[-1]).write_bytes(z.read(name))
PY
fi
echo "$dest"
