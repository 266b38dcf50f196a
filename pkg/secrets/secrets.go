// Package secrets gives the services their secrets (token verification
// keys, signing keys, LLM API keys) through one small interface, so the same
// code reads them from the environment in development, from mounted files in
// Kubernetes, and from HashiCorp Vault's KV v2 engine in production (the
// Vault provider is pkg/secrets/vault, so only processes that use it link
// its client).
package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Sentinel errors callers branch on (wrapped with the secret's name).
var (
	// ErrNotFound means the provider has no secret of that name.
	ErrNotFound = errors.New("secret not found")
	// ErrInvalidName means the name is not a valid secret name.
	ErrInvalidName = errors.New("invalid secret name")
	// ErrSealed means Vault answered but is sealed (HTTP 503).
	ErrSealed = errors.New("vault is sealed")
	// ErrUnreachable means the provider's server did not answer.
	ErrUnreachable = errors.New("secret provider unreachable")
	// ErrPermissionDenied means the server refused the credentials (HTTP 403).
	ErrPermissionDenied = errors.New("permission denied by the secret provider")
)

// Secret is one secret's value and the version it was read at.
type Secret struct {
	Value []byte
	// Version changes whenever the value may have changed: Vault's version
	// number, or a content digest for the environment and files.
	Version string
}

// Provider reads secrets by name.
type Provider interface {
	// Get returns the current value of the named secret.
	Get(ctx context.Context, name string) (Secret, error)
}

// namePattern is what a secret name may be: it maps onto an environment
// variable, a file in one directory and a key in a Vault secret alike, so
// it has no path separators and no dots (no "..").
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,127}$`)

// CheckName rejects names that could escape a directory or do not map
// cleanly onto every provider.
func CheckName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%w %q: use lower-case letters, digits, '_' and '-'", ErrInvalidName, name)
	}
	return nil
}

// digest is the version of a value whose source keeps no version number.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// EnvPrefix starts the environment variable of every secret the Env
// provider serves: secret "auth_public_key" is IM_SECRET_AUTH_PUBLIC_KEY.
const EnvPrefix = "IM_SECRET_"

// EnvVar is the environment variable that holds the named secret.
func EnvVar(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// EnvFromEnviron picks the IM_SECRET_* variables out of an environment
// listing such as os.Environ(); main calls it so nothing below main reads
// the environment.
func EnvFromEnviron(environ []string) map[string]string {
	vars := make(map[string]string)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	return vars
}

// Env serves secrets from environment variables that main passed in.
type Env struct {
	vars map[string]string
}

// NewEnv serves the IM_SECRET_<NAME> entries of vars (other keys are ignored).
func NewEnv(vars map[string]string) *Env {
	own := make(map[string]string, len(vars))
	for k, v := range vars {
		if strings.HasPrefix(k, EnvPrefix) {
			own[k] = v
		}
	}
	return &Env{vars: own}
}

// Get implements Provider.
func (e *Env) Get(_ context.Context, name string) (Secret, error) {
	if err := CheckName(name); err != nil {
		return Secret{}, err
	}
	v, ok := e.vars[EnvVar(name)]
	if !ok {
		return Secret{}, fmt.Errorf("secret %s: %w (set %s)", name, ErrNotFound, EnvVar(name))
	}
	return Secret{Value: []byte(v), Version: digest([]byte(v))}, nil
}
