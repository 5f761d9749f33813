#!/usr/bin/env bash
# The deployment files, checked offline with the tools of requirements/deploy-tools.lock:
# hadolint on the Dockerfile; every overlay rendered by kustomize, validated against the
# Kubernetes schemas of K8S_VERSION and scanned by checkov (waivers live in the manifests).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=${TOOLS:-.venv-tools/bin}
K8S_VERSION=${K8S_VERSION:-1.33.0}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$TOOLS/hadolint" --failure-threshold info Dockerfile
echo "hadolint: Dockerfile clean"

scan=(-f k8s/base/secret.template.yaml)
for overlay in k8s/overlays/*/; do
  name=$(basename "$overlay")
  "$TOOLS/kubectl" kustomize "$overlay" > "$out/$name.yaml"
  "$TOOLS/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$out/$name.yaml"
  echo "kubernetes-validate $K8S_VERSION: overlays/$name valid"
  scan+=(-f "$out/$name.yaml")
done
"$TOOLS/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" k8s/base/secret.template.yaml

"$TOOLS/checkov" --framework kubernetes --skip-download --quiet --compact "${scan[@]}"
