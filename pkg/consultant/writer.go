package consultant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/llm"
	"github.com/infra-mind/infra-mind/pkg/report"
)

// Defaults of WriterConfig.
const (
	DefaultMaxWords  = 180
	DefaultMaxTokens = 400
	DefaultMaxChars  = 2000
)

// WriterConfig caps what the model may write.
type WriterConfig struct {
	// MaxWords is asked for in the prompt; MaxTokens caps the completion at
	// the provider; MaxChars cuts whatever comes back (at a sentence end).
	MaxWords  int
	MaxTokens int
	MaxChars  int
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.MaxWords <= 0 {
		c.MaxWords = DefaultMaxWords
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.MaxChars <= 0 {
		c.MaxChars = DefaultMaxChars
	}
	return c
}

// Writer writes grounded narratives with a language model: each section is
// generated, its numbers checked against the report, regenerated once if
// any is not there, and replaced by the deterministic summary if it still
// fails.
type Writer struct {
	llm     llm.Completer
	cfg     WriterConfig
	metrics *Metrics
}

// NewWriter builds a writer; metrics may be nil (nothing recorded).
func NewWriter(c llm.Completer, cfg WriterConfig, m *Metrics) (*Writer, error) {
	if c == nil {
		return nil, errors.New("consultant: a language model client is required")
	}
	return &Writer{llm: c, cfg: cfg.withDefaults(), metrics: m}, nil
}

// Notes on sections that are not generated text.
const (
	NoteUngrounded = "The generated text stated numbers that are not in this report (%s), twice; the deterministic summary is shown instead."
	NoteNoProvider = "No language model provider answered; the deterministic summary is shown instead."
	NoteEmpty      = "The generated text was empty; the deterministic summary is shown instead."
	NoteOverBudget = "No text was generated: %s; the deterministic summary is shown instead."
)

// metered is the writer with its model metered against tenant's budgets
// (b nil: unchanged).
func (w *Writer) metered(b Budget, tenant string) *Writer {
	if b == nil {
		return w
	}
	cp := *w
	cp.llm = b.Meter(tenant, w.llm)
	return &cp
}

// Write writes the narrative of doc for audience. progress is called after
// each section (the consumer extends its ack deadline with it). An error
// means no provider answered for some section: the caller retries later or
// stores Fallback. A section refused by the tenant's budget, and every
// section after it, is the deterministic summary with a note.
func (w *Writer) Write(ctx context.Context, doc report.Document, audience string, progress func()) (report.Narrative, llm.Usage, error) {
	if !ValidAudience(audience) {
		return report.Narrative{}, llm.Usage{}, fmt.Errorf("consultant: audience %q: want one of %s", audience, strings.Join(Audiences(), ", "))
	}
	grounds := GroundsOf(doc)
	var usage llm.Usage
	var providers, models []string
	overNote := ""
	section := func(family string, data any, fallback, task string) (report.NarrativeSection, error) {
		if overNote != "" {
			w.metrics.section(false)
			return report.NarrativeSection{Family: family, Text: fallback, Note: overNote}, nil
		}
		msgs, err := messages(audience, w.cfg.MaxWords, data, task)
		if err != nil {
			return report.NarrativeSection{}, err
		}
		s, u, res, err := w.section(ctx, grounds, msgs, family, fallback)
		usage = addUsage(usage, u)
		if ee, over := overBudget(err); over {
			overNote = fmt.Sprintf(NoteOverBudget, budgetNote(ee))
			w.metrics.section(false)
			if progress != nil {
				progress()
			}
			return report.NarrativeSection{Family: family, Text: fallback, Note: overNote}, nil
		}
		if err != nil {
			return report.NarrativeSection{}, err
		}
		if res.Provider != "" && !slices.Contains(providers, res.Provider) {
			providers = append(providers, res.Provider)
		}
		if res.Model != "" && !slices.Contains(models, res.Model) {
			models = append(models, res.Model)
		}
		if progress != nil {
			progress()
		}
		return s, nil
	}
	n := report.Narrative{Audience: audience}
	overall, err := section("", overallPromptData(doc), doc.Executive.Summary,
		"Write the overall narrative of this assessment for the "+report.AudienceTitle(audience)+".")
	if err != nil {
		return report.Narrative{}, usage, err
	}
	n.Overall = overall
	for _, f := range doc.Families {
		s, err := section(f.Family, familyPromptData(f), familySummary(f),
			"Write the narrative of the "+f.Family+" analysis for the "+report.AudienceTitle(audience)+".")
		if err != nil {
			return report.Narrative{}, usage, err
		}
		n.Families = append(n.Families, s)
	}
	n.Provider = strings.Join(providers, ", ")
	n.Model = strings.Join(models, ", ")
	return n, usage, nil
}

// Fallback is the narrative when no provider answered: every section the
// deterministic summary, with the reason.
func Fallback(doc report.Document, audience, note string) report.Narrative {
	n := report.Narrative{Audience: audience,
		Overall: report.NarrativeSection{Text: doc.Executive.Summary, Note: note}}
	for _, f := range doc.Families {
		n.Families = append(n.Families, report.NarrativeSection{Family: f.Family, Text: familySummary(f), Note: note})
	}
	return n
}

func familySummary(f report.FamilySection) string {
	if f.Summary != "" {
		return f.Summary
	}
	if f.Error != "" {
		return "The " + f.Family + " analysis failed: " + f.Error
	}
	return "The " + f.Family + " analysis has no summary."
}

// section generates one section, checks it, regenerates once, falls back.
func (w *Writer) section(ctx context.Context, grounds Grounds, msgs []llm.Message, family, fallback string) (report.NarrativeSection, llm.Usage, llm.Response, error) {
	var usage llm.Usage
	var last llm.Response
	for try := 0; try < 2; try++ {
		res, err := w.llm.Complete(ctx, llm.Request{Messages: msgs, MaxTokens: w.cfg.MaxTokens, Temperature: 0.2})
		if err != nil {
			return report.NarrativeSection{}, usage, last, err
		}
		last = res
		usage = addUsage(usage, res.Usage)
		text := capText(res.Text, w.cfg.MaxChars)
		bad := grounds.Unsupported(text)
		ok := len(bad) == 0 && text != ""
		w.metrics.check(ok)
		if ok {
			w.metrics.section(true)
			return report.NarrativeSection{Family: family, Text: text, Generated: true}, usage, res, nil
		}
		if try == 1 {
			w.metrics.section(false)
			note := NoteEmpty
			if text != "" {
				note = fmt.Sprintf(NoteUngrounded, numbersText(bad))
			}
			return report.NarrativeSection{Family: family, Text: fallback, Note: note}, usage, res, nil
		}
		retry := "Rewrite it. Your text was empty."
		if text != "" {
			retry = "Rewrite it. These numbers in your text are not in the assessment data: " + numbersText(bad) +
				". Use only numbers that appear in the data, exactly or rounded."
		}
		msgs = append(slices.Clone(msgs), llm.Message{Role: llm.RoleAssistant, Content: text}, llm.Message{Role: llm.RoleUser, Content: retry})
	}
	return report.NarrativeSection{}, usage, last, errors.New("unreachable")
}

func numbersText(ns []Number) string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		if !slices.Contains(out, n.Text) {
			out = append(out, n.Text)
		}
		if len(out) == 5 {
			break
		}
	}
	return strings.Join(out, ", ")
}

// capText trims text and cuts it to at most n bytes, at the last sentence
// end before the cap when there is one.
func capText(text string, n int) string {
	text = strings.TrimSpace(text)
	if len(text) <= n {
		return text
	}
	cut := text[:n]
	// Do not split a UTF-8 sequence.
	for len(cut) > 0 && cut[len(cut)-1]&0xC0 == 0x80 {
		cut = cut[:len(cut)-1]
	}
	if len(cut) > 0 && cut[len(cut)-1] >= 0xC0 {
		cut = cut[:len(cut)-1]
	}
	if i := strings.LastIndexAny(cut, ".!?"); i > n/2 {
		return cut[:i+1]
	}
	return strings.TrimSpace(cut) + "…"
}

func addUsage(a, b llm.Usage) llm.Usage {
	return llm.Usage{PromptTokens: a.PromptTokens + b.PromptTokens, CompletionTokens: a.CompletionTokens + b.CompletionTokens,
		TotalTokens: a.TotalTokens + b.TotalTokens}
}
