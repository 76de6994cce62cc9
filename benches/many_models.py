#!/usr/bin/env python3
"""A synthetic project of N models (default 10,000) in the shape of a large real one: staging
models over seeds, each later model ref'ing one to three earlier ones, configs in SQL and YAML,
a macro call in every tenth model, two generic tests per model in properties files. Times
`orderlake ls` and `orderlake compile` (best of 3) with a full parse and with the parse cache
of an unchanged project, and the cached load alone.

    python3 benches/many_models.py [--models 10000] [--bin path/to/orderlake] [--dbt]

--dbt also times `dbt parse` (dbt-duckdb venv; minutes at 10,000 models).
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def write_project(root, n):
    rng = random.Random(7)
    os.makedirs(os.path.join(root, "seeds"))
    os.makedirs(os.path.join(root, "macros"))
    with open(os.path.join(root, "dbt_project.yml"), "w") as f:
        f.write("name: many\nversion: '1.0'\nconfig-version: 2\nprofile: many\n"
                "models:\n  many:\n    +materialized: view\n    marts:\n      +materialized: table\n")
    with open(os.path.join(root, "seeds", "raw_events.csv"), "w") as f:
        f.write("id,kind,amount\n1,a,10\n2,b,20\n")
    with open(os.path.join(root, "macros", "money.sql"), "w") as f:
        f.write("{% macro cents(col) %}({{ col }} / 100.0){% endmacro %}\n")
    for i in range(n):
        folder = "staging" if i < n // 10 else ("intermediate" if i < n // 2 else "marts")
        group = f"{folder}/g{i // 500:03d}"
        os.makedirs(os.path.join(root, "models", group), exist_ok=True)
        name = f"m{i:05d}"
        if i < n // 10:
            body = "select id, kind, amount from {{ ref('raw_events') }}"
        else:
            parents = sorted({f"m{rng.randrange(0, i):05d}" for _ in range(rng.randint(1, 3))})
            selects = "\nunion all\n".join(
                f"select id, kind, amount from {{{{ ref('{p}') }}}}" for p in parents)
            body = f"select id, kind, sum(amount) as amount from (\n{selects}\n) u group by id, kind"
        if i % 10 == 0:
            body = body.replace("select id, kind, amount", "select id, kind, {{ cents('amount') }} as amount", 1)
        config = "{{ config(tags=['t%d']) }}\n" % (i % 7)
        with open(os.path.join(root, "models", group, f"{name}.sql"), "w") as f:
            f.write(config + body + "\n")
        yml = os.path.join(root, "models", group, "_models.yml")
        new = not os.path.exists(yml)
        with open(yml, "a") as f:
            if new:
                f.write("version: 2\nmodels:\n")
            f.write(f"  - name: {name}\n    description: model {i}\n    columns:\n"
                    f"      - name: id\n        tests: [not_null]\n"
                    f"      - name: kind\n        tests:\n          - accepted_values:\n"
                    f"              values: [a, b]\n")


def best_of(cmd, cwd, runs=3):
    times = []
    for _ in range(runs):
        started = time.time()
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
        times.append(time.time() - started)
    return min(times)


def load_ms(binary, work):
    """The load's own time, from its debug log: what `ls` spends before it lists."""
    env = dict(os.environ, ORDERLAKE_LOG="orderlake_project=debug", NO_COLOR="1")
    best = None
    for _ in range(5):
        out = subprocess.run([binary, 'ls'], cwd=work, capture_output=True, text=True, env=env)
        for line in out.stderr.splitlines():
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
            if "parse cache hit" in line:
                ms = int(re.search(r"ms=(\d+)", line).group(1))
                best = ms if best is None else min(best, ms)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=10000)
    parser.add_argument("--bin")
    parser.add_argument("--dbt", action="store_true")
    args = parser.parse_args()
    import compat  # re-runs in the dbt-duckdb venv only when --dbt needs it below
    binary = compat.orderlake_bin(args.bin)
    work = tempfile.mkdtemp(prefix="many-models-")
    write_project(work, args.models)
    print(f"== {args.models} models")
    no_cache = [binary, '--no-partial-parse']
    print(f"   orderlake ls, full parse:        {best_of(no_cache + ['ls'], work):.2f} s")
    print(f"   orderlake compile, full parse:   {best_of(no_cache + ['compile'], work):.2f} s")
    # The first run writes target/partial_parse.msgpack; the timed ones read it.
    subprocess.run([binary, 'ls'], cwd=work, capture_output=True, check=True)
    print(f"   orderlake ls, unchanged project: {best_of([binary, 'ls'], work):.2f} s")
    print(f"   orderlake compile, unchanged:    {best_of([binary, 'compile'], work):.2f} s")
    print(f"   parse of the unchanged project (load only): {load_ms(binary, work)} ms")
    if args.dbt:
        dbt = os.path.join(compat.dbt_bin_dir(), "dbt")
        with open(os.path.join(work, "profiles.yml"), "w") as f:
            f.write(f"many:\n  target: dev\n  outputs:\n    dev: {{type: duckdb, path: {work}/x.duckdb}}\n")
        print(f"   dbt parse (no partial parsing): "
              f"{best_of([dbt, 'parse', '--no-partial-parse', '--profiles-dir', work], work, 1):.2f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
