# Sourced by scripts/*: create or reuse a virtualenv and install the project into it
# from uv.lock (the same pins CI and the Dockerfile use).
#
#   VENV     the virtualenv's folder (default .venv; e.g. VENV=.venv-3.13)
#   PYTHON   the interpreter to create it with (default: the newest python3.1x found)
#   EXTRAS   the project's extras to install (default redis,embedded)
#   CI       when set, a uv.lock that does not match pyproject.toml is an error;
#            otherwise uv updates uv.lock (commit it with the pyproject.toml change)
#
# uv is taken from PATH, else installed once with pip into $VENV/.uv. A stamp file
# remembers what was installed, so an unchanged checkout starts at once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac

_usable_python() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  # A pyenv shim may exist for a version that is not installed: each candidate must run.
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && _usable_python "$candidate"; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "error: Python 3.11 or newer is required (set PYTHON=...)" >&2; exit 1; }
_usable_python "$PYTHON" || { echo "error: $PYTHON is not a working Python 3.11+" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi
VENV_PY="$VENV/bin/python"

EXTRAS="${EXTRAS:-redis,embedded}"
want="$(cat pyproject.toml uv.lock | sha256sum | cut -d' ' -f1)-$EXTRAS-${CI:+ci}"
have="$(cat "$VENV/.installed" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  UV="$(command -v uv 2>/dev/null || true)"
  if [ -z "$UV" ]; then
    UV="$VENV/.uv/bin/uv"
    if [ ! -x "$UV" ]; then
      echo "uv not found on PATH: installing it with pip into $VENV/.uv"
      "$VENV_PY" -m pip install --quiet --disable-pip-version-check --target "$VENV/.uv" "uv>=0.8,<1"
    fi
  fi
  sync_args=(sync --python "$VENV_PY" --quiet)
  IFS=',' read -r -a extras <<<"$EXTRAS"
  for extra in "${extras[@]}"; do
    if [ -n "$extra" ]; then sync_args+=(--extra "$extra"); fi
  done
  # CI installs exactly what is locked; locally uv re-locks after a pyproject.toml edit.
  if [ -n "${CI:-}" ]; then sync_args+=(--locked); fi
  echo "installing the project ($EXTRAS) and its development tools from uv.lock into $VENV"
  UV_PROJECT_ENVIRONMENT="$VENV" PYTHONPATH='' "$UV" "${sync_args[@]}"
  # uv.lock may have been updated just now: stamp what is installed.
  echo "$(cat pyproject.toml uv.lock | sha256sum | cut -d' ' -f1)-$EXTRAS-${CI:+ci}" > "$VENV/.installed"
fi
