package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// envPair is one KEY=VALUE entry of a .env file.
type envPair struct {
	Key, Value string
}

// parseDotenv reads .env text as python-dotenv's load_dotenv does: one
// KEY=VALUE a line, an optional "export " before the key, blank lines and
// lines starting with # ignored, values unquoted (a " #" starts a comment),
// in single quotes (literal) or in double quotes (\n, \t, \", \\ escapes;
// may span lines). Variable expansion (${VAR}) is not done. A line it cannot
// read is an error naming the line.
func parseDotenv(text string) ([]envPair, error) {
	text = strings.TrimPrefix(text, "\uFEFF")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var pairs []envPair
	line := 1
	for len(text) > 0 {
		var raw string
		raw, text, _ = strings.Cut(text, "\n")
		startLine := line
		line++
		s := strings.TrimSpace(raw)
		if s == "" || s[0] == '#' {
			continue
		}
		s = strings.TrimPrefix(s, "export ")
		key, rest, ok := strings.Cut(s, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, fmt.Errorf(".env line %d: %q is not KEY=VALUE", startLine, raw)
		}
		if !isEnvKey(key) {
			return nil, fmt.Errorf(".env line %d: %q is not a valid variable name", startLine, key)
		}
		rest = strings.TrimLeft(rest, " \t")
		var value string
		var err error
		switch {
		case strings.HasPrefix(rest, `"`) || strings.HasPrefix(rest, `'`):
			// A quoted value may continue on the next lines.
			var consumed int
			value, consumed, err = quotedValue(rest + "\n" + text)
			if err != nil {
				return nil, fmt.Errorf(".env line %d: %s: %w", startLine, key, err)
			}
			if extra := consumed - len(rest) - 1; extra > 0 {
				line += strings.Count(text[:extra], "\n")
				text = text[extra:]
			}
		default:
			value = unquotedValue(rest)
		}
		pairs = append(pairs, envPair{key, value})
	}
	return pairs, nil
}

func isEnvKey(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		letter := c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '.')) {
			return false
		}
	}
	return true
}

// unquotedValue trims the value and drops an inline comment (" #...").
func unquotedValue(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			s = s[:i]
			break
		}
	}
	return strings.TrimSpace(s)
}

// quotedValue reads a quoted value at the start of s and returns it and how
// many bytes of s it used, up to the end of the closing quote's line.
func quotedValue(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	i := 1
	for ; i < len(s); i++ {
		c := s[i]
		if c == q {
			break
		}
		if c == '\\' && q == '"' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '"', '\\', '$':
				b.WriteByte(s[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
			continue
		}
		if c == '\\' && q == '\'' && i+1 < len(s) && s[i+1] == '\'' {
			i++
			b.WriteByte('\'')
			continue
		}
		b.WriteByte(c)
	}
	if i >= len(s) {
		return "", 0, fmt.Errorf("no closing %c", q)
	}
	// After the closing quote only spaces and a comment may follow.
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		end = len(s) - i
	}
	tail := strings.TrimSpace(s[i+1 : i+end])
	if tail != "" && tail[0] != '#' {
		return "", 0, fmt.Errorf("unexpected %q after the closing quote", tail)
	}
	return b.String(), min(i+end+1, len(s)), nil
}

// loadDotenv reads the .env file at path, if there is one, into the
// environment through setenv, never overriding a variable that lookup
// finds already set. It returns the keys it set. A missing file is not an
// error.
func loadDotenv(path string, lookup func(string) (string, bool), setenv func(k, v string) error) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	pairs, err := parseDotenv(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var set []string
	for _, p := range pairs {
		if _, ok := lookup(p.Key); ok {
			continue
		}
		if err := setenv(p.Key, p.Value); err != nil {
			return set, fmt.Errorf("%s: setting %s: %w", path, p.Key, err)
		}
		set = append(set, p.Key)
	}
	return set, nil
}
