#!/usr/bin/env python3
"""The README's detection-floor table from the floors JSON of scripts/floors.sh
(docs/floors/PROFILE/PART.json, `memtest floor --json`), and the check that a
fresh search agrees with them within 2x.

  floors.py table [--write README | --check README]
  floors.py compare FRESH_DIR SAVED_DIR PROFILE PART...
  floors.py selftest
"""
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FLOORS = os.path.join(ROOT, "docs", "floors")
PROFILES = ("default", "ci")
# project -> (parts with the library heap's leak, parts with malloc's)
PROJECTS = (
    ("pyjamaz", ("fast", "rest", "concurrency", "fuzz", "corpus"),
     ("fast-c", "rest-c", "concurrency-c", "fuzz-c", "corpus-c")),
    ("c-library", ("c-library",), ("c-library-c",)),
    ("zig-library", ("zig-library",), ("zig-library-c",)),
)
BEGIN = "<!-- floors:begin (scripts/floors.sh table --write) -->"
END = "<!-- floors:end -->"


def read(root, profile, part):
    path = os.path.join(root, profile, part + ".json")
    if not os.path.exists(path):
        return {}
    return json.load(open(path))["suites"]


def size(n):
    for unit, f in (("MB", 1e6), ("KB", 1e3)):
        if n >= f:
            return f"{n / f:.1f} {unit}"
    return f"{n} B"


def cell(f):
    """(floor, caught by) of one suite's search; None: not measured."""
    if f is None:
        return "not measured", ""
    r = f["result"]
    every = f" (1 call in {f['every']})" if f["every"] > 1 else ""
    if r == "floor":
        at = "<= " if f.get("missed_bytes_per_call") is None else ""
        run = f", {size(f['bytes_per_run'])}/run" if f.get("bytes_per_run") else ""
        return f"{at}{size(f['bytes_per_call'])}{every}{run}", ", ".join(f["caught_by"])
    if r == "blind":
        return f"none up to {size(f['missed_bytes_per_call'])}{every}", ""
    if r == "clean_failed":
        return "clean run failed", ", ".join(f["reasons"])
    if r == "interrupted":
        return "not measured (search stopped)", ""
    return r.replace("_", " "), ""


def table(root=FLOORS):
    rows = [
        "| project | suite | profile | floor per call, library heap | caught by "
        "| floor per call, malloc (RSS only) | caught by |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for project, own, c in PROJECTS:
        lib = {p: {k: v for part in own for k, v in read(root, p, part).items()} for p in PROFILES}
        rss = {p: {k: v for part in c for k, v in read(root, p, part).items()} for p in PROFILES}
        suites = sorted({s for p in PROFILES for s in list(lib[p]) + list(rss[p])})
        for suite in suites:
            for p in PROFILES:
                a, a_by = cell(lib[p].get(suite))
                b, b_by = cell(rss[p].get(suite))
                rows.append(f"| {project} | {suite} | {p} | {a} | {a_by} | {b} | {b_by} |")
    return "\n".join(rows) + "\n"


def readme_table(path):
    text = open(path).read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{path}: no floors table markers ({BEGIN} ... {END})")
    head, rest = text.split(BEGIN, 1)
    inside, tail = rest.split(END, 1)
    return head, inside.strip("\n") + "\n", tail


def within_2x(fresh, saved):
    """Whether two searches of one suite agree: both floors within a factor
    of 2 of each other, or both blind."""
    if fresh["result"] != saved["result"]:
        return False
    if fresh["result"] == "blind":
        return True
    if fresh["result"] != "floor":
        return False
    a, b = fresh["bytes_per_call"], saved["bytes_per_call"]
    return max(a, b) <= 2 * min(a, b)


def compare(fresh_root, saved_root, profile, parts):
    bad = 0
    for part in parts:
        fresh = read(fresh_root, profile, part)
        saved = read(saved_root, profile, part)
        if not fresh:
            print(f"{profile} {part}: the fresh search left no floors")
            bad += 1
        for suite, f in sorted(fresh.items()):
            s = saved.get(suite)
            got = cell(f)[0]
            if s is None:
                print(f"DIFFERS {profile} {part} {suite}: {got} now, none in {saved_root}")
                bad += 1
            elif within_2x(f, s):
                print(f"ok      {profile} {part} {suite}: {got} now, {cell(s)[0]} in the table")
            else:
                print(f"DIFFERS {profile} {part} {suite}: {got} now, {cell(s)[0]} in the table")
                bad += 1
    print(f"{bad} floor(s) differ by more than 2x" if bad else "every floor within 2x of the table")
    return 1 if bad else 0


def selftest():
    """The 2x rule and the cells on planted searches (scripts/test.sh)."""
    def floor(b, missed=None, every=1):
        return {"result": "floor", "bytes_per_call": b, "missed_bytes_per_call": missed,
                "caught_by": ["rss_growth"], "every": every, "bytes_per_run": None}
    blind = {"result": "blind", "missed_bytes_per_call": 1 << 26, "every": 1}
    stopped = {"result": "interrupted", "every": 1}
    table = [
        (floor(512, 304), floor(304, 181), True),
        (floor(1024, 512), floor(512, 304), True),
        (floor(2435, 1448), floor(6889, 4096), False),
        (floor(1), floor(1), True),
        (blind, blind, True),
        (blind, floor(1 << 26), False),
        (stopped, floor(1), False),
    ]
    for fresh, saved, want in table:
        assert within_2x(fresh, saved) == want and within_2x(saved, fresh) == want, (fresh, saved)
    assert cell(floor(1)) == ("<= 1 B", "rss_growth")
    assert cell(floor(861, 512, every=1000)) == ("861 B (1 call in 1000)", "rss_growth")
    assert cell(blind) == ("none up to 67.1 MB", "")
    assert cell(None) == ("not measured", "")
    assert cell(stopped)[0] == "not measured (search stopped)"
    print("floors.py: the 2x rule and the table's cells hold")
    return 0


def main(argv):
    if argv[:1] == ["selftest"]:
        return selftest()
    if argv[:1] == ["table"]:
        rendered = table()
        if argv[1:2] == ["--write"]:
            head, _, tail = readme_table(argv[2])
            open(argv[2], "w").write(f"{head}{BEGIN}\n{rendered}{END}{tail}")
            return 0
        if argv[1:2] == ["--check"]:
            _, inside, _ = readme_table(argv[2])
            if inside != rendered:
                print(f"{argv[2]}'s floor table is not the one docs/floors/ makes: "
                      "scripts/floors.sh table --write")
                return 1
            print(f"{argv[2]}'s floor table is docs/floors/'s")
            return 0
        sys.stdout.write(rendered)
        return 0
    if argv[:1] == ["compare"] and len(argv) >= 5:
        return compare(argv[1], argv[2], argv[3], argv[4:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
