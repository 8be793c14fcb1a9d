package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godspy/dspy/dspytest"
)

// serveLM runs dspytest.NewServer in this process (a process apart from
// the client, so the client's getrusage and peak RSS count the client
// only) and prints "URL <api root> STAMPS <url>" on stdout. It serves until
// stdin closes.
//
// With -stamps, clients are sent through a relay in this process that
// records, for every reply token, the moment it forwarded the token's chunk
// to the client: that is the "server write" time of delivery latency. GET
// STAMPS returns them.
func serveLM(args []string) error {
	fs := flag.NewFlagSet("serve-lm", flag.ExitOnError)
	ttft := fs.Duration("ttft", 0, "time to first token (blocking calls: time to the response)")
	delay := fs.Duration("delay", 0, "delay between streamed chunks")
	words := fs.Int("words", 20, "reply tokens")
	stamps := fs.Bool("stamps", false, "relay with per-token write timestamps")
	h2 := fs.Bool("h2", false, "serve over TLS with HTTP/2 (h2.go)")
	fs.Parse(args)

	srv := dspytest.NewServer(
		dspytest.WithoutRecording(),
		dspytest.WithTimeToFirstToken(*ttft),
		dspytest.WithChunkDelay(*delay),
		dspytest.WithChunkWords(1),
		dspytest.WithResponder(responder(*words)),
	)
	defer srv.Close()
	url := srv.URL()
	if *h2 {
		return serveH2(url, *stamps)
	}
	stampURL := "-"
	if *stamps {
		r, err := newRelay(strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/v1"))
		if err != nil {
			return err
		}
		defer r.Close()
		url = "http://" + r.ln.Addr().String() + "/v1"
		stampURL = "http://" + r.ctl.Addr().String() + "/stamps"
	}
	fmt.Printf("URL %s STAMPS %s\n", url, stampURL)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

var questionID = regexp.MustCompile(`Question #(\d+)`)

// responder answers a ChatAdapter prompt with a ChatAdapter reply, and any
// other prompt (dspy-go's format) as dspy-go's parser reads it: a line
// "answer:" and the value on the next lines.
func responder(words int) func(*dspytest.ChatRequest) dspytest.Answer {
	return func(req *dspytest.ChatRequest) dspytest.Answer {
		id := 0
		chat := false
		for _, m := range req.Messages {
			if strings.Contains(m.Content, "[[ ## answer ## ]]") {
				chat = true
			}
			if s := questionID.FindStringSubmatch(m.Content); s != nil {
				id, _ = strconv.Atoi(s[1])
			}
		}
		text := replyWords(id, words)
		if chat {
			return dspytest.Answer{Text: "[[ ## answer ## ]]\n" + text + "\n\n[[ ## completed ## ]]"}
		}
		return dspytest.Answer{Text: "answer:\n" + text}
	}
}

// relay is a TCP relay in front of the server that timestamps tokens in
// the bytes it forwards to clients.
type relay struct {
	ln, ctl net.Listener
	backend string

	mu     sync.Mutex
	stamps map[token]int64 // first forward time, Unix ns
}

func newRelay(backend string) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, ctl: ctl, backend: backend, stamps: map[token]int64{}}
	go r.accept()
	go http.Serve(ctl, http.HandlerFunc(r.serveStamps))
	return r, nil
}

func (r *relay) Close() { r.ln.Close(); r.ctl.Close() }

func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.pipe(c)
	}
}

func (r *relay) pipe(c net.Conn) {
	defer c.Close()
	b, err := net.Dial("tcp", r.backend)
	if err != nil {
		return
	}
	defer b.Close()
	go func() {
		io.Copy(b, c)
		b.(*net.TCPConn).CloseWrite()
	}()
	buf := make([]byte, 64<<10)
	carry := make([]byte, 0, 64)
	var found []token
	for {
		n, err := b.Read(buf)
		if n > 0 {
			now := time.Now().UnixNano()
			found = found[:0]
			scan := append(carry, buf[:n]...)
			scanTokens(scan, false, true, func(t token) { found = append(found, t) })
			if len(found) > 0 {
				r.mu.Lock()
				for _, t := range found {
					if _, ok := r.stamps[t]; !ok {
						r.stamps[t] = now
					}
				}
				r.mu.Unlock()
			}
			carry = append(carry[:0], scan[max(0, len(scan)-32):]...)
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serveStamps writes the stamps as binary records: stream, word int32 and
// time int64, little endian.
func (r *relay) serveStamps(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bw := bufio.NewWriter(w)
	var rec [16]byte
	for t, ns := range r.stamps {
		binary.LittleEndian.PutUint32(rec[0:], uint32(t.stream))
		binary.LittleEndian.PutUint32(rec[4:], uint32(t.word))
		binary.LittleEndian.PutUint64(rec[8:], uint64(ns))
		bw.Write(rec[:])
	}
	bw.Flush()
}

func fetchStamps(ctx context.Context, url string) (map[token]int64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	m := make(map[token]int64, len(body)/16)
	for i := 0; i+16 <= len(body); i += 16 {
		t := token{int32(binary.LittleEndian.Uint32(body[i:])), int32(binary.LittleEndian.Uint32(body[i+4:]))}
		m[t] = int64(binary.LittleEndian.Uint64(body[i+8:]))
	}
	return m, nil
}
