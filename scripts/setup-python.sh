#!/usr/bin/env bash
# Creates .venv/ in the repository root with the Python packages the test suite and the
# scripts use (scripts/requirements-test.txt). Tests that compare flowmine with numpy,
# scipy or scikit-learn run this interpreter (or the one named by FLOWMINE_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
echo "python test environment ready: .venv/bin/python"
