package dspy

// Inputs are the input field values of one call, keyed by field name.
type Inputs map[string]any

// Example is a demonstration for few-shot prompting: input and output values
// of one solved case, keyed by field name.
type Example map[string]any
