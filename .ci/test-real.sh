#!/usr/bin/env bash
# make test-real: the NetBox integration suite (sync/nbadapter, lab/netbox's plugin schema
# conformance, cmd/proxbox's plugin conformance tests) against a REAL NetBox 4.5.10 with
# netbox-proxbox 0.0.24, started from the realnetbox kit (../shared/realnetbox/README.md), reset
# between tests, stopped at the end.
#
# TEST_REAL_RUN (default .) selects tests of sync/nbadapter and lab/netbox; TEST_REAL_RUN_PLUGIN
# (default TestPlugin.*Conformance) those of cmd/proxbox, whose other tests need no NetBox kit.
# '^$' skips a package set.
#
# Skips (exit 0, one line) only where the kit cannot start: no kit, not root, or no Python 3.12.
# A kit that is there and fails to start, or a failing test, fails (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
KIT="${REALNETBOX_KIT:-../shared/realnetbox}"
DIR="${REALNETBOX_DIR:-/var/tmp/rnb-proxbox-test}"
PORT="${REALNETBOX_PORT:-8045}"
PY312="${RNB_PYTHON312:-/root/.pyenv/versions/3.12.1/bin/python3.12}"

skip() { echo "test-real: SKIPPED: $*"; exit 0; }
[ -x "$KIT/start.sh" ] && [ -f "$KIT/netbox-4.5-kit.tar.zst" ] || skip "no realnetbox kit at $KIT (set REALNETBOX_KIT)"
[ "$(id -u)" = 0 ] || skip "the realnetbox kit needs root"
KIT=$(cd "$KIT" && pwd) # absolute: the tests run the reset from their package directories
[ -x "$PY312" ] || command -v python3.12 >/dev/null 2>&1 || skip "no Python 3.12 for NetBox 4.5 (RNB_PYTHON312)"

stop() { "$KIT/start.sh" stop --dir "$DIR" >/dev/null 2>&1 || true; }
trap stop EXIT
start=$(date +%s)
if ! out=$("$KIT/start.sh" --version 4.5 --port "$PORT" --dir "$DIR" 2>"$DIR.start.log"); then
  echo "test-real: FAILED: the realnetbox kit is present but did not start; log:" >&2
  tail -20 "$DIR.start.log" >&2
  exit 1
fi
url=$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' <<<"$out")
token=$(sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' <<<"$out")
echo "test-real: NetBox at $url ($(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' <<<"$out"), plugin $(sed -n 's/.*"plugin": *"\([^"]*\)".*/\1/p' <<<"$out")) after $(( $(date +%s) - start )) s"
export PROXBOX_TEST_NETBOX_URL="$url" PROXBOX_TEST_NETBOX_TOKEN="$token"
export PROXBOX_TEST_NETBOX_RESET="'$KIT/start.sh' reset --dir '$DIR' >/dev/null 2>&1"
# -p 1: both packages reset the one kit's database between their tests; run side by side,
# one package's reset drops the database under the other's requests.
go test -count=1 -p 1 -timeout 40m ./sync/nbadapter/ ./lab/netbox/ -run "${TEST_REAL_RUN:-.}"
go test -count=1 -timeout 20m ./cmd/proxbox/ -run "${TEST_REAL_RUN_PLUGIN:-TestPlugin.*Conformance}"
echo "test-real: passed in $(( $(date +%s) - start )) s"
