#!/usr/bin/env bash
# Install Arize Phoenix into its own venv, for the ingest-throughput comparison.
#
# Phoenix pulls in hundreds of MB of dependencies (pandas, grpc, sqlalchemy,
# strawberry, ...) that must never leak into the project's venv, so it lives in a
# separate venv that bench/peers/phoenix.py runs as a subprocess.
#
# Env vars:
#   PHOENIX_VENV     venv path        (default: <repo>/bench/.venv-phoenix)
#   PHOENIX_VERSION  pinned version   (default: the version the harness was tested with)
#   PHOENIX_PYTHON   interpreter used to create the venv (default: python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/install_venv.sh" arize-phoenix "${PHOENIX_VERSION:-20.26.1}" \
    "${PHOENIX_VENV:-$here/../.venv-phoenix}" "${PHOENIX_PYTHON:-python3}"
