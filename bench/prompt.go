package main

import (
	"errors"
	"strconv"
	"strings"
)

// The hand-written DSPy ChatAdapter prompt for "question -> answer", byte
// for byte what godspy (and DSPy) send, used by the floor and by the bare
// SDK contenders (openai-go, langchaingo, eino).
const chatSystem = "Your input fields are:\n1. `question` (str)\nYour output fields are:\n1. `answer` (str)\nAll interactions will be structured in the following way, with the appropriate values filled in.\n\n[[ ## question ## ]]\n{question}\n\n[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]\nIn adhering to this structure, your objective is: \n        Given the fields `question`, produce the fields `answer`."

func chatUser(question string) string {
	return "[[ ## question ## ]]\n" + question + "\n\nRespond with the corresponding output fields, starting with the field `[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`."
}

// parseAnswer is the hand-written ChatAdapter parse: the text between the
// answer marker and the next marker, trimmed.
func parseAnswer(reply string) (string, error) {
	const head = "[[ ## answer ## ]]"
	i := strings.Index(reply, head)
	if i < 0 {
		return "", errors.New("no answer field in reply: " + strconv.Quote(reply))
	}
	rest := reply[i+len(head):]
	if j := strings.Index(rest, "[[ ## "); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest), nil
}

// question returns the question of call id; the server's reply tokens carry
// the id, so delivery latency can be matched per stream.
func question(id int) string {
	return "Question #" + strconv.Itoa(id) + ": what is the capital of France?"
}

// replyWords is the answer the server writes for call id: "words:" then n
// tokens " s<id>w<i>", one streamed chunk each.
func replyWords(id, n int) string {
	var b strings.Builder
	b.WriteString("words:")
	for i := range n {
		b.WriteString(" s")
		b.WriteString(strconv.Itoa(id))
		b.WriteByte('w')
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// token is one reply word: stream id and index.
type token struct{ stream, word int32 }

// scanTokens calls f for every " s<d>w<d>" in b (a token must follow a
// space, or start b when atStart; with needEnd it must not end b, as it
// could be cut).
func scanTokens(b []byte, atStart, needEnd bool, f func(token)) {
	for i := 0; i < len(b); i++ {
		if b[i] != 's' || (i == 0 && !atStart) || (i > 0 && b[i-1] != ' ') {
			continue
		}
		j := i + 1
		s, ok := num(b, &j)
		if !ok || j >= len(b) || b[j] != 'w' {
			continue
		}
		j++
		w, ok := num(b, &j)
		if !ok || (needEnd && j == len(b)) || (j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] >= 'a' && b[j] <= 'z')) {
			continue
		}
		f(token{int32(s), int32(w)})
		i = j - 1
	}
}

func num(b []byte, j *int) (int, bool) {
	n, start := 0, *j
	for *j < len(b) && b[*j] >= '0' && b[*j] <= '9' && *j-start < 9 {
		n = n*10 + int(b[*j]-'0')
		*j++
	}
	return n, *j > start
}
