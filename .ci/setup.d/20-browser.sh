# Installs what cmd/dspy's browser test (TestBrowser) needs: Debian's
# Chromium and the playwright-core package pinned in
# cmd/dspy/browsertest/package-lock.json. Sourced by .ci/run from the repo
# root, with set -e in force. Playwright must never download a browser of
# its own: it drives /usr/bin/chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
browser_apt_updated=
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium"
  apt-get update -qq
  browser_apt_updated=1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing nodejs and npm"
  [ -n "$browser_apt_updated" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null
node --version
npm ci --prefix cmd/dspy/browsertest --no-audit --no-fund
unset browser_apt_updated
