package provider

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// h2Pool is the default client's RoundTripper. For https hosts it keeps its
// own HTTP/2 connections (http.Transport.NewClientConn) and dials one
// connection per MAX_CONCURRENT_STREAMS waiting requests, where
// http.Transport dials once per request that finds no free stream (a cold
// burst of 10,000 calls opened up to 13,700 TLS connections). Hosts that
// negotiate HTTP/1.1, plain http, and requests that ask for their own
// connection go to the Transport, uncapped.
type h2Pool struct {
	t *http.Transport

	mu    sync.Mutex
	hosts map[string]*h2Host // by host:port
	h1    map[string]bool    // hosts that negotiated HTTP/1.1
}

// defaultStreams is the per-connection stream limit assumed for dialling
// until a connection reports its own (Go's server default; providers use
// 100–256). Too high only delays: waiters left over dial again.
const defaultStreams = 250

// preSettingsStreams is what a Go HTTP/2 client connection reports until
// the server's SETTINGS arrive; it says nothing about the server.
const preSettingsStreams = 100

// h2Host is the pool of one host.
type h2Host struct {
	p    *h2Pool
	addr string

	// mu guards the fields below. It is never held while calling a
	// ClientConn method that may run a state hook synchronously (Reserve,
	// Release, Close, SetStateHook), since the hook takes it.
	mu      sync.Mutex
	conns   []*http.ClientConn
	queue   []*h2Waiter
	waiting int  // live waiters in queue
	dialing int  // dials in flight
	h2      bool // a connection negotiated HTTP/2
	streams int  // last stream limit reported by a connection; 0: unknown
	// fresh are the connections that have not heard the server's SETTINGS
	// yet (they report preSettingsStreams); until then, dialling counts
	// them as the stream limit.
	fresh map[*http.ClientConn]bool
	gen   uint64 // bumped when a connection may have a free stream
}

// h2Waiter is a request waiting for a reserved stream.
type h2Waiter struct {
	state atomic.Int32 // waiterWaiting, then waiterServed or waiterGone
	ch    chan h2Grant // buffered 1; written once, after waiterServed
}

const (
	waiterWaiting = iota
	waiterServed
	waiterGone
)

// h2Grant is a stream reserved on cc, or, with cc nil, a request to use the
// Transport (the host speaks HTTP/1.1, or dialling failed: the Transport
// then dials for each request and reports its own error, as without the
// pool).
type h2Grant struct{ cc *http.ClientConn }

func newH2Pool(t *http.Transport) *h2Pool {
	return &h2Pool{t: t, hosts: map[string]*h2Host{}, h1: map[string]bool{}}
}

func (p *h2Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" || req.Close || req.URL.Host == "" {
		return p.t.RoundTrip(req)
	}
	addr := req.URL.Host
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "443")
	}
	p.mu.Lock()
	if p.h1[addr] {
		p.mu.Unlock()
		return p.t.RoundTrip(req)
	}
	h := p.hosts[addr]
	if h == nil {
		h = &h2Host{p: p, addr: addr}
		p.hosts[addr] = h
	}
	p.mu.Unlock()

	cc, err := h.reserve(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	if cc == nil {
		return p.t.RoundTrip(req)
	}
	return cc.RoundTrip(req) // consumes the reservation, even on error
}

// CloseIdleConnections closes the pooled connections with no stream in
// flight, and the Transport's idle connections.
func (p *h2Pool) CloseIdleConnections() {
	p.mu.Lock()
	hosts := make([]*h2Host, 0, len(p.hosts))
	for _, h := range p.hosts {
		hosts = append(hosts, h)
	}
	p.mu.Unlock()
	for _, h := range hosts {
		h.mu.Lock()
		conns := append([]*http.ClientConn(nil), h.conns...)
		h.mu.Unlock()
		for _, cc := range conns {
			if cc.InFlight() == 0 {
				cc.Close() // its hook removes it
			}
		}
	}
	p.t.CloseIdleConnections()
}

// reserve returns a connection with a stream reserved for the caller, or nil
// if the caller should use the Transport.
func (h *h2Host) reserve(ctx context.Context) (*http.ClientConn, error) {
	for {
		h.mu.Lock()
		gen := h.gen
		conns := append([]*http.ClientConn(nil), h.conns...)
		h.mu.Unlock()
		for _, cc := range conns {
			if cc.Reserve() == nil {
				return cc, nil
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h.mu.Lock()
		if h.p.isH1(h.addr) {
			h.mu.Unlock()
			return nil, nil
		}
		if h.gen != gen { // a stream may have been freed since the snapshot
			h.mu.Unlock()
			continue
		}
		w := &h2Waiter{ch: make(chan h2Grant, 1)}
		h.queue = append(h.queue, w)
		h.waiting++
		h.dialLocked()
		h.mu.Unlock()

		select {
		case g := <-w.ch:
			return g.cc, nil
		case <-ctx.Done():
		}
		if w.state.CompareAndSwap(waiterWaiting, waiterGone) {
			h.mu.Lock()
			h.waiting-- // its queue entry is skipped when reached
			h.mu.Unlock()
			return nil, ctx.Err()
		}
		if g := <-w.ch; g.cc != nil {
			g.cc.Release() // its hook hands the stream on
		}
		return nil, ctx.Err()
	}
}

func (p *h2Pool) isH1(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.h1[addr]
}

// dialLocked starts the dials the waiters need: one while the protocol is
// unknown, then one per stream limit of waiters not covered by the dials
// in flight.
func (h *h2Host) dialLocked() {
	streams := h.streams
	if streams == 0 {
		streams = defaultStreams
	}
	need := 0
	switch {
	case h.waiting == 0:
	case !h.h2:
		need = 1 - h.dialing
	default:
		uncovered := h.waiting - len(h.fresh)*max(0, streams-preSettingsStreams)
		need = (uncovered+streams-1)/streams - h.dialing
	}
	for range need {
		h.dialing++
		go h.dial()
	}
}

// dial opens one connection and hands its streams to the waiters. It is
// detached from any request's cancellation, like the Transport's dials: the
// connection serves the next waiters. It ends with the dial (bounded by the
// Transport's dial and TLS handshake timeouts).
func (h *h2Host) dial() {
	start := time.Now()
	cc, err := h.p.t.NewClientConn(context.Background(), "https", h.addr)
	took := time.Since(start)
	if err == nil && cc.Available()+cc.InFlight() <= 1 {
		// HTTP/1.1 (an HTTP/2 connection reports 100 streams until the
		// server's SETTINGS): the Transport serves this host from now on.
		cc.Close()
		h.p.mu.Lock()
		h.p.h1[h.addr] = true
		h.p.mu.Unlock()
		err = errUseTransport
	}
	if err != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.dialing--
		if len(h.conns) == 0 && h.dialing == 0 || err == errUseTransport {
			for _, w := range h.queue {
				if w.state.CompareAndSwap(waiterWaiting, waiterServed) {
					h.waiting--
					w.ch <- h2Grant{} // buffered: does not block
				}
			}
			h.queue = nil
		}
		return
	}
	h.mu.Lock()
	h.dialing--
	h.h2 = true
	if n := cc.Available() + cc.InFlight(); n != preSettingsStreams {
		h.streams = n
	} else {
		// The SETTINGS follow the handshake within about a round trip,
		// and raise the limit (running the hook) unless the server's is
		// 100 too. Count cc as fresh for twice as long as the handshake
		// took, plus scheduling slack: if the server's limit is 100, the
		// waiters beyond it wait that long for their dials.
		if h.fresh == nil {
			h.fresh = map[*http.ClientConn]bool{}
		}
		h.fresh[cc] = true
		time.AfterFunc(2*took+20*time.Millisecond, func() { h.settled(cc) })
	}
	h.conns = append(h.conns, cc)
	h.gen++
	h.mu.Unlock()
	// The hook first, so that no event between serving and setting it is
	// missed; it may run at once, and serve with it.
	cc.SetStateHook(h.hook)
	h.serve(cc)
}

var errUseTransport = errorString("use the transport")

type errorString string

func (e errorString) Error() string { return string(e) }

// settled stops counting cc as fresh.
func (h *h2Host) settled(cc *http.ClientConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fresh[cc] {
		delete(h.fresh, cc)
		h.dialLocked()
	}
}

// hook runs when cc may have a free stream or has closed.
func (h *h2Host) hook(cc *http.ClientConn) {
	if cc.Err() != nil {
		h.mu.Lock()
		delete(h.fresh, cc)
		for i, c := range h.conns {
			if c == cc {
				h.conns = append(h.conns[:i], h.conns[i+1:]...)
				break
			}
		}
		h.gen++
		h.dialLocked() // its waiters need another connection
		h.mu.Unlock()
		return
	}
	avail, inFlight := cc.Available(), cc.InFlight()
	h.mu.Lock()
	h.gen++
	// A closing connection reports 0 and says nothing of the limit, nor
	// does a fresh one still at preSettingsStreams (a released stream).
	if n := avail + inFlight; avail > 0 && !(h.fresh[cc] && n == preSettingsStreams) {
		delete(h.fresh, cc)
		h.streams = n
	}
	h.mu.Unlock()
	h.serve(cc)
}

// serve reserves streams on cc for the waiters, in order, then dials for
// the ones left.
func (h *h2Host) serve(cc *http.ClientConn) {
	for {
		h.mu.Lock()
		var w *h2Waiter
		for len(h.queue) > 0 && w == nil {
			if h.queue[0].state.Load() == waiterWaiting {
				w = h.queue[0]
			}
			h.queue[0] = nil
			h.queue = h.queue[1:]
		}
		if w == nil {
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		if cc.Reserve() != nil {
			h.mu.Lock()
			h.queue = append([]*h2Waiter{w}, h.queue...)
			h.dialLocked()
			h.mu.Unlock()
			return
		}
		if w.state.CompareAndSwap(waiterWaiting, waiterServed) {
			h.mu.Lock()
			h.waiting--
			h.mu.Unlock()
			w.ch <- h2Grant{cc: cc}
		} else {
			cc.Release()
		}
	}
}
