#!/usr/bin/env bash
# Installs every Debian package RAZAR builds, tests or benchmarks with.
# Idempotent: packages already present are left alone; apt-get runs only when
# something is missing. Safe to rerun. Needs root (or sudo) on Debian 12.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  librocksdb-dev
  libflatbuffers-dev flatbuffers-compiler
  liburing-dev
  libxxhash-dev
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  nlohmann-json3-dev
  libcli11-dev
  libcpp-httplib-dev
  libyaml-cpp-dev
  libcurl4-openssl-dev
  python3
  prometheus
  prometheus-cpp-dev
  python3-matplotlib
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
