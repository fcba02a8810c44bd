#!/usr/bin/env bash
# The Node releases CI tests on besides the machine's own `node` (the supported majors are
# package.json "engines"). Each comes from the npm package node-<platform>-<arch>, which
# carries the binary and its headers, into a cache outside the repository; better-sqlite3's
# native addon is built offline against those headers, once per ABI.
#
#   scripts/runtimes.sh install       install every runtime below and its SQLite addon
#   scripts/runtimes.sh versions      print the versions, one a line
#   scripts/runtimes.sh bin VERSION   print the directory holding that runtime's `node`
#
# Why per-ABI addon files and not a node_modules copy per runtime: better-sqlite3 loads its
# addon through `bindings`, which also looks in lib/binding/node-v<ABI>-<platform>-<arch>/,
# so every runtime finds its own build in the one install (a copy per runtime costs a full
# install each, and its own tsc output). The default build in build/Release is moved to its
# ABI's directory too: `bindings` tries build/Release first and stops at a wrong-ABI file.
# Files are renamed, never written in place: pnpm hard-links them with its store.
#
# Env: LEASEHOLD_RUNTIMES_DIR [${XDG_CACHE_HOME:-~/.cache}/leasehold/runtimes]
set -euo pipefail
cd "$(dirname "$0")/.."

VERSIONS=(22.23.5 24.22.3)
CACHE="${LEASEHOLD_RUNTIMES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/leasehold/runtimes}"
PLATFORM="$(node -p 'process.platform + "-" + process.arch')"

runtime_dir() { echo "$CACHE/node-$1/node_modules/node-$PLATFORM"; }

install_runtime() {
  local version="$1" dir
  dir="$(runtime_dir "$version")"
  if [ "$("$dir/bin/node" --version 2>/dev/null)" = "v$version" ]; then return; fi
  echo "leasehold: installing Node $version (npm package node-$PLATFORM) into $CACHE" >&2
  npm install --prefix "$CACHE/node-$version" --no-save --no-audit --no-fund \
    --loglevel=error "node-$PLATFORM@$version" >&2
}

# better-sqlite3 as the workspace resolves it (the real directory behind pnpm's links).
sqlite_dir() {
  node -p "require('path').dirname(require.resolve('better-sqlite3/package.json', { paths: ['packages/adapters'] }))"
}

abi_dir() { echo "$1/lib/binding/node-v$2-$PLATFORM"; }

# The addon pnpm built for the default node moves to that node's ABI directory.
move_default_build() {
  local pkg="$1" abi
  [ -f "$pkg/build/Release/better_sqlite3.node" ] || return 0
  abi="$(node -p process.versions.modules)"
  mkdir -p "$(abi_dir "$pkg" "$abi")"
  mv "$pkg/build/Release/better_sqlite3.node" "$(abi_dir "$pkg" "$abi")/better_sqlite3.node"
}

# Compiles in a scratch copy of the package (its build/ holds the default node's objects),
# caches the result per better-sqlite3 version and ABI, and links it into the install.
build_addon() {
  local pkg="$1" runtime="$2" abi version cached scratch
  abi="$("$runtime/bin/node" -p process.versions.modules)"
  [ -f "$(abi_dir "$pkg" "$abi")/better_sqlite3.node" ] && return 0
  version="$(node -p "require('$pkg/package.json').version")"
  cached="$CACHE/addons/better-sqlite3-$version/node-v$abi-$PLATFORM/better_sqlite3.node"
  if [ ! -f "$cached" ]; then
    echo "leasehold: building better-sqlite3 $version for ABI $abi" >&2
    scratch="$(mktemp -d "$CACHE/build.XXXXXX")"
    cp -r "$pkg/binding.gyp" "$pkg/deps" "$pkg/src" "$pkg/package.json" "$scratch/"
    # The compiler's warnings only when the build fails: they are better-sqlite3's.
    if ! (cd "$scratch" && PATH="$runtime/bin:$PATH" npm_config_nodedir="$runtime" \
      npm run --silent build-release >build.log 2>&1); then
      cat "$scratch/build.log" >&2
      return 1
    fi
    mkdir -p "$(dirname "$cached")"
    mv "$scratch/build/Release/better_sqlite3.node" "$cached"
    rm -rf "$scratch"
  fi
  mkdir -p "$(abi_dir "$pkg" "$abi")"
  cp "$cached" "$(abi_dir "$pkg" "$abi")/better_sqlite3.node.tmp"
  mv "$(abi_dir "$pkg" "$abi")/better_sqlite3.node.tmp" "$(abi_dir "$pkg" "$abi")/better_sqlite3.node"
}

# Downloads one after another, then the compiles side by side (one per core).
install_all() {
  local pkg version pids=()
  pkg="$(sqlite_dir)"
  mkdir -p "$CACHE"
  move_default_build "$pkg"
  for version in "${VERSIONS[@]}"; do install_runtime "$version"; done
  for version in "${VERSIONS[@]}"; do
    build_addon "$pkg" "$(runtime_dir "$version")" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

case "${1:-}" in
  install) install_all ;;
  versions) printf '%s\n' "${VERSIONS[@]}" ;;
  bin) echo "$(runtime_dir "${2:?usage: runtimes.sh bin VERSION}")/bin" ;;
  *)
    echo "usage: scripts/runtimes.sh install | versions | bin VERSION" >&2
    exit 2
    ;;
esac
