# Sourced by scripts/*: create or reuse .venv and install the project into it.
# Reinstalls only when pyproject.toml changes (a stamp file remembers its hash).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && \
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "error: Python 3.11 or newer is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
VENV_PY="$ROOT/.venv/bin/python"

want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)-${EXTRAS:-dev,embedded}"
have="$(cat .venv/.installed 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  echo "installing the project and its ${EXTRAS:-dev,embedded} dependencies into .venv"
  "$VENV_PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV_PY" -m pip install --quiet --disable-pip-version-check -e ".[${EXTRAS:-dev,embedded}]"
  echo "$want" > .venv/.installed
fi

# The demo page's browser dependency (socket.io-client), pinned in package-lock.json.
# `npm ci` runs when node_modules is missing or the lock changed (a stamp remembers its hash).
if [ -f package-lock.json ]; then
  if command -v npm >/dev/null 2>&1; then
    want_npm="$(sha256sum package-lock.json | cut -d' ' -f1)"
    have_npm="$(cat node_modules/.installed 2>/dev/null || true)"
    if [ "$want_npm" != "$have_npm" ]; then
      echo "installing the demo page's browser dependencies (npm ci)"
      if npm ci --omit=dev --no-audit --no-fund --loglevel=error; then
        echo "$want_npm" > node_modules/.installed
      else
        echo "warning: npm ci failed; the demo page cannot load its Socket.IO client" >&2
      fi
    fi
  else
    echo "npm not found: skipping the demo page's Socket.IO client (the page at / says so;" \
      "the browser test is skipped). Install Node.js and npm to use it." >&2
  fi
fi
