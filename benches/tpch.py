#!/usr/bin/env python3
"""TPC-H as a dbt project (benches/tpch/: staging views over the parquet files, a wide fact table,
TPC-H queries and aggregates as tables), built by orderlake and by dbt-duckdb in turn, and the
same compiled SQL run by DuckDB alone. Prints each time and the ratios; checks that every mart
has the same rows in orderlake and in dbt-duckdb.

    python3 benches/tpch.py [--scale 1] [--runs 3] [--bin path/to/orderlake]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402  (re-runs this script in the dbt-duckdb venv, which has duckdb)
import duckdb  # noqa: E402

ROOT = compat.ROOT
PROJECT = os.path.join(ROOT, "benches", "tpch")


def data_dir(scale, dbt_dir):
    out = os.path.join(os.path.expanduser("~/.cache/orderlake/tpch"), f"sf{scale}")
    if not os.path.exists(os.path.join(out, "lineitem.parquet")):
        print(f"== generating TPC-H SF{scale} parquet into {out}")
        subprocess.run([os.path.join(dbt_dir, "tpchgen-cli"), "parquet", "-s", str(scale),
                        f"--output-dir={out}"], check=True)
    return out


def copy_project(dest, data):
    shutil.copytree(PROJECT, dest)
    path = os.path.join(dest, "models", "sources.yml")
    text = open(path).read().replace("__TPCH_DATA__", data)
    open(path, "w").write(text)


def timed(cmd, cwd):
    started = time.time()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.time() - started
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return elapsed


def duckdb_alone(manifest_path, db_path):
    """The models' compiled SQL, in dependency order, as DuckDB statements (no dbt)."""
    manifest = json.load(open(manifest_path))
    models = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    done, order = set(), []

    def visit(uid):
        if uid in done or uid not in models:
            return
        done.add(uid)
        for parent in models[uid]["depends_on"]["nodes"]:
            visit(parent)
        order.append(models[uid])

    for uid in sorted(models):
        visit(uid)
    con = duckdb.connect(db_path)
    started = time.time()
    for node in order:
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        con.execute(f'create or replace {kind} "main"."{node["alias"]}" as ({node["compiled_code"]})')
    elapsed = time.time() - started
    con.close()
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="1")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin")
    args = parser.parse_args()
    binary = compat.orderlake_bin(args.bin)
    dbt_dir = compat.dbt_bin_dir()
    data = data_dir(args.scale, dbt_dir)
    work = tempfile.mkdtemp(prefix="tpch-bench-")
    ol, dd = os.path.join(work, "orderlake"), os.path.join(work, "dbt")
    copy_project(ol, data)
    copy_project(dd, data)
    db = os.path.join(dd, "tpch.duckdb")
    with open(os.path.join(dd, "profiles.yml"), "w") as f:
        f.write("tpch:\n  target: dev\n  outputs:\n    dev: " +
                json.dumps({"type": "duckdb", "path": db, "threads": 2}) + "\n")
    times = {"orderlake": [], "dbt-duckdb": [], "duckdb alone": []}
    for run in range(args.runs):
        shutil.rmtree(os.path.join(ol, "warehouse"), ignore_errors=True)
        times["orderlake"].append(timed([binary, "build"], ol))
        for suffix in ("", ".wal"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        times["dbt-duckdb"].append(timed([os.path.join(dbt_dir, "dbt"), "build", "--profiles-dir", dd], dd))
        # Same database name as dbt's (compiled SQL names "tpch"."main"."x").
        alone = os.path.join(work, f"alone{run}")
        os.makedirs(alone)
        times["duckdb alone"].append(
            duckdb_alone(os.path.join(dd, "target", "manifest.json"), os.path.join(alone, "tpch.duckdb")))
        shutil.rmtree(alone)
        print(f"   run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)

    # The same answers: every mart row by row, the wide fact table by count and sum.
    con = duckdb.connect(db, read_only=True)
    manifest = json.load(open(os.path.join(ol, "target", "manifest.json")))
    failed = 0
    for node in sorted(manifest["nodes"].values(), key=lambda n: n["name"]):
        if node["resource_type"] != "model" or node["config"].get("materialized") != "table":
            continue
        name = node["alias"]
        q = (f'select count(*) as n, sum(net_revenue) as s from "main"."{name}"'
             if name == "fct_order_lines" else f'select * from "main"."{name}"')
        out = subprocess.run([binary, "sql", "--format", "json", q], cwd=ol, capture_output=True,
                             text=True, check=True)
        ours = json.loads(out.stdout or "[]")
        cur = con.execute(q)
        cols = [d[0] for d in cur.description]
        theirs = cur.fetchall()
        same = compat.same_rows(cols, [[r.get(c) for c in cols] for r in ours], theirs)
        failed += not same
        print(f"   {'ok  ' if same else 'DIFF'} {name}: {len(theirs)} rows")
    con.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"== TPC-H SF{args.scale}, median of {args.runs}: orderlake {med['orderlake']:.2f} s, "
          f"dbt-duckdb {med['dbt-duckdb']:.2f} s, DuckDB alone {med['duckdb alone']:.2f} s")
    print(f"   dbt-duckdb / orderlake = {med['dbt-duckdb'] / med['orderlake']:.2f}x; "
          f"DuckDB alone / orderlake = {med['duckdb alone'] / med['orderlake']:.2f}x")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
