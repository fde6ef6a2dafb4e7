#!/usr/bin/env bash
# demo.sh: the main job behind `make demo` — shows the library at work and ends by itself.
# Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build/release}
echo "== cio $(sed -n 's/.*CIO_VERSION_STRING "\(.*\)"/\1/p' "$build/include/cio/version.h"): event core demo"
echo "== readiness-loop echo server and client on loopback, one cio_poll loop, epoll backend"
CIO_BACKEND=epoll "$build/examples/poll_echo"
echo
echo "== the same program on the portable poll(2) backend"
CIO_BACKEND=poll "$build/examples/poll_echo"
echo
echo "demo: done"
