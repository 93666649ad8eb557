#!/usr/bin/env bash
# Runs the whole branch on this machine: broker, server and simulated devices.
# Extra arguments go to `nowserving demo` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/nowserving demo "$@"
