"""Tests that need no native library: discovery order and its error, option
validation, the error-code table (parsed from the C header)."""

import re
from pathlib import Path

import pytest

from pyjamaz._discovery import LibraryNotFoundError, candidates, find_library, find_workspace_root
from pyjamaz._errors import ErrorCode, PyjamazError, code_name
from pyjamaz._options import check_input, to_native_options

WORKSPACE = Path(__file__).resolve().parents[3]
BINDING = WORKSPACE / "bindings" / "python" / "pyjamaz"
LIB = "libpyjamaz.so"


def test_explicit_path_is_the_only_candidate():
    env = {"PYJAMAZ_LIB_PATH": "/opt/x/libpyjamaz.so", "CARGO_TARGET_DIR": "/tmp/ct"}
    assert candidates(env, BINDING, "linux") == (True, ["/opt/x/libpyjamaz.so"])
    with pytest.raises(LibraryNotFoundError, match=r"PYJAMAZ_LIB_PATH.*/opt/x/libpyjamaz\.so"):
        find_library(env, BINDING, "linux", exists=lambda p: False)


def test_workspace_target_release_before_debug():
    assert find_workspace_root(BINDING) == WORKSPACE
    explicit, paths = candidates({}, BINDING, "linux")
    assert not explicit
    assert paths == [
        str(WORKSPACE / "target" / "release" / LIB),
        str(WORKSPACE / "target" / "debug" / LIB),
    ]
    debug = paths[1]
    assert find_library({}, BINDING, "linux", exists=lambda p: p == debug) == debug


def test_cargo_target_dir_first_and_error_names_every_place():
    with pytest.raises(LibraryNotFoundError) as caught:
        find_library({"CARGO_TARGET_DIR": "/tmp/ct"}, BINDING, "linux", exists=lambda p: False)
    expected = [
        f"/tmp/ct/release/{LIB}",
        f"/tmp/ct/debug/{LIB}",
        str(WORKSPACE / "target" / "release" / LIB),
        str(WORKSPACE / "target" / "debug" / LIB),
    ]
    assert caught.value.tried == expected
    for p in expected:
        assert p in str(caught.value)


def test_platform_file_names():
    assert candidates({}, BINDING, "darwin")[1][0].endswith("libpyjamaz.dylib")
    assert candidates({}, BINDING, "win32")[1][0].endswith("pyjamaz.dll")


def test_options_defaults_and_conversion():
    o = to_native_options()
    assert (o.max_bytes, o.max_diff, o.metric, o.formats, o.concurrency) == (0, 0.0, b"ssim", None, 0)
    o = to_native_options(10, 0.01, "none", ["png", "jpeg", "png"], 2)
    assert (o.max_bytes, o.max_diff, o.metric, o.formats, o.concurrency) == (10, 0.01, b"none", b"png,jpeg", 2)
    assert to_native_options(formats=("webp",)).formats == b"webp"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_bytes": "10"},
        {"max_bytes": 1.0},
        {"max_bytes": True},
        {"max_diff": "0.1"},
        {"metric": 1},
        {"formats": "png"},
        {"formats": [1]},
        {"concurrency": 2.0},
    ],
)
def test_wrong_types_are_type_errors(kwargs):
    with pytest.raises(TypeError):
        to_native_options(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_bytes": -1},
        {"max_bytes": 1 << 64},
        {"max_diff": -0.1},
        {"max_diff": float("nan")},
        {"max_diff": float("inf")},
        {"metric": "dssim"},
        {"formats": []},
        {"formats": ["avif"]},
        {"concurrency": -1},
        {"concurrency": 100_000},
    ],
)
def test_out_of_range_values_are_invalid_options(kwargs):
    with pytest.raises(PyjamazError) as caught:
        to_native_options(**kwargs)
    assert caught.value.code == ErrorCode.INVALID_OPTIONS
    assert caught.value.code_name == "INVALID_OPTIONS"


def test_input_checks():
    for bad in ("text", [1, 2], None, 3):
        with pytest.raises(TypeError):
            check_input(bad)
    for empty in (b"", bytearray(), memoryview(b"")):
        with pytest.raises(PyjamazError) as caught:
            check_input(empty)
        assert caught.value.code_name == "EMPTY_INPUT"
    check_input(memoryview(b"x"))


def test_every_code_of_the_header_has_its_name():
    # Parsed from the header itself, so a code added to the C ABI fails here
    # until the binding knows it.
    header = (WORKSPACE / "core" / "include" / "pyjamaz.h").read_text()
    codes = {m[1]: int(m[2]) for m in re.finditer(r"^#define PYJAMAZ_ERR_(\w+) (\d+)", header, re.M)}
    assert len(codes) >= 9
    assert {e.name: e.value for e in ErrorCode} == codes
    for name, code in codes.items():
        err = PyjamazError(code, "m")
        assert (err.code, err.code_name) == (code, name)
        assert isinstance(err, Exception)
    assert code_name(42) == "UNKNOWN_ERROR"
