#!/usr/bin/env bash
# The project's test command (README.md "Two commands"; .ci/run calls it). It needs nothing
# installed by hand: it installs what the tests need, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# A real Redis server for the Redis scale-out and cursor tests (Debian package).
if ! command -v redis-server >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq && $sudo apt-get install -y -qq redis-server >/dev/null
fi

# The lint gate (.golangci.yml), pinned, built from the Go module proxy on first use.
lint_version=v2.15.0
lint="$(go env GOPATH)/bin/golangci-lint"
if ! "$lint" version 2>/dev/null | grep -q "version ${lint_version#v} "; then
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${lint_version}"
fi

go version
go vet ./...
"$lint" run ./...
go test -count=1 -timeout 25m ./...
