#!/usr/bin/env bash
# Runs sdk_check.mjs (the official @a2a-js/sdk 1.3.0 client against a running
# 2-node cluster). The SDK is installed once into a scratch folder outside the
# repository and reused: ${AGENTMESH_SDK_DIR:-${TMPDIR:-/tmp}/agentmesh-a2a-sdk-1.3.0}.
# Usage: tests/a2a/run_sdk_check.sh <node1-url> <node2-url>
# Exit: sdk_check.mjs's status (0 = all checks passed), or 77 (ctest's skip
# code) with a "SKIP: ..." line when node/npm or the npm registry is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=1.3.0
sdk_dir=${AGENTMESH_SDK_DIR:-${TMPDIR:-/tmp}/agentmesh-a2a-sdk-$version}

if (($# != 2)); then
  echo "usage: $0 <node1-url> <node2-url>" >&2
  exit 2
fi
skip() { echo "SKIP: $*"; exit 77; }

command -v node > /dev/null || skip "node is not installed (@a2a-js/sdk $version needs Node.js >= 20)"
command -v npm > /dev/null || skip "npm is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || skip "node $(node --version) is too old (@a2a-js/sdk $version needs >= 20)"

installed() {
  [ "$(cd "$sdk_dir" && node -p "try { require('./node_modules/@a2a-js/sdk/package.json').version }
                                 catch { '' }" 2> /dev/null)" = "$version" ]
}

mkdir -p "$sdk_dir"
# One installer at a time (parallel ctest runs share the folder).
exec 9> "$sdk_dir/.install.lock"
command -v flock > /dev/null && flock -w 600 9
if ! installed; then
  # A package.json of its own keeps npm from installing into a parent project.
  [ -f "$sdk_dir/package.json" ] \
    || echo '{"name": "agentmesh-a2a-scratch", "private": true}' > "$sdk_dir/package.json"
  timeout 30 npm ping > /dev/null 2>&1 \
    || skip "npm registry $(npm config get registry) is unreachable; cannot install @a2a-js/sdk@$version"
  log="$sdk_dir/npm-install.log"
  if ! (cd "$sdk_dir" && timeout 300 npm install --no-audit --no-fund \
          "@a2a-js/sdk@$version" > "$log" 2>&1); then
    tail -n 20 "$log" >&2
    skip "npm install @a2a-js/sdk@$version into $sdk_dir failed (log: $log)"
  fi
  installed || skip "@a2a-js/sdk@$version not found in $sdk_dir after npm install"
fi
exec 9>&-

# sdk_check.mjs caps itself at about 60 s; the outer timeout is a backstop.
status=0
timeout 120 node "$here/sdk_check.mjs" "$sdk_dir" "$1" "$2" || status=$?
exit "$status"
