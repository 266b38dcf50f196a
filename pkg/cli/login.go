package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/infra-mind/infra-mind/pkg/api"
	"github.com/infra-mind/infra-mind/pkg/client"
)

// maxPasswordInput bounds what login reads from stdin: the gateway takes
// passwords of at most 128 characters (up to 4 bytes each).
const maxPasswordInput = 1024

// runLogin signs a user in through the gateway and prints the access token
// (or, with --json, the whole answer with the refresh token). The password
// is never a flag: flags show in `ps` and shell history.
func runLogin(ctx context.Context, args []string, io IO) error {
	fs := newFlagSet("login", io)
	url := fs.String("url", envOr(io.Env, "IM_GATEWAY_URL", "http://127.0.0.1:8080"), "gateway URL")
	tenant := fs.String("tenant", "", "tenant to sign in to (_platform for a platform operator)")
	email := fs.String("email", "", "the user's email address")
	totp := fs.String("totp-code", "", "the authenticator app's current code, for accounts with MFA (a code works once)")
	asJSON := fs.Bool("json", false, "print the gateway's whole answer as JSON: access and refresh tokens, expiries, user")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: infra-mind login --tenant T --email E [flags]\n"+
			"The password comes from $IM_PASSWORD or the first line of stdin, never from a flag.\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *tenant == "" {
		return usageError{errors.New("--tenant is required")}
	}
	if *email == "" {
		return usageError{errors.New("--email is required")}
	}
	pw, err := readPassword(io)
	if err != nil {
		return err
	}
	c, err := client.New(*url, "", nil)
	if err != nil {
		return usageError{err}
	}
	in := api.LoginRequest{Tenant: *tenant, Email: *email, Password: &pw}
	if *totp != "" {
		in.TOTPCode = totp
	}
	tok, raw, err := c.Login(ctx, in)
	if err != nil {
		var p *client.Problem
		if errors.As(err, &p) && p.Type == client.ProblemMFARequired && *totp == "" {
			return fmt.Errorf("sign in: %w\n  pass the authenticator app's current code with --totp-code", err)
		}
		return fmt.Errorf("sign in: %w", err)
	}
	if *asJSON {
		// The gateway's answer as sent, indented: its fields in its order.
		var b bytes.Buffer
		if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
			return fmt.Errorf("encode answer: %w", err)
		}
		fmt.Fprintln(io.Stdout, b.String())
		return nil
	}
	fmt.Fprintln(io.Stdout, tok.AccessToken)
	return nil
}

// readPassword takes IM_PASSWORD, else the first line of stdin (without
// its line ending; other whitespace is part of the password).
func readPassword(cio IO) (string, error) {
	if pw := envOr(cio.Env, "IM_PASSWORD", ""); pw != "" {
		return pw, nil
	}
	if cio.Stdin == nil {
		return "", usageError{errors.New("no password: set IM_PASSWORD or pipe it on stdin")}
	}
	if isTerminal(cio.Stdin) {
		// Without a terminal library the typed characters are echoed; say so.
		fmt.Fprint(cio.Stderr, "password (shown as you type; set IM_PASSWORD or pipe it in to avoid that): ")
	}
	line, err := bufio.NewReader(io.LimitReader(cio.Stdin, maxPasswordInput)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if pw == "" {
		return "", usageError{errors.New("no password: set IM_PASSWORD or pipe it on stdin")}
	}
	return pw, nil
}

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
