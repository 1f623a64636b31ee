#!/usr/bin/env bash
# WeasyPrint (receipt and statement PDFs) needs Pango and HarfBuzz from Debian, and a font.
# Install them through apt only when missing.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=""
LDCONFIG=$(command -v ldconfig || echo /sbin/ldconfig)
libs=$("$LDCONFIG" -p 2>/dev/null || true)  # read once: `grep -q` in a pipe trips pipefail
for lib in libpango-1.0.so.0 libpangoft2-1.0.so.0 libharfbuzz.so.0 libfontconfig.so.1; do
  grep -q "$lib" <<<"$libs" || missing=1
done
[ -d /usr/share/fonts/truetype/dejavu ] || missing=1
if [ -n "$missing" ]; then
  echo ">> installing the libraries WeasyPrint needs (Pango, HarfBuzz, fonts)"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1 \
    fonts-dejavu-core
fi
