# staticcheck: the release that builds with this Go (v0.8.2 = 2026.2.2).
# Sourced by .ci/run with set -e, so a finding fails CI. Silence a finding
# that is intended with a //lint:ignore CHECK reason comment on its line.
echo "== staticcheck"
if ! staticcheck -version 2>/dev/null | grep -q '(0\.8\.2)'; then
  go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
staticcheck ./...
