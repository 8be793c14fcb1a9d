package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDotenv(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []envPair
		wantErr    string
	}{
		{"empty", "", nil, ""},
		{"plain", "OPENAI_API_KEY=sk-123\n", []envPair{{"OPENAI_API_KEY", "sk-123"}}, ""},
		{"no trailing newline", "A=1", []envPair{{"A", "1"}}, ""},
		{"comments and blanks", "# a comment\n\n  # indented\nA=1\n", []envPair{{"A", "1"}}, ""},
		{"spaces around", "  A = hello world  \n", []envPair{{"A", "hello world"}}, ""},
		{"export", "export DSPY_LM=ollama_chat/llama3.2\n", []envPair{{"DSPY_LM", "ollama_chat/llama3.2"}}, ""},
		{"inline comment", "A=value # note\nB=x#not-a-comment\n", []envPair{{"A", "value"}, {"B", "x#not-a-comment"}}, ""},
		{"double quotes", `A="two words # kept"` + "\n", []envPair{{"A", "two words # kept"}}, ""},
		{"double-quote escapes", `A="line1\nline2\t\"q\" \\"`, []envPair{{"A", "line1\nline2\t\"q\" \\"}}, ""},
		{"single quotes literal", `A='no \n escape'`, []envPair{{"A", `no \n escape`}}, ""},
		{"comment after quotes", `A="v"   # why` + "\nB=2", []envPair{{"A", "v"}, {"B", "2"}}, ""},
		{"multi-line quoted", "A=\"first\nsecond\"\nB=2\n", []envPair{{"A", "first\nsecond"}, {"B", "2"}}, ""},
		{"empty value", "A=\nB=\"\"\n", []envPair{{"A", ""}, {"B", ""}}, ""},
		{"equals in value", "URL=http://h/?a=b\n", []envPair{{"URL", "http://h/?a=b"}}, ""},
		{"CRLF and BOM", "\uFEFFA=1\r\nB=2\r\n", []envPair{{"A", "1"}, {"B", "2"}}, ""},
		{"not KEY=VALUE", "A=1\njust words\n", nil, `.env line 2: "just words" is not KEY=VALUE`},
		{"bad name", "1A=x\n", nil, `.env line 1: "1A" is not a valid variable name`},
		{"unclosed quote", "A=1\nB=\"open\n", nil, ".env line 2: B: no closing \""},
		{"junk after quote", `A="v" w`, nil, `.env line 1: A: unexpected "w" after the closing quote`},
		{"line numbers after multi-line", "A=\"x\ny\"\nbad\n", nil, `.env line 3: "bad" is not KEY=VALUE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDotenv(tc.text)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("parseDotenv(%q) error = %v, want %q", tc.text, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseDotenv(%q): %v", tc.text, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseDotenv(%q) (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

func TestLoadDotenv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("OPENAI_API_KEY=from-file\nDSPY_LM=\"ollama_chat/llama3.2\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OPENAI_API_KEY": "already-set"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	setenv := func(k, v string) error { env[k] = v; return nil }

	set, err := loadDotenv(path, lookup, setenv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"DSPY_LM"}, set); diff != "" {
		t.Errorf("keys set (-want +got):\n%s", diff)
	}
	want := map[string]string{"OPENAI_API_KEY": "already-set", "DSPY_LM": "ollama_chat/llama3.2"}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}

	if set, err := loadDotenv(filepath.Join(dir, "missing.env"), lookup, setenv); err != nil || set != nil {
		t.Errorf("missing file: got %v, %v; want nothing and no error", set, err)
	}
	bad := filepath.Join(dir, "bad.env")
	os.WriteFile(bad, []byte("oops\n"), 0o600)
	if _, err := loadDotenv(bad, lookup, setenv); err == nil || !strings.Contains(err.Error(), "bad.env: .env line 1") {
		t.Errorf("bad file: error %v, want one naming the file and line", err)
	}
}
