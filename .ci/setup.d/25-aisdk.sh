# Installs what streaming's AI SDK test (TestAISDKClient) needs: Node.js
# (installed by 20-browser.sh when missing) and the ai package pinned in
# streaming/aisdktest/package-lock.json. Sourced by .ci/run from the repo
# root, with set -e in force. The ai package asks for Node.js >= 22 in its
# engines field; its UI-message client runs on the machine's Node.js 20,
# which the test proves, so the warning is expected.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing nodejs and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
node --version
npm ci --prefix streaming/aisdktest --no-audit --no-fund
