#!/usr/bin/env bash
# Install MLflow's tracking server into its own venv, for the ingest comparison.
#
# MLflow brings its own pins (sqlalchemy, alembic, protobuf, opentelemetry, pandas,
# flask, ...) that must stay out of the project's venv; bench/peers/mlflow.py runs
# its `mlflow server` as a subprocess from this venv.
#
# Env vars:
#   MLFLOW_VENV     venv path       (default: <repo>/bench/.venv-mlflow)
#   MLFLOW_VERSION  pinned version  (default: 3.17.2; 3.18.0 is on PyPI but pins
#                   mlflow-skinny==3.18.0, which the registry here does not have)
#   MLFLOW_PYTHON   interpreter used to create the venv (default: python3)
#
# Idempotent: exits early if the pinned version is already installed in the venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${MLFLOW_VENV:-$repo/bench/.venv-mlflow}"
version="${MLFLOW_VERSION:-3.17.2}"
python="${MLFLOW_PYTHON:-python3}"

venv_abs="$(realpath -m "$venv")"
if [[ "$venv_abs" == "$(realpath -m "$repo/.venv")" ]]; then
    echo "refusing to install MLflow into the project's own venv ($venv_abs)" >&2
    exit 2
fi

installed_version() {
    "$venv_abs/bin/python" -c 'from importlib.metadata import version; print(version("mlflow"))' \
        2>/dev/null
}

if [[ -x "$venv_abs/bin/python" ]] && [[ "$(installed_version || true)" == "$version" ]]; then
    echo "mlflow $version already installed in $venv_abs"
    exit 0
fi

if [[ ! -x "$venv_abs/bin/python" ]]; then
    "$python" -m venv "$venv_abs"
fi
echo '*' > "$venv_abs/.gitignore"  # keep git and ruff out of its site-packages
"$venv_abs/bin/python" -m pip install --quiet --disable-pip-version-check "mlflow==$version"

got="$(installed_version)"
if [[ "$got" != "$version" ]]; then
    echo "expected mlflow $version in $venv_abs, found '$got'" >&2
    exit 1
fi
echo "installed mlflow $got in $venv_abs"
