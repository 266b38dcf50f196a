package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/client"
)

// runChat is `infra-mind chat [flags] <assessment-id>`: a conversation with
// the consultant about an assessment, each answer streamed to the terminal
// as it is written. With -m it asks one question and exits; otherwise it
// reads questions from standard input, one a line, until end of input.
func runChat(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("chat", io)
	url := fs.String("url", envOr(io.Env, "IM_GATEWAY_URL", "http://127.0.0.1:8080"), "gateway URL")
	token := tokenFlag(fs, io.Env)
	conversation := fs.String("conversation", "", "continue this conversation (default: start a new one)")
	title := fs.String("title", "", "name of a new conversation")
	message := fs.String("m", "", "ask this one question and exit (default: read questions from standard input)")
	fs.Usage = func() {
		fmt.Fprintln(io.Stderr, "Usage: infra-mind chat [flags] <assessment-id>")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("name one assessment: infra-mind chat [flags] <assessment-id>")}
	}
	id := fs.Arg(0)
	if token.v == "" {
		return usageError{errors.New("no token: pass --token or set IM_TOKEN")}
	}
	c, err := client.New(*url, token.v, nil)
	if err != nil {
		return usageError{err}
	}
	cid := *conversation
	if cid == "" {
		conv, err := c.StartConversation(ctx, id, *title)
		if err != nil {
			return err
		}
		cid = conv.ID
		fmt.Fprintf(io.Stderr, "conversation %s (continue it with --conversation %s)\n", cid, cid)
	}
	if *message != "" {
		return ask(ctx, c, id, cid, *message, io.Stdout, io.Stderr)
	}
	if io.Stdin == nil {
		return usageError{errors.New("no question: pass -m or write questions to standard input")}
	}
	sc := bufio.NewScanner(io.Stdin)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for {
		fmt.Fprint(io.Stderr, "> ")
		if !sc.Scan() {
			fmt.Fprintln(io.Stderr)
			return sc.Err()
		}
		q := strings.TrimSpace(sc.Text())
		if q == "" {
			continue
		}
		if err := ask(ctx, c, id, cid, q, io.Stdout, io.Stderr); err != nil {
			var p *client.Problem
			if errors.As(err, &p) && p.Status < 500 && p.Status != 429 {
				// A refused question (too long, ...): say why and go on.
				fmt.Fprintf(io.Stderr, "refused: %v\n", err)
				continue
			}
			return err
		}
	}
}

// ask sends one question and prints the answer as it streams: text to out,
// tool calls, withdrawals and notes to notes.
func ask(ctx context.Context, c *client.Client, id, cid, q string, out, notes io.Writer) error {
	msg, err := c.Ask(ctx, id, cid, q, func(ev client.ChatEvent) error {
		switch {
		case ev.Token != nil:
			fmt.Fprint(out, ev.Token.Text)
		case ev.Tool != nil:
			switch ev.Tool.Status {
			case "started":
				fmt.Fprintf(notes, "[%s ...]\n", ev.Tool.Name)
			case "failed":
				reason := ""
				if ev.Tool.Error != nil {
					reason = ": " + *ev.Tool.Error
				}
				fmt.Fprintf(notes, "[%s failed%s]\n", ev.Tool.Name, reason)
			}
		case ev.Retract != nil:
			fmt.Fprintf(out, "\n[withdrawn: %s]\n", ev.Retract.Reason)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(out)
		return err
	}
	fmt.Fprintln(out)
	if msg.Note != nil && *msg.Note != "" {
		fmt.Fprintf(notes, "note: %s\n", *msg.Note)
	}
	return nil
}
