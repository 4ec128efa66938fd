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
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/install_venv.sh" mlflow "${MLFLOW_VERSION:-3.17.2}" \
    "${MLFLOW_VENV:-$here/../.venv-mlflow}" "${MLFLOW_PYTHON:-python3}"
