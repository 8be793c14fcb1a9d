// Package dspy is DSPy for Go: declare what a language-model step takes and
// produces (a Signature), run it with a module (Predict, ChainOfThought,
// ReAct), and compose modules into programs that call the LM concurrently and
// stream their answers.
//
// Every module can be called blocking with Call, or started with ACall and
// awaited later through a Future; Gather awaits several in order and Batch
// runs many inputs with bounded concurrency. Settings (the LM, the adapter,
// the trace hooks) travel in the context, so they follow a request across
// goroutines.
//
// The lm package holds the provider-neutral LM types; NewLM picks a provider
// from a "provider/model" string. Package streaming turns any program into a
// stream of field chunks, status messages and the final Prediction.
package dspy
