package deploy_test

import (
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"

	"github.com/infra-mind/infra-mind/pkg/assessment"
)

// repoRoot is the repository root seen from this package's folder, where
// `go test` runs.
const repoRoot = ".."

// loadCompose parses a compose file the way `docker compose` does, without
// reading the caller's environment or any .env file, and without compose-go's
// own consistency check so that checkProject can name each problem itself.
func loadCompose(t *testing.T, root, file string, consistency bool) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, file)},
		cli.WithWorkingDirectory(root),
		cli.WithInterpolation(false),
		cli.WithConsistency(consistency),
		cli.WithResolvedPaths(true),
	)
	require.NoError(t, err)
	return opts.LoadProject(context.Background())
}

// secretKey matches environment variable or build argument names that hold
// credentials. A value for such a name must come from outside the file.
var secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|token|api_?key|private_?key|credential)`)

// envReference matches a value that is only a reference to the caller's
// environment, such as ${IM_TOKEN}.
var envReference = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$`)

// checkProject returns every problem it finds in a loaded compose project;
// root is the folder that holds services/.
func checkProject(p *types.Project, root string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for _, name := range sortedServiceNames(p) {
		svc := p.Services[name]

		if svc.Build == nil && svc.Image == "" {
			add("service %s: neither image nor build", name)
		}
		if svc.Build == nil {
			if ok, why := pinnedImage(svc.Image); !ok {
				add("service %s: image %q is not pinned: %s", name, svc.Image, why)
			}
		} else {
			problems = append(problems, checkBuild(name, svc.Build, root)...)
		}

		for dep, d := range svc.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				add("service %s: depends_on names %s, which is not a service", name, dep)
				continue
			}
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable {
					add("service %s: waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
			default:
				add("service %s: depends_on %s with condition %q; use service_healthy or service_completed_successfully",
					name, dep, d.Condition)
			}
		}

		for key, value := range svc.Environment {
			if why := secretValue(key, value); why != "" {
				add("service %s: environment %s %s", name, key, why)
			}
		}
	}
	return problems
}

// checkBuild checks that a build section can build: its context and
// Dockerfile exist, and its SERVICE argument names a main package under
// services/.
func checkBuild(name string, b *types.BuildConfig, root string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if st, err := os.Stat(b.Context); err != nil || !st.IsDir() {
		add("service %s: build context %s is not a folder", name, b.Context)
	}
	dockerfile := b.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(b.Context, dockerfile)
	}
	if _, err := os.Stat(dockerfile); err != nil {
		add("service %s: Dockerfile %s does not exist", name, dockerfile)
	}

	for key, value := range b.Args {
		if why := secretValue(key, value); why != "" {
			add("service %s: build arg %s %s", name, key, why)
		}
	}
	arg, ok := b.Args["SERVICE"]
	if !ok || arg == nil || *arg == "" {
		add("service %s: build has no SERVICE argument", name)
		return problems
	}
	if !isMainPackage(filepath.Join(root, "services", *arg)) {
		add("service %s: SERVICE=%s does not name a folder under services/ with a main package", name, *arg)
	}
	return problems
}

// pinnedImage reports whether an image reference names a fixed tag or digest.
func pinnedImage(ref string) (bool, string) {
	if strings.Contains(ref, "@sha256:") {
		return true, ""
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	i := strings.LastIndex(name, ":")
	if i < 0 {
		return false, "no tag (it would pull latest)"
	}
	switch tag := name[i+1:]; tag {
	case "":
		return false, "empty tag"
	case "latest":
		return false, "the latest tag moves"
	}
	return true, ""
}

// secretValue explains why an environment value looks like a secret written
// into the file, or returns "".
func secretValue(key string, value *string) string {
	if value == nil || *value == "" || envReference.MatchString(*value) {
		return ""
	}
	// NAME_FILE points at a mounted file, the usual way to hand a container a secret.
	if secretKey.MatchString(key) && !strings.HasSuffix(strings.ToUpper(key), "_FILE") {
		return "has a literal value; pass it from the environment or a mounted file"
	}
	if u, err := url.Parse(*value); err == nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return "has a URL with a password in it"
		}
	}
	return ""
}

// isMainPackage reports whether dir holds Go files of package main.
func isMainPackage(dir string) bool {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return false
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err == nil && parsed.Name.Name == "main" {
			return true
		}
	}
	return false
}

func sortedServiceNames(p *types.Project) []string {
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// builtServices maps each SERVICE build argument to the compose services built with it.
func builtServices(p *types.Project) map[string][]string {
	out := map[string][]string{}
	for _, name := range sortedServiceNames(p) {
		b := p.Services[name].Build
		if b == nil {
			continue
		}
		if arg := b.Args["SERVICE"]; arg != nil {
			out[*arg] = append(out[*arg], name)
		}
	}
	return out
}

func TestComposeFile(t *testing.T) {
	t.Parallel()

	// compose-go's own validation (schema and consistency) must accept the file.
	_, err := loadCompose(t, repoRoot, "docker-compose.yml", true)
	require.NoError(t, err, "docker compose would reject docker-compose.yml")

	p, err := loadCompose(t, repoRoot, "docker-compose.yml", false)
	require.NoError(t, err)
	require.Empty(t, checkProject(p, repoRoot))

	built := builtServices(p)
	want := []string{"gateway", "synthesizer", "consultant"}
	for _, f := range assessment.Families() {
		want = append(want, string(f))
	}
	for _, svc := range want {
		require.Len(t, built[svc], 1, "exactly one compose service must run services/%s", svc)
		name := built[svc][0]
		require.NotNil(t, p.Services[name].HealthCheck, "service %s needs a healthcheck", name)
		require.Contains(t, p.Services[name].DependsOn, "nats", "service %s talks to NATS", name)
		env := p.Services[name].Environment
		require.NotNil(t, env["IM_NATS_URL"], "service %s needs IM_NATS_URL", name)
		require.Equal(t, "nats://nats:4222", *env["IM_NATS_URL"])
	}

	for _, infra := range []string{"nats", "mongo", "redis"} {
		require.Contains(t, p.Services, infra)
		require.NotNil(t, p.Services[infra].HealthCheck, "%s needs a healthcheck so dependents can wait for it", infra)
	}
	require.Contains(t, strings.Join(p.Services["nats"].Command, " "), "-js", "NATS must run with JetStream")

	gateway := p.Services[built["gateway"][0]]
	require.Equal(t, types.ServiceConditionCompletedSuccessfully, gateway.DependsOn["keygen"].Condition,
		"the gateway must start after the signing key exists")
	require.NotNil(t, gateway.Environment["IM_AUTH_PRIVATE_KEY_FILE"])
	require.Equal(t, "/keys/signing.pem", *gateway.Environment["IM_AUTH_PRIVATE_KEY_FILE"])
	// The language model settings and keys come from a file outside git,
	// read by the chat (gateway) and the narratives (consultant) alike; the
	// consultant counts the tenants' use in Redis with the gateway.
	for _, svc := range []string{"gateway", "consultant"} {
		s := p.Services[built[svc][0]]
		require.Len(t, s.EnvFiles, 1, "%s reads llm.env", svc)
		require.Equal(t, filepath.Join(p.WorkingDir, "llm.env"), s.EnvFiles[0].Path, svc)
		require.False(t, bool(s.EnvFiles[0].Required), "%s starts without llm.env (no provider: off)", svc)
		require.NotNil(t, s.Environment["IM_REDIS_URL"], svc)
		require.Contains(t, s.DependsOn, "redis", svc)
	}
	ignored, err := os.ReadFile(filepath.Join(repoRoot, ".gitignore"))
	require.NoError(t, err)
	require.Contains(t, strings.Split(string(ignored), "\n"), "/llm.env", "llm.env holds API keys: git must ignore it")
	keygen := p.Services["keygen"]
	require.Equal(t, []string{"cli"}, []string{*keygen.Build.Args["SERVICE"]})
	require.Equal(t, types.ShellCommand{"keygen", "--dir", "/keys"}, keygen.Command)
}

// TestComposeChecksFindProblems proves each check in checkProject can fail,
// on small compose files written for the purpose.
func TestComposeChecksFindProblems(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		compose string
		want    string // "" means no problem
	}{
		{
			name: "a valid file",
			compose: `
services:
  db:
    image: redis:7.4
    healthcheck: {test: ["CMD", "redis-cli", "ping"]}
  app:
    build: {context: ., dockerfile: deploy/Dockerfile, args: {SERVICE: app}}
    environment: {IM_TOKEN_FILE: /run/token, IM_API_KEY: "${IM_API_KEY}"}
    depends_on: {db: {condition: service_healthy}}
`,
		},
		{
			name:    "image without a tag",
			compose: "services:\n  db:\n    image: redis\n",
			want:    `image "redis" is not pinned`,
		},
		{
			name:    "image on latest",
			compose: "services:\n  db:\n    image: registry.example.com:5000/redis:latest\n",
			want:    "the latest tag moves",
		},
		{
			name:    "missing Dockerfile",
			compose: "services:\n  app:\n    build: {context: ., dockerfile: deploy/Nope, args: {SERVICE: app}}\n",
			want:    "Nope does not exist",
		},
		{
			name:    "SERVICE naming no main package",
			compose: "services:\n  app:\n    build: {context: ., dockerfile: deploy/Dockerfile, args: {SERVICE: lib}}\n",
			want:    "SERVICE=lib does not name a folder",
		},
		{
			name:    "build without SERVICE",
			compose: "services:\n  app:\n    build: {context: ., dockerfile: deploy/Dockerfile}\n",
			want:    "no SERVICE argument",
		},
		{
			name:    "dependency on an unknown service",
			compose: "services:\n  db:\n    image: redis:7.4\n    depends_on: {cache: {condition: service_started}}\n",
			want:    "depends_on names cache",
		},
		{
			name: "waiting for health of a service without a healthcheck",
			compose: `
services:
  db:
    image: redis:7.4
  web:
    image: nginx:1.27
    depends_on: {db: {condition: service_healthy}}
`,
			want: "db has no healthcheck",
		},
		{
			name:    "literal password",
			compose: "services:\n  db:\n    image: postgres:17\n    environment: {POSTGRES_PASSWORD: hunter2}\n",
			want:    "environment POSTGRES_PASSWORD has a literal value",
		},
		{
			name:    "password inside a URL",
			compose: "services:\n  app:\n    image: app:1\n    environment: {IM_MONGO_URI: \"mongodb://admin:hunter2@mongo:27017\"}\n",
			want:    "a URL with a password",
		},
		{
			name:    "secret build argument",
			compose: "services:\n  app:\n    build: {context: ., dockerfile: deploy/Dockerfile, args: {SERVICE: app, NPM_TOKEN: abc}}\n",
			want:    "build arg NPM_TOKEN has a literal value",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeFile(t, root, "deploy/Dockerfile", "FROM scratch\n")
			writeFile(t, root, "services/app/main.go", "package main\n\nfunc main() {}\n")
			writeFile(t, root, "services/lib/lib.go", "package lib\n")
			writeFile(t, root, "compose.yml", tt.compose)

			p, err := loadCompose(t, root, "compose.yml", false)
			require.NoError(t, err)
			problems := checkProject(p, root)
			if tt.want == "" {
				require.Empty(t, problems)
				return
			}
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), tt.want)
		})
	}
}

func writeFile(t *testing.T, root, name, content string) {
	t.Helper()
	path := filepath.Join(root, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

// TestDockerfileCopiesTheWorkspace checks that deploy/Dockerfile copies every
// module go.work names (the workspace build fails without one) and that
// deploy/Dockerfile.dockerignore lets each copied path into the build context.
func TestDockerfileCopiesTheWorkspace(t *testing.T) {
	t.Parallel()

	dockerfile := readLines(t, filepath.Join(repoRoot, "deploy", "Dockerfile"))
	ignore := readLines(t, filepath.Join(repoRoot, "deploy", "Dockerfile.dockerignore"))

	var copied []string
	for _, line := range dockerfile {
		fields := strings.Fields(line)
		if len(fields) < 3 || !strings.EqualFold(fields[0], "COPY") || strings.HasPrefix(fields[1], "--from") {
			continue
		}
		for _, src := range fields[1 : len(fields)-1] {
			if !strings.HasPrefix(src, "--") {
				copied = append(copied, filepath.Clean(src))
			}
		}
	}
	require.NotEmpty(t, copied, "deploy/Dockerfile copies nothing from the build context")

	allowed := map[string]bool{}
	for _, line := range ignore {
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			allowed[filepath.Clean(rest)] = true
		}
	}
	for _, src := range copied {
		_, err := os.Stat(filepath.Join(repoRoot, src))
		require.NoError(t, err, "deploy/Dockerfile copies %s, which does not exist", src)
		require.True(t, allowed[src], "deploy/Dockerfile.dockerignore must let %s into the build context", src)
	}

	covered := func(module string) bool {
		for _, src := range copied {
			if src == module || src == filepath.Join(module, "go.mod") || strings.HasPrefix(module, src+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	modules := workspaceModules(t)
	require.Contains(t, modules, "pkg")
	for _, m := range modules {
		require.True(t, covered(m), "go.work uses ./%s, which deploy/Dockerfile does not copy", m)
	}
}

// workspaceModules returns the folders listed in go.work's use directives.
func workspaceModules(t *testing.T) []string {
	t.Helper()
	var modules []string
	inUse := false
	for _, line := range readLines(t, filepath.Join(repoRoot, "go.work")) {
		switch {
		case line == "use (":
			inUse = true
		case inUse && line == ")":
			inUse = false
		case inUse:
			modules = append(modules, filepath.Clean(line))
		case strings.HasPrefix(line, "use "):
			modules = append(modules, filepath.Clean(strings.TrimPrefix(line, "use ")))
		}
	}
	return modules
}

// readLines returns the trimmed, non-empty, non-comment lines of a file.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}
