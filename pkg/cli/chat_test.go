package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/cli"
	"github.com/infra-mind/infra-mind/pkg/client"
	"github.com/infra-mind/infra-mind/pkg/llm/fakeopenai"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/report"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// infra-mind chat streams the consultant's answers to the terminal, from a
// gateway whose language model is the fake OpenAI server.
func TestChatStreamsAnswersToTheTerminal(t *testing.T) {
	t.Parallel()
	fake := fakeopenai.New()
	t.Cleanup(fake.Close)
	fake.Respond(func(r fakeopenai.Request) fakeopenai.Reply {
		if strings.Contains(r.Body.Messages[len(r.Body.Messages)-1].Content, "cost") {
			return fakeopenai.Reply{Text: "It costs $12,345.67 a month on demand."}
		}
		return fakeopenai.Reply{Text: "It runs on 8 GPUs. That is the plan."}
	})
	g := startPlatformWith(t, func(cfg *platform.Config) {
		cfg.Consultant.Providers = []platform.LLMProviderConfig{{Kind: "compatible", Name: "fake", BaseURL: fake.BaseURL(),
			Model: "fake-model", Timeout: 10 * time.Second, MaxRetryAfter: time.Second}}
	})
	tok, err := g.Ring.Signer(testIssuer, testAudience).Issue("ann", "acme", []string{"analyst"}, time.Hour)
	require.NoError(t, err)
	c, err := client.New(g.URL, tok, nil)
	require.NoError(t, err)
	body, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "startup-rag.yaml"))
	require.NoError(t, err)
	created, err := c.Submit(context.Background(), body, "application/yaml")
	require.NoError(t, err)
	doc := report.Document{Model: report.Model{AssessmentID: created.ID, TenantID: "acme", Name: "chat", Status: "completed",
		Executive: report.Executive{Summary: "The plan costs $12,345.67 a month on 8 GPUs.",
			Families: []report.FamilyLine{{Family: "cloud", Status: "ok"}}}}}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, g.P.Store.Reports.Upsert(context.Background(), store.Report{TenantID: "acme", AssessmentID: created.ID,
		Status: "completed", Body: string(b)}))

	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), []string{"chat", "--url", g.URL, "--token", tok, created.ID},
		cli.IO{Stdin: strings.NewReader("Why 8 GPUs?\n\nAnd the cost?\n"), Stdout: &out, Stderr: &errOut})
	require.Equal(t, 0, code, errOut.String())
	require.Equal(t, "It runs on 8 GPUs. That is the plan.\nIt costs $12,345.67 a month on demand.\n", out.String())
	require.Contains(t, errOut.String(), "conversation ")

	convs, err := c.Conversations(context.Background(), created.ID)
	require.NoError(t, err)
	require.Len(t, convs, 1)
	conv, err := c.Conversation(context.Background(), created.ID, convs[0].ID)
	require.NoError(t, err)
	require.Len(t, *conv.Messages, 4, "both questions and both answers are stored")

	// -m asks one question in the same conversation.
	out.Reset()
	code = cli.Run(context.Background(), []string{"chat", "--url", g.URL, "--token", tok, "--conversation", conv.ID, "-m", "Why?", created.ID},
		cli.IO{Stdout: &out, Stderr: &errOut})
	require.Equal(t, 0, code, errOut.String())
	require.Equal(t, "It runs on 8 GPUs. That is the plan.\n", out.String())
	require.Equal(t, 2, cli.Run(context.Background(), []string{"chat", "--token", tok}, cli.IO{Stdout: &out, Stderr: &errOut}),
		"no assessment named is a usage error")
}
