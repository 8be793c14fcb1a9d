package main

import "strings"

// demoTopic is what the demo LM "knows" about a question: a few subjects
// have written answers, everything else gets an honest scripted reply.
type demoTopic struct {
	keys   []string // all must occur in the lower-cased question
	think  string
	says   string
	detail string // appended when the question asks for detail
}

var demoTopics = []demoTopic{
	{
		keys:   []string{"tide"},
		think:  "Tides are about gravity acting on the oceans. The Moon pulls hardest on the water nearest to it and least on the water farthest away, and that difference stretches the oceans into two bulges. The Earth turns under those bulges, so most coasts see two high tides a day. The Sun adds a smaller pull that strengthens or weakens the effect.",
		says:   "Ocean tides are caused mainly by the Moon's gravity. Because the Moon pulls more strongly on the side of the Earth facing it than on the far side, the oceans bulge out in two places: toward the Moon and away from it. As the Earth rotates through these bulges each day, most coastlines get two high tides and two low tides. The Sun's gravity also contributes: when the Sun and Moon line up (new and full moon) the tides are highest, the spring tides, and when they pull at right angles the tides are weakest, the neap tides.",
		detail: " The exact height and timing of the tide at a given place also depend on the shape of the coastline and the sea floor. In a funnel-shaped bay such as the Bay of Fundy the water piles up and the range can exceed fifteen metres, while in enclosed seas such as the Mediterranean it is often only a few centimetres. Tides also slowly transfer energy from the Earth's rotation to the Moon's orbit, which is why the day is lengthening very slightly and the Moon is drifting away by a few centimetres a year.",
	},
	{
		keys:   []string{"sky", "blue"},
		think:  "The colour of the sky comes from how sunlight scatters off the molecules of the air. Shorter wavelengths scatter much more strongly than longer ones, so blue light is sent in every direction across the sky.",
		says:   "The sky looks blue because of Rayleigh scattering. Sunlight contains every colour, but the nitrogen and oxygen molecules in the air scatter short wavelengths far more strongly than long ones, roughly with the fourth power of the frequency. Blue light is therefore scattered all over the sky and reaches your eyes from every direction, while most of the red and yellow light travels straight on. Violet is scattered even more, but the Sun emits less of it and our eyes are less sensitive to it, so we see blue.",
		detail: " At sunrise and sunset the light crosses much more air before it reaches you, so most of the blue has been scattered away along the path and the remaining light is orange and red. On Mars, by contrast, fine dust makes the daytime sky butterscotch and the sunsets bluish.",
	},
	{
		keys:  []string{"capital", "france"},
		think: "The question asks for the capital city of France. That is a well-known fact: the seat of government and the largest city is Paris.",
		says:  "The capital of France is Paris.",
	},
}

// topicFor returns the topic whose keys the question contains, or the
// generic one.
func topicFor(question string) demoTopic {
	q := strings.ToLower(question)
	for _, t := range demoTopics {
		all := true
		for _, k := range t.keys {
			all = all && strings.Contains(q, k)
		}
		if all {
			return t
		}
	}
	return demoTopic{}
}

// wantsDetail reports whether a question asks for a long answer.
func wantsDetail(question string) bool {
	q := strings.ToLower(question)
	for _, w := range []string{"detail", "long", "essay", "thorough", "explain everything"} {
		if strings.Contains(q, w) {
			return true
		}
	}
	return false
}

func (t demoTopic) reasoning(question string) string {
	if t.think != "" {
		return t.think
	}
	return "The input is \"" + oneLine(question) + "\". I am godspy's offline demo LM, so I do not actually know the answer; I will write a scripted reply that shows how a real model's answer would stream, field by field and token by token."
}

func (t demoTopic) answer(question string) string {
	var b strings.Builder
	if t.says != "" {
		b.WriteString(t.says)
		if wantsDetail(question) {
			b.WriteString(t.detail)
		}
	} else {
		b.WriteString("This reply comes from godspy's offline demo LM, which writes scripted text so that you can watch a stream without a model. Your input was \"" + oneLine(question) + "\". A real model reads the prompt that the adapter builds from the signature, reasons step by step, and then writes each output field in turn, exactly as you see here. To get a real answer, set OPENAI_API_KEY (or another provider's key), or run a local model with --lm ollama_chat/llama3.2.")
	}
	if wantsDetail(question) {
		b.WriteString(demoMechanics)
	}
	return b.String()
}

// demoMechanics lengthens answers that ask for detail, so a stream runs
// long enough to be stopped halfway.
const demoMechanics = "\n\nHow this answer reached you: the program's predictor asked the LM to stream, a listener bound to each output field parsed the reply as it arrived, and each piece of a field's value was sent on as soon as it could no longer be the start of the next field's marker. In the terminal those pieces are printed as they come; over HTTP each one is a server-sent event that the page appends to the field it belongs to. Pressing stop, or Ctrl-C in the terminal, cancels the context of the run, which closes the LM request, so no tokens are paid for after you stop reading. Status lines come from hooks on module, LM and tool calls, and they are delivered the moment the hook fires, in order with the chunks around them. When the reply is complete, the adapter parses the whole text into typed values, and the final prediction arrives as the last event of the stream."

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}
