#!/usr/bin/env bash
# Billed orders per second and p50/p99 latency of the desk's HTTP API (release build, loopback).
#   bash benches/desk_http.sh            # 20000 orders with 1, 8 and 32 clients
#   DESK_BENCH_ORDERS=5000 DESK_BENCH_CLIENTS=16 bash benches/desk_http.sh
#   DESK_BENCH_STORES=postgres bash benches/desk_http.sh   # one store (default: sqlite,postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orderlake/target}"
cargo bench --locked -p orderlake-desk-http --bench http
