#!/usr/bin/env bash
# The test command (`npm test`). Media tests must only ever see loopback, so the whole run happens in a
# private network namespace holding just `lo` (127.0.0.1 and ::1): ICE then gathers loopback only
# and no test can reach another host. Extra arguments go to vitest (e.g. `npm test -- --project unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
# The real peers first: installed here when run as root, else the one apt-get line to run, and nothing runs.
bash scripts/install-test-deps.sh >/dev/null
export MEDIASOUP_WORKER_BIN="${MEDIASOUP_WORKER_BIN:-$(bash scripts/build-mediasoup-worker.sh --path)}"
if [ ! -x "$MEDIASOUP_WORKER_BIN" ]; then
  echo "mediasoup worker missing at $MEDIASOUP_WORKER_BIN: run npm install first" >&2; exit 1
fi
export CONFLUX_LOG_LEVEL="${CONFLUX_LOG_LEVEL:-warn}"
run=(npx vitest run "$@")
if [ "${CONFLUX_TEST_NETNS:-1}" = 1 ] && [ -z "${CONFLUX_IN_TEST_NETNS:-}" ]; then
  userns=()
  [ "$(id -u)" != 0 ] && userns=(-r)  # unprivileged: a user namespace grants the netns
  if unshare "${userns[@]}" -n true 2>/dev/null; then
    export CONFLUX_IN_TEST_NETNS=1
    exec unshare "${userns[@]}" -n bash -c 'ip link set lo up && exec "$@"' _ "${run[@]}"
  fi
  echo "warning: cannot create a network namespace; tests run on the host network (loopback addresses only)" >&2
fi
exec "${run[@]}"
