#!/usr/bin/env bash
# Run a command with localstripe (a local fake Stripe) beside it, for `make run`.
#
# Starts localstripe on $LOCALSTRIPE_PORT (8420) unless one already listens there, keeps its
# state in .localstripe/ (so the demo's customers survive a restart), registers the dashboard's
# webhook URL with it, runs the command, and stops the localstripe it started when the command
# ends (Ctrl-C included).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${LOCALSTRIPE_PORT:-8420}"
DASHBOARD_URL="${DASHBOARD_URL:-http://127.0.0.1:8000}"
SECRET="${STRIPE_WEBHOOK_SECRET:-whsec_localstripe_demo_secret}"
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid=""
if ! port_open "$PORT"; then
  mkdir -p .localstripe
  .venv/bin/python scripts/localstripe_server.py --port "$PORT" --store .localstripe/state.pickle \
    >.localstripe/server.log 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT INT TERM
  for _ in $(seq 1 100); do port_open "$PORT" && break; sleep 0.1; done
  port_open "$PORT" || { echo "localstripe did not start; see .localstripe/server.log" >&2; exit 1; }
  echo ">> localstripe (fake Stripe) on http://127.0.0.1:$PORT"
fi
# Webhook registrations live in localstripe's memory only: register at every start.
.venv/bin/python - "$PORT" "$DASHBOARD_URL/stripe/webhook/" "$SECRET" <<'PY'
import sys, urllib.parse, urllib.request
port, url, secret = sys.argv[1:]
data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
urllib.request.urlopen(f"http://127.0.0.1:{port}/_config/webhooks/dashboard", data, timeout=10)
PY
export STRIPE_API_BASE="http://127.0.0.1:$PORT" STRIPE_WEBHOOK_SECRET="$SECRET"
"$@"
