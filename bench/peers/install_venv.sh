#!/usr/bin/env bash
# Install one pinned distribution into a venv of its own: what install_phoenix.sh and
# install_mlflow.sh share. A peer's dependencies must never leak into the project's
# venv (<repo>/.venv), so it is refused as a target.
#
# Usage: install_venv.sh DISTRIBUTION VERSION VENV PYTHON
#
# Idempotent: exits early if the pinned version is already installed in the venv.
set -euo pipefail

dist="$1" version="$2" venv="$3" python="$4"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

venv_abs="$(realpath -m "$venv")"
if [[ "$venv_abs" == "$(realpath -m "$repo/.venv")" ]]; then
    echo "refusing to install $dist into the project's own venv ($venv_abs)" >&2
    exit 2
fi

installed_version() {
    "$venv_abs/bin/python" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' \
        "$dist" 2>/dev/null
}

if [[ -x "$venv_abs/bin/python" ]] && [[ "$(installed_version || true)" == "$version" ]]; then
    echo "$dist $version already installed in $venv_abs"
    exit 0
fi

if [[ ! -x "$venv_abs/bin/python" ]]; then
    "$python" -m venv "$venv_abs"
fi
# Keep git and ruff (which honours .gitignore) out of hundreds of MB of site-packages,
# as `python -m venv` does by itself from Python 3.13 on.
echo '*' > "$venv_abs/.gitignore"
"$venv_abs/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv_abs/bin/python" -m pip install --quiet --disable-pip-version-check "$dist==$version"

got="$(installed_version)"
if [[ "$got" != "$version" ]]; then
    echo "expected $dist $version in $venv_abs, found '$got'" >&2
    exit 1
fi
echo "installed $dist $got in $venv_abs"
