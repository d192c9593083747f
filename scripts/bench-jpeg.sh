#!/usr/bin/env bash
# The JPEG path against Pillow (libjpeg-turbo) on real photographs, in one run.
# Reproduce: scripts/bench-jpeg.sh [ROUNDS] [REPS]   (defaults 5 and 5)
#
# Per image, both sides do the same single-threaded work: decode the input
# JPEG and re-encode it once at quality 85. The photographs come from package
# wheels on PyPI (scikit-image's and matplotlib's sample data), plus two ~2 MP
# inputs made from them; nothing big is committed. Rounds alternate Pillow and
# Pyjamaz so machine drift hits both; medians are over all ROUNDS x REPS
# timings. SSIM (the engine's, luma, vs the decoded input) is computed on both
# outputs by the same code. Prints the markdown table of docs/benchmarks/jpeg.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
reps=${2:-5}
venv=.memtest/bench-venv
work=.memtest/bench-jpeg

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q 'pillow>=11'
py="$venv/bin/python"

mkdir -p "$work/wheels"
if ! ls "$work"/wheels/scikit_image-*.whl >/dev/null 2>&1; then
  "$venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$work/wheels" \
    scikit-image==0.26.0 matplotlib==3.11.2
fi
rm -rf "$work/in" "$work/out" "$work"/*-times.tsv
"$py" scripts/bench_jpeg_pillow.py prepare "$work/wheels" "$work"

cargo build --release -q -p pyjamaz --example jpeg_bench
bench=target/release/examples/jpeg_bench

"$py" -c 'import PIL, PIL.features as f; print("Pillow", PIL.__version__, "libjpeg-turbo", f.version_feature("libjpeg_turbo"))'
echo "rounds $rounds x reps $reps per image and side"
for _ in $(seq "$rounds"); do
  "$py" scripts/bench_jpeg_pillow.py time "$work" "$reps"
  "$bench" time "$work" "$reps"
done
"$bench" report "$work"
