# Installs the MCP reference server (@modelcontextprotocol/server-everything,
# the exact version pinned in mcp/testdata/everything/package-lock.json) that
# the mcp package's tests and cmd/dspy's run over stdio. Sourced by .ci/run
# from the repo root, with set -e in force. Those tests fail in CI (CI=true)
# when it is missing.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing nodejs and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
node --version
npm ci --prefix mcp/testdata/everything --no-audit --no-fund
test -x mcp/testdata/everything/node_modules/.bin/mcp-server-everything
