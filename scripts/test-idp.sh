#!/usr/bin/env bash
# The SSO tests sign in through a real OpenID provider (node-oidc-provider, tests/idp/oidc):
# install Node.js through apt when missing, and the provider from the npm registry (lock file).
set -euo pipefail
cd "$(dirname "$0")/../tests/idp/oidc"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo ">> installing Node.js"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
if [ ! -d node_modules/oidc-provider ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo ">> installing the test OpenID provider"
  npm ci --no-audit --no-fund --loglevel=error
fi
