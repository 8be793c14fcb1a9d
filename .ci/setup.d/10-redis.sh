# Redis for the tests of lm/cache/rediscache, the resumable stream stores
# and reliability (internal/redistest): Debian's redis-server on loopback,
# no persistence; tests that kill and restart a server start their own
# redis-server from PATH. Sourced by .ci/run with set -e.
if ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes
fi
for _ in $(seq 1 50); do
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    break
  fi
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG
export DSPY_TEST_REDIS=127.0.0.1:6379
