#!/usr/bin/env bash
# Runs the whole test suite (installing what it needs first). Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
export QT_QPA_PLATFORM=offscreen
# Two workers by default (NOWSERVING_TEST_WORKERS=0 runs in one process): the tests mostly
# wait on brokers, servers and browsers, so two halve the time on a 2-core machine. A
# file's tests stay on one worker (--dist loadfile), so module fixtures are made once.
exec .venv/bin/python -m pytest -q -n "${NOWSERVING_TEST_WORKERS:-2}" --dist loadfile "$@"
