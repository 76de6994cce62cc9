#!/usr/bin/env bash
# Installs dbt-duckdb (dbt-core + DuckDB) and tpchgen-cli (TPC-H data) into their own venv, for
# the benchmarks and the compatibility suite that run the same project with dbt-duckdb and
# compare. dbt-core 1.10+ fetches a parser wheel from outside the package registry at install
# time, so 1.9 is pinned.
# Prints the venv's bin folder on its last line.
set -euo pipefail
VENV="${ORDERLAKE_DBT_DUCKDB:-$HOME/.cache/orderlake/dbt-duckdb}"
if ! "$VENV/bin/dbt" --version >/dev/null 2>&1 || ! [ -x "$VENV/bin/tpchgen-cli" ]; then
  echo "== python venv $VENV: dbt-duckdb" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "dbt-core==1.9.8" "dbt-duckdb==1.9.4" "duckdb==1.4.4" "tpchgen-cli==4.0.0" >&2
fi
echo "$VENV/bin"
