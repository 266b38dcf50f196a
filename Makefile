# Infra Mind: the commands people and CI use. `make help` lists them.
#
# Everything runs from the repository root in go.work mode, so the package
# patterns below cover every module of the workspace.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go

# Modules of the workspace (each has its own go.mod) and their packages. A
# pattern such as ./services/... cannot span several modules, so each module
# gets its own ./<module>/... pattern.
SERVICES     := $(patsubst services/%/main.go,%,$(wildcard services/*/main.go))
SERVICE_MODS := $(patsubst %/go.mod,%,$(wildcard services/*/go.mod))
MODULES      := pkg $(SERVICE_MODS) deploy
PKGS         := $(foreach m,$(MODULES),./$(m)/...)

# Packages that hold integration tests (they need the servers scripts/integration.sh starts).
INTEGRATION_PKGS := $(foreach m,pkg $(SERVICE_MODS),./$(m)/...)
INTEGRATION_LOG  := .ci/cache/logs/integration-tests.log

# make bench: `infra-mind bench` on the embedded deployment and on every
# service as its own process against the integration harness's nats-server
# and FerretDB on PostgreSQL. BENCH_FLAGS adds or overrides flags
# (`bin/infra-mind bench -h` lists them), e.g. BENCH_FLAGS='--preload 0,10000'.
BENCH_FLAGS ?=
BENCH_SERVERS := nats-server v2.15.2, FerretDB v1.24.2 on PostgreSQL $(shell psql -V 2>/dev/null | awk '{print $$3}'), Redis $(shell redis-server --version 2>/dev/null | sed -n 's/.* v=\([^ ]*\).*/\1/p')

# Go micro-benchmarks make bench runs after it: the raw JetStream baseline
# (pkg/bus), the deployment planner over the catalogue (pkg/advisor/plan),
# the consultant's chat time to first token over the fake provider's
# delay and narrative cost per example assessment (pkg/consultant), and
# the console's page weight and report page against the same report as JSON
# (pkg/console: page-ms/op, json-ms/op and their ratio page/json).
BENCH_PKGS := ./pkg/bus/ ./pkg/advisor/plan/ ./pkg/consultant/ ./pkg/console/
BENCHTIME  ?= 2s

# Tools run through `go run` at pinned versions: nothing is installed globally.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
BUF_VERSION := v1.75.0
BUF := $(GO) run github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
GITLEAKS_VERSION := v8.30.1
GITLEAKS := $(GO) run github.com/zricethezav/gitleaks/v8@$(GITLEAKS_VERSION)
OAPI_CODEGEN_VERSION := v2.8.2
OAPI_CODEGEN := $(GO) run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@$(OAPI_CODEGEN_VERSION)

BIN_DIR := bin

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

.PHONY: run
run: ## run the whole system in one process on embedded servers (data under ./data)
	@mkdir -p $(BIN_DIR)
	$(GO) build -o $(BIN_DIR)/infra-mind ./services/cli
	@# The binary, not `go run`: go run exits 1 when interrupted even after a
	@# clean shutdown. On Ctrl-C infra-mind exits 0; make itself then reports
	@# "Interrupt", as GNU make does for any interrupted recipe.
	$(BIN_DIR)/infra-mind dev

.PHONY: build
build: ## build every service binary into ./bin (the CLI as bin/infra-mind)
	@mkdir -p $(BIN_DIR)
	@for svc in $(SERVICES); do \
		out=$$svc; [ "$$svc" = cli ] && out=infra-mind; \
		echo "go build -o $(BIN_DIR)/$$out ./services/$$svc"; \
		CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN_DIR)/$$out ./services/$$svc; \
	done

.PHONY: test
test: ## hermetic tests of every module (embedded servers, random ports, temp dirs)
	$(GO) test -count=1 $(PKGS)

.PHONY: owasp
owasp: ## the OWASP API Security Top 10 suite, printing each case's attack count and the log check's totals
	$(GO) test -count=1 -v -run 'OWASP' ./pkg/gateway/ ./pkg/auth/ 2>&1 | \
		grep -E '^\s+\S+_test\.go:[0-9]+: (OWASP API|log check)|^(ok|FAIL|--- FAIL)' | \
		awk '{ print } \
			/: OWASP API/ { cases++; if (match($$0, /: [0-9]+ (probes|cells)/)) { n = substr($$0, RSTART + 2, RLENGTH); sub(/ .*/, "", n); probes += n } } \
			/: log check: / { sets++; for (i = 1; i <= NF; i++) { if ($$(i+1) == "log") lines += $$i; if ($$(i+1) == "credentials,") creds += $$i } } \
			END { printf "OWASP suite: %d cases, %d probes; log check: %d gateway sets, %d log lines, %d credentials, none logged\n", cases, probes, sets, lines, creds }'

.PHONY: test-integration
test-integration: ## integration tests against real nats-server, FerretDB on PostgreSQL and Redis
	@mkdir -p $(dir $(INTEGRATION_LOG))
	@status=0; \
	bash scripts/integration.sh $(GO) test -count=1 -v -tags integration -run Integration -p 1 $(INTEGRATION_PKGS) \
		2>&1 | tee $(INTEGRATION_LOG) || status=$$?; \
	passed=$$(grep -c '^--- PASS: ' $(INTEGRATION_LOG) || true); \
	failed=$$(grep -c '^--- FAIL: ' $(INTEGRATION_LOG) || true); \
	echo; echo "integration: $$passed passed, $$failed failed"; \
	exit $$status

.PHONY: check-pdf
check-pdf: ## render a generated report PDF to PNG pages with pdftoppm (poppler-utils)
	$(GO) test -count=1 -tags integration -run TestIntegrationPDFRendersToImages ./pkg/report/

.PHONY: bench
bench: build ## latency, throughput and growth of both deployments against the infrastructure's bound; report under .bench/
	bash scripts/integration.sh $(BIN_DIR)/infra-mind bench --bin-dir $(BIN_DIR) --out .bench \
		--servers "$(BENCH_SERVERS)" $(BENCH_FLAGS)
	$(GO) test -count=1 -run '^$$' -bench . -benchtime=$(BENCHTIME) $(BENCH_PKGS)

# Fuzz targets as package:name. Each explores from its seeds (f.Add and the
# package's testdata/fuzz/<name>/); plain `go test` runs the seeds alone.
FUZZ_TARGETS := ./pkg/assessment/:FuzzParseRequest \
	./pkg/gateway/:FuzzInferenceEstimate ./pkg/gateway/:FuzzTrainingEstimate \
	./pkg/gateway/:FuzzInferenceFigures ./pkg/gateway/:FuzzTrainingFigures
FUZZTIME ?= 20s

.PHONY: fuzz
fuzz: ## fuzz the assessment and estimate request decoders, FUZZTIME (20s) per target
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "go test -run '^$$' -fuzz '^$$name\$$' -fuzztime=$(FUZZTIME) $$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

.PHONY: lint
lint: fmt-check vet golangci-lint ## gofmt, go vet and golangci-lint

.PHONY: fmt-check
fmt-check: ## fail when a Go file is not gofmt-formatted
	@files=$$(gofmt -l $(MODULES)); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

.PHONY: fmt
fmt: ## gofmt every module in place
	gofmt -w $(MODULES)

.PHONY: vet
vet: ## go vet every module (integration-tagged files included)
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration $(PKGS)
	$(GO) vet -tags chart ./deploy/...

.PHONY: golangci-lint
golangci-lint: ## golangci-lint with .golangci.yml (built through go run at a pinned version)
	$(GOLANGCI_LINT) run $(PKGS)

.PHONY: chart-check
chart-check: ## helm lint and template of charts/infra-mind for each values file, and the chart's Go tests (strict decoding, KEDA schema, real lag)
	@bash scripts/chart-check.sh

.PHONY: check-tracked
check-tracked: ## fail when a tracked file is a binary or over 1 MB (generated code and the OpenAPI documents excepted by name)
	@bash scripts/check-tracked.sh

.PHONY: secrets-scan
secrets-scan: ## fail when a secret was ever committed (gitleaks over the whole git history)
	@# --redact keeps a found secret out of the CI log; exit code 1 on any finding.
	$(GITLEAKS) git --redact --no-banner --exit-code 1 .

# What `make generate` writes, and check-generated compares with the commit.
GENERATED := pkg/gen pkg/api/api.gen.go pkg/gateway/gatewayapi/server.gen.go docs/api/openapi.json docs/api/assessment-request.schema.json \
	pkg/advisor/catalog/data/instances pkg/advisor/catalog/data/catalog.yaml pkg/advisor/catalog/data/history

.PHONY: generate
generate: generate-api generate-catalogue ## lint the protobuf schemas and regenerate pkg/gen, pkg/api, the docs/api copies and the catalogue's instance rows
	cd proto && $(BUF) lint && $(BUF) generate

.PHONY: generate-catalogue
generate-catalogue: ## import the committed public price data into the catalogue (data/instances/<provider>.yaml and <provider>-cpu.yaml; the previous version goes to data/history)
	$(GO) run ./services/cli catalogue import --from pkg/advisor/catalog/pricing

.PHONY: generate-api
generate-api: ## regenerate pkg/api and the gateway's server interface from the OpenAPI document and copy the API documents to docs/api
	cd pkg/api && $(OAPI_CODEGEN) -config oapi-codegen.yaml ../gateway/openapi/openapi.json
	cd pkg/gateway/gatewayapi && $(OAPI_CODEGEN) -config oapi-codegen.yaml ../openapi/openapi.json
	cp pkg/gateway/openapi/openapi.json docs/api/openapi.json
	cp pkg/assessment/schema/assessment-request.schema.json docs/api/assessment-request.schema.json

.PHONY: check-generated
check-generated: generate ## fail when the committed generated files differ from what `make generate` writes
	@git diff --exit-code -- $(GENERATED) || { echo "generated files are out of date: run make generate and commit"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- $(GENERATED)); \
	if [ -n "$$untracked" ]; then echo "untracked generated files:"; echo "$$untracked"; exit 1; fi

.PHONY: ci
ci: ## what .ci/run does
	bash .ci/run

.PHONY: clean
clean: ## remove build outputs (not ./data)
	rm -rf $(BIN_DIR)
