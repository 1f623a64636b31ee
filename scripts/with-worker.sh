#!/usr/bin/env bash
# Run a command with the demo's Celery worker and beat beside it, for `make run`.
#
# The broker is kombu's filesystem transport (CELERY_BROKER_URL=filesystem://localhost//,
# folders under .celery/): no Redis needed, and the worker runs the tasks and beat schedule of
# production (usage rollups every 30 s, Stripe reconcile, renewals, retries). The worker and beat
# stop when the command ends (Ctrl-C included); tasks still queued wait in .celery/ for the next start.
set -euo pipefail
cd "$(dirname "$0")/.."
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-filesystem://localhost//}"
DIR="${CELERY_DIR:-.celery}"  # the worker's log and beat's schedule file
mkdir -p "$DIR"
.venv/bin/python -m celery -A kilo_dashboard worker --beat \
  --schedule "$DIR/beat-schedule" --pool threads --concurrency 2 \
  --without-heartbeat --without-gossip --without-mingle --loglevel INFO \
  >"$DIR/worker.log" 2>&1 &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM
echo ">> Celery worker and beat running (log: $DIR/worker.log)"
"$@"
