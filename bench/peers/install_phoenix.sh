#!/usr/bin/env bash
# Install Arize Phoenix into its own venv, for the ingest-throughput comparison.
#
# Phoenix pulls in hundreds of MB of dependencies (pandas, grpc, sqlalchemy,
# strawberry, ...) that must never leak into the project's venv (/work/main/.venv),
# so it lives in a separate venv that bench/peers/phoenix.py runs as a subprocess.
#
# Env vars:
#   PHOENIX_VENV     venv path        (default: <repo>/bench/.venv-phoenix)
#   PHOENIX_VERSION  pinned version   (default: the version the harness was tested with)
#   PHOENIX_PYTHON   interpreter used to create the venv (default: python3)
#
# Idempotent: exits early if the pinned version is already importable in the venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${PHOENIX_VENV:-$repo/bench/.venv-phoenix}"
version="${PHOENIX_VERSION:-20.26.1}"
python="${PHOENIX_PYTHON:-python3}"

venv_abs="$(realpath -m "$venv")"
if [[ "$venv_abs" == "$(realpath -m "$repo/.venv")" ]]; then
    echo "refusing to install Phoenix into the project's own venv ($venv_abs)" >&2
    exit 2
fi

installed_version() {
    "$venv_abs/bin/python" - <<'PY' 2>/dev/null
from importlib.metadata import version
print(version("arize-phoenix"))
PY
}

if [[ -x "$venv_abs/bin/python" ]] && [[ "$(installed_version || true)" == "$version" ]]; then
    echo "arize-phoenix $version already installed in $venv_abs"
    exit 0
fi

if [[ ! -x "$venv_abs/bin/python" ]]; then
    "$python" -m venv "$venv_abs"
fi
# Keep git and ruff (which honours .gitignore) out of ~850 MB of site-packages,
# as `python -m venv` does by itself from Python 3.13 on.
echo '*' > "$venv_abs/.gitignore"
"$venv_abs/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv_abs/bin/python" -m pip install --quiet --disable-pip-version-check "arize-phoenix==$version"

got="$(installed_version)"
if [[ "$got" != "$version" ]]; then
    echo "expected arize-phoenix $version in $venv_abs, found '$got'" >&2
    exit 1
fi
echo "installed arize-phoenix $got in $venv_abs"
