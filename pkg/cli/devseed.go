package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/identity"
)

// The development accounts `dev` seeds. Their passwords are generated on
// first start, never fixed, so the repository holds no credential.
const (
	devOwnerEmail      = "dev@example.com"
	devOperatorEmail   = "operator@example.com"
	devCredentialsFile = "dev-credentials.json"
)

// How a seeded account's password came to be known.
const (
	accountNew     = "new"                 // created by this run
	accountKept    = "from an earlier run" // read back from the credentials file
	accountUnknown = "unknown"             // exists, but the file lacks its password
)

// devAccount is one seeded user.
type devAccount struct {
	Tenant   string `json:"tenant"`
	Email    string `json:"email"`
	Password string `json:"password,omitempty"`
	status   string
}

// devCredentials is the credentials file: the generated passwords, kept
// under the data folder beside the signing key (0600, never committed). A
// stored password is only a hash, so without this file a re-run could not
// show the password nor sign the owner in; the signing key next to it
// grants more than these passwords do, so keeping them there adds no exposure.
type devCredentials struct {
	Owner    devAccount `json:"owner"`
	Operator devAccount `json:"operator"`
}

// seedDev makes sure the demo tenant has its owner and the platform has an
// operator, creating what is missing with generated passwords. Accounts
// from an earlier run keep their passwords (there is no reset), read back
// from the credentials file in dataDir.
func seedDev(ctx context.Context, ids *identity.Service, dataDir string) (devCredentials, error) {
	path := filepath.Join(dataDir, devCredentialsFile)
	saved, err := loadDevCredentials(path)
	if err != nil {
		return devCredentials{}, err
	}
	cr := devCredentials{
		Owner:    devAccount{Tenant: devTenant, Email: devOwnerEmail},
		Operator: devAccount{Tenant: auth.PlatformTenant, Email: devOperatorEmail},
	}

	_, _, pw, err := ids.CreateTenant(ctx, devTenant, "Demo tenant", identity.NewUser{Email: devOwnerEmail, Name: "Development owner"})
	if errors.Is(err, identity.ErrConflict) {
		// The tenant is from an earlier run, which may predate users.
		_, pw, err = ids.CreateUser(ctx, devTenant, identity.NewUser{Email: devOwnerEmail, Name: "Development owner", Role: auth.RoleOwner})
	}
	if cr.Owner, err = settle(cr.Owner, saved.Owner, pw, err); err != nil {
		return devCredentials{}, fmt.Errorf("seed the %s tenant's owner: %w", devTenant, err)
	}
	_, pw, err = ids.CreateOperator(ctx, identity.NewUser{Email: devOperatorEmail, Name: "Development operator"})
	if cr.Operator, err = settle(cr.Operator, saved.Operator, pw, err); err != nil {
		return devCredentials{}, fmt.Errorf("seed the platform operator: %w", err)
	}

	b, err := json.MarshalIndent(cr, "", "  ")
	if err != nil {
		return devCredentials{}, fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return devCredentials{}, fmt.Errorf("save the development passwords: %w", err)
	}
	return cr, nil
}

// settle records the outcome of creating acc: a new password, or for an
// account that exists (ErrConflict) the one saved by an earlier run.
func settle(acc, saved devAccount, generated string, err error) (devAccount, error) {
	switch {
	case err == nil:
		acc.Password, acc.status = generated, accountNew
	case !errors.Is(err, identity.ErrConflict):
		return acc, err
	case saved.Tenant == acc.Tenant && saved.Email == acc.Email && saved.Password != "":
		acc.Password, acc.status = saved.Password, accountKept
	default:
		acc.status = accountUnknown
	}
	return acc, nil
}

func loadDevCredentials(path string) (devCredentials, error) {
	var cr devCredentials
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cr, nil
	}
	if err != nil {
		return cr, fmt.Errorf("read the development passwords: %w", err)
	}
	if err := json.Unmarshal(b, &cr); err != nil {
		return cr, fmt.Errorf("read the development passwords: %s is not valid JSON (delete it and the data folder to start afresh): %w", path, err)
	}
	return cr, nil
}

// devToken signs the owner in, as a user of the API would, and returns the
// access token and how it was obtained. When the owner cannot sign in (its
// password was not recorded, or it was disabled or locked out through the
// API) it falls back to a development token signed with the local key, so
// the example still runs, and says so.
func devToken(ctx context.Context, ids *identity.Service, keys *auth.KeyRing, owner devAccount) (string, string, error) {
	reason := "the owner's password was not recorded"
	if owner.Password != "" {
		s, err := ids.Login(ctx, identity.LoginInput{Tenant: owner.Tenant, Email: owner.Email, Password: owner.Password})
		if err == nil {
			mins := int(time.Until(s.AccessExpiresAt).Round(time.Minute) / time.Minute)
			return s.AccessToken, fmt.Sprintf("the owner signed in; valid %d minutes", mins), nil
		}
		reason = "the owner could not sign in: " + err.Error()
	}
	tok, err := keys.Signer(devIssuer, devAudience).Issue("dev-user", devTenant, []string{auth.RoleOwner}, 24*time.Hour)
	if err != nil {
		return "", "", err
	}
	return tok, "a development token signed with the local key, valid 24h, because " + reason, nil
}
