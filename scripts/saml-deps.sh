#!/usr/bin/env bash
# SAML for the tests: the test IdP (pysaml2, tests/idp/saml) signs its assertions with Debian's
# xmlsec1 command. Install it through apt only when missing. The dashboard itself needs nothing
# from apt for SAML: the pinned `xmlsec` wheel (python3-saml's binding) links libxmlsec1,
# libxml2 and OpenSSL statically, so neither pkg-config nor the -dev packages are needed.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v xmlsec1 >/dev/null; then
  echo ">> installing xmlsec1 (the test SAML IdP signs with it)"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q xmlsec1
fi
