package cli

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// Development credentials: the key pair is generated on first use and kept
// outside the repository (under the data folder, or a volume in compose).
const (
	privateKeyFile = "signing.pem"
	publicKeyFile  = "signing.pub"
	totpKeysFile   = "totp.keys"
	devTenant      = "demo"
	devIssuer      = "infra-mind"
	devAudience    = "infra-mind-api"
)

// ensureKeys loads the key pair in dir, creating it when absent.
func ensureKeys(dir string) (priv ed25519.PrivateKey, created bool, err error) {
	path := filepath.Join(dir, privateKeyFile)
	k, err := auth.LoadPrivateKeyPEM(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("load signing key %s: %w", path, err)
	}
	if err := writeKeys(dir); err != nil {
		return nil, false, err
	}
	k, err = auth.LoadPrivateKeyPEM(path)
	return k, true, err
}

// ensureTOTPKeys returns the path of the development TOTP key set in dir,
// writing one with a new key (0600) when there is none.
func ensureTOTPKeys(dir string) (path string, created bool, err error) {
	path = filepath.Join(dir, totpKeysFile)
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("TOTP key set %s: %w", path, err)
	}
	line, err := identity.NewTOTPKeyLine("dev1")
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("create key folder: %w", err)
	}
	text := "# Development TOTP key set: the first key encrypts, every key decrypts.\n" + line + "\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", false, fmt.Errorf("write TOTP key set: %w", err)
	}
	return path, true, nil
}

func writeKeys(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key folder: %w", err)
	}
	k, err := auth.GenerateKey()
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	if err := auth.WritePrivateKeyPEM(filepath.Join(dir, privateKeyFile), k); err != nil {
		return err
	}
	return auth.WritePublicKeyPEM(filepath.Join(dir, publicKeyFile), k.Public().(ed25519.PublicKey))
}

func runKeygen(args []string, io IO) error {
	fs := newFlagSet("keygen", io)
	dir := fs.String("dir", envOr(io.Env, "IM_KEY_DIR", "data/keys"), "folder for signing.pem (private, 0600), signing.pub and totp.keys (0600)")
	force := fs.Bool("force", false, "replace an existing key pair (an existing TOTP key set is always kept: replacing it would lock every enrolled user out)")
	if err := parse(fs, args); err != nil {
		return err
	}
	// The TOTP key set is written whenever it is missing, also next to a
	// signing key made before it existed, so every deployment that runs
	// keygen encrypts its users' TOTP secrets at rest.
	totpPath, totpCreated, err := ensureTOTPKeys(*dir)
	if err != nil {
		return err
	}
	if totpCreated {
		fmt.Fprintf(io.Stdout, "wrote %s\n", totpPath)
	} else {
		fmt.Fprintf(io.Stdout, "TOTP key set already exists in %s (kept)\n", totpPath)
	}
	if _, err := os.Stat(filepath.Join(*dir, privateKeyFile)); err == nil && !*force {
		fmt.Fprintf(io.Stdout, "signing key already exists in %s (use --force to replace it)\n", *dir)
		return nil
	}
	if err := writeKeys(*dir); err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "wrote %s and %s\n", filepath.Join(*dir, privateKeyFile), filepath.Join(*dir, publicKeyFile))
	return nil
}

func runToken(args []string, io IO) error {
	fs := newFlagSet("token", io)
	keyFile := fs.String("key", envOr(io.Env, "IM_SIGNING_KEY_FILE", "data/keys/"+privateKeyFile), "private signing key (PEM)")
	tenant := fs.String("tenant", devTenant, "tenant the token is for")
	subject := fs.String("subject", "dev-user", "user the token is for")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	issuer := fs.String("issuer", envOr(io.Env, "IM_AUTH_ISSUER", devIssuer), "token issuer (must match the gateway's IM_AUTH_ISSUER)")
	audience := fs.String("audience", envOr(io.Env, "IM_AUTH_AUDIENCE", devAudience), "token audience (must match the gateway's IM_AUTH_AUDIENCE)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *tenant == "" {
		return usageError{errors.New("--tenant must not be empty")}
	}
	if *ttl <= 0 {
		return usageError{errors.New("--ttl must be positive")}
	}
	k, err := auth.LoadPrivateKeyPEM(*keyFile)
	if err != nil {
		return fmt.Errorf("load signing key (run `infra-mind keygen` or `make run` first): %w", err)
	}
	tok, err := auth.NewSigner(k, *issuer, *audience).Issue(*subject, *tenant, []string{"owner"}, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(io.Stdout, tok)
	return nil
}
