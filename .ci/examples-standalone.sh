#!/usr/bin/env bash
# Every example must build on its own, as a user who copies its directory
# out of the repository gets it: only godspy's public API (an import of
# examples/internal/... or internal/... fails here, where inside the
# repository it would compile). Each directory under examples/ with a
# main.go is copied to a fresh directory outside the repository, given a
# go.mod that requires github.com/godspy/dspy (replaced by this checkout),
# then tidied, built, vetted and tested there. One line per example; on
# failure, the example, the step and its output.
#
# Usage: .ci/examples-standalone.sh   (from anywhere; needs the Go module
# proxy, or a module cache that holds the dependencies)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
# A user's module: no workspace, and the go.mod is tidied, not patched on the
# fly (.ci/run exports -mod=mod for the repository itself).
export GOWORK=off
flags=${GOFLAGS:-}
export GOFLAGS="${flags//-mod=mod/}"

work=$(mktemp -d "${TMPDIR:-/tmp}/godspy-examples.XXXXXX")
work=$(cd "$work" && pwd -P)
trap 'rm -rf "$work"' EXIT
case "$work/" in
"$root"/*)
  echo "examples-standalone: temp dir $work is inside the repository $root; set TMPDIR elsewhere" >&2
  exit 1
  ;;
esac

failed=()
start_all=$SECONDS
for main in "$root"/examples/*/main.go; do
  src=$(dirname "$main")
  name=$(basename "$src")
  dir="$work/$name"
  cp -R "$src" "$dir"
  cat >"$dir/go.mod" <<EOF
module example.com/$name

go 1.26.0

require github.com/godspy/dspy v0.0.0-00010101000000-000000000000

replace github.com/godspy/dspy => $root
EOF
  start=$SECONDS
  step=""
  for cmd in "go mod tidy" "go build ./..." "go vet ./..." "go test -count=1 ./..."; do
    if ! (cd "$dir" && $cmd) >"$work/$name.log" 2>&1; then
      step=$cmd
      break
    fi
  done
  if [ -n "$step" ]; then
    echo "FAIL examples/$name: \`$step\` failed in a copy outside the repository ($dir):"
    sed 's/^/    /' "$work/$name.log"
    failed+=("$name")
  else
    echo "ok   examples/$name ($((SECONDS - start)) s)"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "examples-standalone: ${#failed[@]} example(s) do not build on their own: ${failed[*]}" >&2
  echo "  (an example may import only godspy's public packages and the standard library)" >&2
  exit 1
fi
echo "examples-standalone: every example builds, vets and tests on its own ($((SECONDS - start_all)) s)"
