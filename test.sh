#!/usr/bin/env bash
# The whole test suite: installs what the tests need on a fresh machine
# (Go modules, and the client libraries of the compatibility matrix), then
# runs go vet, the Go tests with the race detector, and the client matrix.
set -euo pipefail
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/go/bin

echo "== install matrix clients"
# Debian packages of the client compatibility matrix (compat/): kcat, and the
# Python clients for the system interpreter /usr/bin/python3. Skipped when
# already installed; needs root on a clean machine.
apt_pkgs=(kcat python3-confluent-kafka python3-kafka python3-zstandard python3-snappy python3-lz4)
missing=()
for p in "${apt_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# kafkajs and its codecs, at the versions in compat/js/package-lock.json
# (lz4 and zstd-napi build native addons with node-gyp).
# Built from source: the prebuilt binaries their installers look for first
# are not on a package registry.
(cd compat/js && npm_config_build_from_source=true npm ci --no-audit --no-fund --loglevel=error)

echo "== go vet"
go vet ./...
(cd compat && go vet ./...)

echo "== go test -race"
# One package at a time (-p 1): the end-to-end and crash tests run real
# brokers and clients with timeouts; on 2 cores, packages running side by
# side make them compete for CPU.
go test -race -count=1 -p 1 -timeout 20m ./...

echo "== hot-path allocation guards and one pass of every benchmark (without -race)"
# The race detector's sync.Pool drops items at random, so the allocation
# tests (alloc_test.go) are built only without it. Each benchmark runs once,
# so that none of them rots between measurements.
go test -count=1 -run 'Allocat' -bench . -benchtime 1x ./...

echo "== client compatibility matrix (compat/)"
# Writes compat/MATRIX.md when run against samsa; any FAIL cell fails here.
(cd compat && go test -count=1 -timeout 15m ./...)
