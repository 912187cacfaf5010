#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it:
#   front end: build (esbuild), type check (tsc), unit tests (vitest);
#   Python: unit, equivalence with peers, ground truth, browser (headless chromium:
#   harness page, real JupyterLab, offline report) and notebooks (nbval), via pytest.
# It installs what is missing first, so it works on a fresh machine.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k gradcam`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq chromium
  fi
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
"$PYTHON" -c "import xwidgets, pytest, nbval, playwright, jupyterlab, isal" 2>/dev/null || "$PYTHON" -m pip install -e ".[dev]"

npm run build
npm run typecheck
npm test
# pytest exits 5 when it collects no test: that fails this script too (set -e)
"$PYTHON" -m pytest "$@"
