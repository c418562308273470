#!/usr/bin/env bash
# The test command of the README: set up (or reuse) .venv with the pinned
# stack, then run the test suite. Extra arguments go to pytest.
#   tests/run.sh            # everything
#   tests/run.sh -k sweep   # a subset
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BRANCHYNET_VENV:-.venv}
bash scripts/setup_venv.sh "$VENV"
exec "$VENV/bin/python" -m pytest -q "$@"
