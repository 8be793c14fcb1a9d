package main

import "testing"

func TestMatchReply(t *testing.T) {
	for _, n := range []int{0, 1, 20} {
		if !matchReply(replyWords(7, n), 7, n) {
			t.Errorf("matchReply(replyWords(7, %d)) = false", n)
		}
		if matchReply(replyWords(7, n)+" x", 7, n) || matchReply(replyWords(8, n+1), 7, n+1) {
			t.Errorf("matchReply accepted a wrong reply (n=%d)", n)
		}
	}
	r := replyWords(3, 20)
	if a := testing.AllocsPerRun(100, func() { matchReply(r, 3, 20) }); a > 0 {
		t.Errorf("matchReply allocates %v times", a)
	}
}

func TestScanTokens(t *testing.T) {
	var got []token
	scanTokens([]byte(`{"content":" s12w3"} s1w2 xs4w5 s7w8`), false, true, func(tk token) { got = append(got, tk) })
	want := []token{{12, 3}, {1, 2}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("scanTokens = %v, want %v (a token at the end of the buffer may be cut)", got, want)
	}
}
