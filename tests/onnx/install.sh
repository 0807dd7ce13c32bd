#!/bin/sh
# tests/onnx/install.sh - installs the ONNX Runtime test's npm packages (package-lock.json:
# onnxruntime-node and its few dependencies) into tests/onnx/node_modules with `npm ci`;
# does nothing when the locked version is already there. No install script is run
# (--ignore-scripts): onnxruntime-node bundles its CPU build for linux/x64 and its script
# would only fetch optional GPU libraries, so an npm cache or mirror is all it needs.
set -eu
cd "$(dirname "$0")"
want=$(node -e 'console.log(require("./package-lock.json").packages["node_modules/onnxruntime-node"].version)')
have=$(node -e 'try { console.log(require("./node_modules/onnxruntime-node/package.json").version) } catch (e) { console.log("") }')
[ "$want" = "$have" ] && exit 0
timeout 600 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
