package cli

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/infra-mind/infra-mind/pkg/auth"
	"github.com/infra-mind/infra-mind/pkg/cache"
	"github.com/infra-mind/infra-mind/pkg/identity"
	identityadapters "github.com/infra-mind/infra-mind/pkg/identity/adapters"
	"github.com/infra-mind/infra-mind/pkg/platform"
	"github.com/infra-mind/infra-mind/pkg/store"
)

// runOperator dispatches `infra-mind operator <subcommand>`. Operators are
// made here, on a machine that can reach the store, and never through the
// API: no caller of the API can grant the role that provisions tenants.
func runOperator(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{errors.New("the subcommand is create: infra-mind operator create --email E [--name N]")}
	}
	return runOperatorCreate(ctx, args[1:], io)
}

// setting is one of the platform's environment settings: its variable and
// default, read from the platform.Config field's tags so this command
// connects exactly where the services would with the same environment.
type setting struct{ env, def string }

func settingOf(cfg any, field string) setting {
	f, _ := reflect.TypeOf(cfg).FieldByName(field)
	return setting{env: f.Tag.Get("env"), def: f.Tag.Get("envDefault")}
}

// value is the flag's value, else the variable's, else the default.
func (s setting) value(e Env, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return envOr(e, s.env, s.def)
}

// help names the fallbacks without showing the variable's value, which may
// hold a password.
func (s setting) help(what string) string {
	return fmt.Sprintf("%s (default $%s, else %s)", what, s.env, s.def)
}

func runOperatorCreate(ctx context.Context, args []string, io IO) error {
	mongoURI := settingOf(platform.StoreConfig{}, "MongoURI")
	mongoDB := settingOf(platform.StoreConfig{}, "MongoDatabase")
	redisURL := settingOf(platform.GatewayConfig{}, "RedisURL")
	fs := newFlagSet("operator create", io)
	email := fs.String("email", "", "the operator's email address, their sign-in name (required)")
	name := fs.String("name", "", "the operator's display name")
	uriFlag := fs.String("mongo-uri", "", mongoURI.help("MongoDB or FerretDB URI"))
	dbFlag := fs.String("mongo-database", "", mongoDB.help("database name"))
	redisFlag := fs.String("redis-url", "", redisURL.help("Redis URL"))
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usageError{errors.New("--email is required")}
	}

	st, err := store.Connect(ctx, mongoURI.value(io.Env, *uriFlag), mongoDB.value(io.Env, *dbFlag))
	if err != nil {
		return fmt.Errorf("connect to the document store: %w", err)
	}
	defer func() { _ = st.Close(context.WithoutCancel(ctx)) }()
	rc, err := cache.Connect(ctx, redisURL.value(io.Env, *redisFlag))
	if err != nil {
		return fmt.Errorf("connect to Redis: %w", err)
	}
	defer func() { _ = rc.Close() }()

	// identity.New wants an Issuer, yet creating a user issues no token. A
	// key generated for this run and dropped when it ends is on no
	// gateway's key ring, so even a token it signed would be refused.
	key, err := auth.GenerateKey()
	if err != nil {
		return err
	}
	ports, err := identityadapters.Ports(st, rc.Client())
	if err != nil {
		return err
	}
	ids, err := identity.New(ports, auth.NewSigner(key, "infra-mind-operator-create", "none"), identity.Options{})
	if err != nil {
		return err
	}
	u, pw, err := ids.CreateOperator(ctx, identity.NewUser{Email: *email, Name: *name})
	var fe *identity.FieldError
	switch {
	case errors.As(err, &fe):
		return usageError{fmt.Errorf("--%s %s", fe.Field, fe.Reason)}
	case errors.Is(err, identity.ErrConflict):
		return fmt.Errorf("a platform operator with email %s exists (its password cannot be shown again)", *email)
	case err != nil:
		return fmt.Errorf("create operator: %w", err)
	}
	fmt.Fprintf(io.Stdout, `created platform operator %s (id %s)
  tenant:   %s
  email:    %s
  password: %s   (shown this once)
sign in:  infra-mind login --tenant %s --email %s   (password from $IM_PASSWORD or stdin)
`, u.Email, u.ID, u.Tenant, u.Email, pw, u.Tenant, u.Email)
	return nil
}
