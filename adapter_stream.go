package dspy

import "github.com/godspy/dspy/internal/fieldstream"

// NewFieldParser returns a parser that streams sig's output fields from a
// reply in ChatAdapter's format, as ChatAdapter.Parse reads it: a value is
// the trimmed text of the field's first `[[ ## name ## ]]` section, and a
// header counts only at the start of a line.
func (ChatAdapter) NewFieldParser(sig *Signature) FieldParser {
	return newFieldParser(fieldstream.NewChat(streamedFields(sig)))
}

// NewFieldParser returns a parser that streams sig's output fields from a
// reply in JSONAdapter's format. A string value streams its decoded text;
// any other value streams its JSON text, which decodes to the parsed value.
func (JSONAdapter) NewFieldParser(sig *Signature) FieldParser {
	return newFieldParser(fieldstream.NewJSON(streamedFields(sig)))
}

// NewFieldParser returns a parser that streams sig's output fields from a
// reply in XMLAdapter's format: the trimmed text between a field's first
// <name> and the next </name>, or the reply's end.
func (XMLAdapter) NewFieldParser(sig *Signature) FieldParser {
	return newFieldParser(fieldstream.NewXML(streamedFields(sig)))
}

func streamedFields(sig *Signature) []string {
	if sig == nil {
		return nil
	}
	names := make([]string, len(sig.outputs))
	for i, f := range sig.outputs {
		names[i] = f.Name
	}
	return names
}

// streamParser is what the parsers of package fieldstream have in common.
type streamParser interface {
	Write(text string, emit func(fieldstream.Chunk))
	Close(emit func(fieldstream.Chunk))
}

// fieldParser adapts a fieldstream parser to FieldParser. The converting
// callback is made once, not per Write: a closure handed through an
// interface call would be allocated on every call.
type fieldParser struct {
	p    streamParser
	emit func(FieldChunk)
	conv func(fieldstream.Chunk)
}

func newFieldParser(p streamParser) *fieldParser {
	f := &fieldParser{p: p}
	f.conv = func(c fieldstream.Chunk) { f.emit(FieldChunk(c)) }
	return f
}

func (f *fieldParser) Write(text string, emit func(FieldChunk)) {
	f.emit = emit
	f.p.Write(text, f.conv)
	f.emit = nil
}

func (f *fieldParser) Close(emit func(FieldChunk)) {
	f.emit = emit
	f.p.Close(f.conv)
	f.emit = nil
}

// The built-in adapters stream.
var (
	_ StreamingAdapter = ChatAdapter{}
	_ StreamingAdapter = JSONAdapter{}
	_ StreamingAdapter = XMLAdapter{}
)
