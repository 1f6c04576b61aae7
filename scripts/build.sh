#!/usr/bin/env bash
# Configures and builds egress with warnings as errors. Extra arguments go to
# cmake's configure step; BUILD_DIR (default build/) picks the directory.
#   scripts/build.sh                                   # build/
#   BUILD_DIR=build-asan scripts/build.sh -DEGRESS_SANITIZE=ON
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEGRESS_WERROR=ON "$@"
cmake --build "$BUILD_DIR" -j "$(nproc)"
