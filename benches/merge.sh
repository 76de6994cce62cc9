#!/usr/bin/env bash
# Peak memory of MERGE: 1 M rows into a 10 M-row Delta table (release build).
# Usage: bash benches/merge.sh [target_rows] [batch_rows]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orderlake/target}"
cargo build --release -p orderlake --locked -q
bin="$CARGO_TARGET_DIR/release/orderlake"
work="$(mktemp -d)"
cp -r benches/merge "$work/project"
vars="{target_rows: ${1:-10000000}, batch_rows: ${2:-1000000}}"
measure() { /usr/bin/time -f "%e s wall, %M KB peak RSS" "$bin" --project-dir "$work/project" "$@" 2>&1 | tail -3; }
echo "== create the target table"; measure run --vars "$vars"
echo "== merge the batch";         measure run --vars "$vars"
"$bin" --project-dir "$work/project" sql "select version, count(*) as rows from main.big group by version order by version"
rm -rf "$work"
