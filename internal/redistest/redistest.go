// Package redistest gives tests a Redis server: the shared one named by
// DSPY_TEST_REDIS, or one of their own that they may stop and restart.
//
// Outside CI a test without a server skips, saying how to run it; under
// CI=true (where .ci/setup.d/10-redis.sh installs and starts one) it fails.
package redistest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvAddr is the variable that holds the shared test server's address.
const EnvAddr = "DSPY_TEST_REDIS"

func inCI() bool { return os.Getenv("CI") == "true" }

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf(format+" (in CI .ci/setup.d/10-redis.sh provides it)", args...)
	}
	t.Skipf(format, args...)
}

// Addr returns the address of the shared test server, after checking that
// it answers.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		missing(t, "no Redis server to test against: set %s=host:port (e.g. 127.0.0.1:6379) to run this test", EnvAddr)
	}
	if err := ping(addr, 2*time.Second); err != nil {
		missing(t, "Redis server at %s=%s unreachable: %v", EnvAddr, addr, err)
	}
	return addr
}

// Prefix returns a key prefix unique to this test, and deletes every key
// under it on addr when the test ends.
func Prefix(t testing.TB, addr string) string {
	t.Helper()
	p := "godspy-test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return p
}

func ping(addr string, d time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: d})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Server is a redis-server process of one test's own, on a loopback port,
// without persistence.
type Server struct {
	t    testing.TB
	bin  string
	Addr string
	cmd  *exec.Cmd
}

// Start starts a redis-server (from PATH) on a free loopback port; it is
// killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server is not installed (apt-get install redis-server): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &Server{t: t, bin: bin, Addr: addr}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart starts the server again on the same port after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: Restart of a running server")
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(s.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(s.Addr, 200*time.Millisecond)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("redistest: redis-server on %s did not answer within 10 s: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (as a crash would: no SHUTDOWN) and waits for it
// to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// String returns the server's address.
func (s *Server) String() string { return fmt.Sprintf("redis-server at %s", s.Addr) }
