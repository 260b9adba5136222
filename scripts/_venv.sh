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
