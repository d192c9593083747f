"""Pillow's side of scripts/bench-jpeg.sh: prepares the input photographs and
times Pillow (libjpeg-turbo) on the same work as Pyjamaz's jpeg_bench.

    prepare WHEEL_DIR DIR   real photographs from package wheels -> DIR/in/*.jpg
    time DIR REPS           decode + one q85 re-encode, REPS times per image;
                            appends "name<TAB>decode ms<TAB>total ms<TAB>
                            decode CPU ms<TAB>total CPU ms" per repetition
                            to DIR/pillow-times.tsv, writes
                            DIR/out/NAME.pillow.jpg

Timing is in-process with time.perf_counter, around exactly what the engine's
side times: the decode of the input bytes and one encode at quality 85 into
memory (Pillow's defaults otherwise: 4:2:0, standard Huffman tables). The
thread's CPU time (time.thread_time) is recorded too: on a loaded machine
wall time is mostly waiting for a core.
"""

import io
import sys
import time
import zipfile
from pathlib import Path

from PIL import Image

QUALITY = 85

# (name, wheel member, how the input JPEG is made). Photographs only: the
# wheels' drawings, scans and synthetic images are left out on purpose.
SOURCES = [
    ("astronaut", "skimage/data/astronaut.png", "q95"),
    ("coffee", "skimage/data/coffee.png", "q95"),
    ("chelsea", "skimage/data/chelsea.png", "q95"),
    ("motorcycle", "skimage/data/motorcycle_left.png", "q95"),
    ("rocket", "skimage/data/rocket.jpg", "as-is"),
    ("hubble", "skimage/data/hubble_deep_field.jpg", "as-is"),
    ("retina", "skimage/data/retina.jpg", "as-is"),
    ("grace_hopper", "matplotlib/mpl-data/sample_data/grace_hopper.jpg", "as-is"),
    # The pressure suites feed 1 MB+ images: larger inputs made from the
    # photographs, tiled (keeps real photographic detail per pixel; 3x3 of
    # the motorcycle is a 3.3 MP, 1.5 MB JPEG) or upscaled 2x with Lanczos
    # (smoother, like a downscaled camera shot).
    ("motorcycle_2x2", "skimage/data/motorcycle_left.png", "tile2"),
    ("motorcycle_3x3", "skimage/data/motorcycle_left.png", "tile3"),
    ("astronaut_up2", "skimage/data/astronaut.png", "up2"),
]


def member(wheels, name):
    for wheel in sorted(Path(wheels).glob("*.whl")):
        with zipfile.ZipFile(wheel) as z:
            if name in z.namelist():
                return z.read(name)
    raise SystemExit(f"{name} is in none of the wheels in {wheels}")


def prepare(wheels, out_dir):
    inputs = Path(out_dir) / "in"
    inputs.mkdir(parents=True, exist_ok=True)
    for name, path, how in SOURCES:
        data = member(wheels, path)
        target = inputs / f"{name}.jpg"
        if how == "as-is":
            target.write_bytes(data)
            continue
        img = Image.open(io.BytesIO(data)).convert("RGB")
        if how.startswith("tile"):
            n = int(how[len("tile") :])
            tiled = Image.new("RGB", (img.width * n, img.height * n))
            for i in range(n):
                for j in range(n):
                    tiled.paste(img, (i * img.width, j * img.height))
            img = tiled
        elif how == "up2":
            img = img.resize((img.width * 2, img.height * 2), Image.LANCZOS)
        # A camera-like input: high quality, 4:2:0.
        img.save(target, "JPEG", quality=95)


def time_pillow(out_dir, reps):
    base = Path(out_dir)
    (base / "out").mkdir(exist_ok=True)
    with open(base / "pillow-times.tsv", "a") as times:
        for path in sorted((base / "in").glob("*.jpg")):
            data = path.read_bytes()
            out = b""
            for _ in range(reps):
                start, cpu_start = time.perf_counter(), time.thread_time()
                img = Image.open(io.BytesIO(data))
                img.load()
                decoded, cpu_decoded = time.perf_counter(), time.thread_time()
                buf = io.BytesIO()
                img.save(buf, "JPEG", quality=QUALITY)
                out = buf.getvalue()
                end, cpu_end = time.perf_counter(), time.thread_time()
                ms = [
                    (decoded - start) * 1e3,
                    (end - start) * 1e3,
                    (cpu_decoded - cpu_start) * 1e3,
                    (cpu_end - cpu_start) * 1e3,
                ]
                times.write("\t".join([path.stem] + [f"{v:.4f}" for v in ms]) + "\n")
            (base / "out" / f"{path.stem}.pillow.jpg").write_bytes(out)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "time":
        time_pillow(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
