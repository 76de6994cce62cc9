#!/usr/bin/env python3
"""Compatibility suite: build each project in benches/compat/ with orderlake and with dbt-duckdb,
then compare every model's rows (as multisets; numbers to 6 places, timestamps and dates by
value). Prints one line per model and a closing 'N passed, M failed'; exits non-zero on any
difference or failed build.

    python3 benches/compat.py [--bin path/to/orderlake] [project ...]

Without --bin the release binary is built first. dbt-duckdb is installed into its own venv by
scripts/install-dbt-duckdb.sh (the script re-runs itself with that venv's Python, which has
duckdb).
"""
import argparse
import collections
import datetime
import decimal
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPAT = os.path.join(ROOT, "benches", "compat")


def dbt_bin_dir():
    out = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "install-dbt-duckdb.sh")],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip().splitlines()[-1]


try:
    import duckdb  # noqa: F401
except ImportError:
    venv_python = os.path.join(dbt_bin_dir(), "python")
    os.execv(venv_python, [venv_python, os.path.abspath(sys.argv[0]), *sys.argv[1:]])
import duckdb  # noqa: E402


def orderlake_bin(given):
    if given:
        return os.path.abspath(given)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/orderlake/target"))
    subprocess.run(["cargo", "build", "--release", "-p", "orderlake", "--locked", "-q"],
                   cwd=ROOT, check=True, env={**os.environ, "CARGO_TARGET_DIR": target})
    return os.path.join(target, "release", "orderlake")


def norm(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float, decimal.Decimal)):
        return float(v)
    if isinstance(v, datetime.datetime):
        v = v.replace(tzinfo=None)
        if v.time() == datetime.time(0, 0):
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, str):
        text = v.replace("T", " ").rstrip("Z")
        for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
            try:
                return norm(datetime.datetime.strptime(text, fmt))
            except ValueError:
                pass
        return v
    if isinstance(v, (list, tuple)):
        return tuple(norm(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, norm(x)) for k, x in v.items()))
    return str(v)


def rows_to_counter(columns, rows):
    order = sorted(range(len(columns)), key=lambda i: columns[i])
    return collections.Counter(tuple(norm(r[i]) for i in order) for r in rows)


def close(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


def sort_key(row):
    # Floats rounded coarsely only to put rows in the same order; `close` compares them.
    return tuple((0, "") if v is None else (1, round(v, 3)) if isinstance(v, float)
                 else (2, str(v)) for v in row)


def same_rows(columns, ours, theirs):
    """Equal as multisets: numbers within 1e-6 (relative or absolute), e.g. an average that one
    engine keeps as a decimal to 6 places and the other as a double."""
    a = sorted(rows_to_counter(columns, ours).elements(), key=sort_key)
    b = sorted(rows_to_counter(columns, theirs).elements(), key=sort_key)
    return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))


def run(cmd, cwd):
    started = time.time()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return out, time.time() - started


def project_dir(name):
    for base in (COMPAT, os.path.join(ROOT, "examples")):
        if os.path.exists(os.path.join(base, name, "dbt_project.yml")):
            return os.path.join(base, name)
    raise SystemExit(f"no project named {name} in benches/compat/ or examples/")


def profile_name(source):
    for line in open(os.path.join(source, "dbt_project.yml")):
        if line.startswith("profile:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    return "default"


def check_project(name, binary, dbt_dir):
    source = project_dir(name)
    work = tempfile.mkdtemp(prefix=f"compat-{name}-")
    ol, dd = os.path.join(work, "orderlake"), os.path.join(work, "dbt")
    skip = shutil.ignore_patterns("target", "warehouse", "logs", "profiles.yml", "*.duckdb")
    shutil.copytree(source, ol, ignore=skip)
    shutil.copytree(source, dd, ignore=skip)
    with open(os.path.join(dd, "profiles.yml"), "w") as f:
        profile = json.dumps({"type": "duckdb", "path": os.path.join(dd, "shop.duckdb"), "threads": 2})
        f.write(f"{profile_name(source)}:\n  target: dev\n  outputs:\n    dev: {profile}\n")
    ol_out, ol_time = run([binary, "build"], ol)
    dd_out, dd_time = run([os.path.join(dbt_dir, "dbt"), "build", "--profiles-dir", dd], dd)
    print(f"== {name}: orderlake build {ol_time:.2f} s (exit {ol_out.returncode}), "
          f"dbt-duckdb build {dd_time:.2f} s (exit {dd_out.returncode})")
    passed = failed = 0
    if ol_out.returncode != 0 or dd_out.returncode != 0:
        for label, out in (("orderlake", ol_out), ("dbt-duckdb", dd_out)):
            if out.returncode != 0:
                print(f"   {label} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        failed += 1
    manifest = json.load(open(os.path.join(ol, "target", "manifest.json")))
    con = duckdb.connect(os.path.join(dd, "shop.duckdb"), read_only=True)
    for node in sorted(manifest["nodes"].values(), key=lambda n: n["name"]):
        if node["resource_type"] != "model" or not node.get("relation_name"):
            continue
        schema, alias = node["schema"], node["alias"]
        q = f'select * from "{schema}"."{alias}"'
        out = subprocess.run([binary, "sql", "--format", "json", q], cwd=ol,
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"   FAIL {node['name']}: orderlake cannot read it: {out.stderr.strip()}")
            failed += 1
            continue
        ol_rows = json.loads(out.stdout or "[]")
        try:
            cur = con.execute(q)
        except duckdb.Error as e:
            print(f"   FAIL {node['name']}: dbt-duckdb has no such relation: {e}")
            failed += 1
            continue
        dd_columns = [d[0] for d in cur.description]
        dd_rows = cur.fetchall()
        ol_columns = list(ol_rows[0].keys()) if ol_rows else dd_columns
        if sorted(ol_columns) != sorted(dd_columns):
            print(f"   FAIL {node['name']}: columns differ: orderlake {ol_columns}, dbt-duckdb {dd_columns}")
            failed += 1
            continue
        ours_rows = [[r.get(c) for c in dd_columns] for r in ol_rows]
        if same_rows(dd_columns, ours_rows, dd_rows):
            print(f"   ok   {node['name']}: {len(dd_rows)} rows equal")
            passed += 1
        else:
            ours = rows_to_counter(dd_columns, ours_rows)
            theirs = rows_to_counter(dd_columns, dd_rows)
            print(f"   FAIL {node['name']}: rows differ")
            print(f"        only in orderlake:  {list((ours - theirs).elements())[:5]}")
            print(f"        only in dbt-duckdb: {list((theirs - ours).elements())[:5]}")
            failed += 1
    con.close()
    shutil.rmtree(work, ignore_errors=True)
    return passed, failed, ol_time, dd_time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin")
    parser.add_argument("projects", nargs="*")
    args = parser.parse_args()
    binary = orderlake_bin(args.bin)
    dbt_dir = dbt_bin_dir()
    projects = args.projects or sorted(
        d for d in os.listdir(COMPAT) if os.path.exists(os.path.join(COMPAT, d, "dbt_project.yml"))
    ) + ["jaffle_shop"]
    total_passed = total_failed = 0
    for name in projects:
        passed, failed, ol_time, dd_time = check_project(name, binary, dbt_dir)
        total_passed += passed
        total_failed += failed
        print(f"   build time: orderlake {ol_time:.2f} s, dbt-duckdb {dd_time:.2f} s "
              f"({dd_time / max(ol_time, 1e-9):.1f}x)")
    print(f"{total_passed} passed, {total_failed} failed")
    sys.exit(1 if total_failed else 0)


if __name__ == "__main__":
    main()
