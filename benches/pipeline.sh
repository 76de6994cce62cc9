#!/usr/bin/env bash
# Time and peak memory of generate + ingest + build of the OMS lakehouse (release build).
# Usage: bash benches/pipeline.sh [scale in millions of order lines, default 1]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orderlake/target}"
cargo build --release -p orderlake --locked -q
bin="$CARGO_TARGET_DIR/release/orderlake"
scale="${1:-1}"
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work/project"
cp -r projects/oms/. "$work/project/"
measure() { /usr/bin/time -f "%e s wall, %M KB peak RSS" "$@" 2>&1 | tail -2; }
echo "== generate --scale $scale"; measure "$bin" generate --out "$work/landing" --scale "$scale" --messy 0.01
as_of="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["as_of_date"])' "$work/landing/_generated.json")"
echo "== ingest";   measure "$bin" --project-dir "$work/project" ingest --landing "$work/landing"
echo "== build";    measure "$bin" --project-dir "$work/project" build --vars "{as_of_date: '$as_of'}"
du -sh "$work/landing" "$work/project/warehouse"
[ -n "${WORK:-}" ] || rm -rf "$work"
