#!/usr/bin/env bash
# Checks the Helm chart without a cluster: helm lint and helm template for
# each values file, then the Go tests of deploy/ built with -tags chart,
# which decode every rendered object strictly, check KEDA's objects against
# KEDA's CRD schema and start a nats-server to read the lag KEDA would see.
#
# Tools come at pinned versions through the Go module proxy and are cached
# in .ci/cache/bin (IM_IT_CACHE_DIR), so a second run builds nothing:
#   helm          helm.sh/helm/v4      (go install)
#   nats-server   v2.15.2, the integration harness's pin (go install)
#   promtool      github.com/prometheus/prometheus (go install with
#                 -tags remove_all_sd: the rule tests need no service
#                 discovery, and leaving out the cloud SDKs it would link
#                 makes the build several times shorter)
#   KEDA CRDs     github.com/kedacore/keda/v2 module (go mod download;
#                 its config/crd/bases are KEDA's published schemas)
set -euo pipefail

HELM_VERSION=v4.3.2
NATS_VERSION=v2.15.2
# Prometheus v3.16's module version.
PROMETHEUS_VERSION=v0.316.0
# KEDA v2.20.2 is the newest release whose module this Go (1.26) accepts.
KEDA_VERSION=v2.20.2

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${IM_IT_CACHE_DIR:-$ROOT/.ci/cache}
BIN_DIR=$CACHE_DIR/bin
CHART=$ROOT/charts/infra-mind
OUT_DIR=$CACHE_DIR/chart

log() { printf 'chart-check: %s\n' "$*" >&2; }
die() {
	printf '\nchart-check: FAILED: %s\n\n' "$*" >&2
	exit 1
}

mkdir -p "$BIN_DIR" "$OUT_DIR"

helm=$BIN_DIR/helm
# built_at says whether binary $1 was built from module $2 at version $3.
built_at() { [ -x "$1" ] && go version -m "$1" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+$2[[:space:]]+$3[[:space:]]"; }

if ! built_at "$helm" helm.sh/helm/v4 "$HELM_VERSION"; then
	log "installing helm $HELM_VERSION into $BIN_DIR"
	GOFLAGS= GOWORK=off GOBIN=$BIN_DIR go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" ||
		die "could not install helm $HELM_VERSION"
fi

nats=$BIN_DIR/nats-server
if ! built_at "$nats" github.com/nats-io/nats-server/v2 "$NATS_VERSION"; then
	log "installing nats-server $NATS_VERSION into $BIN_DIR"
	GOFLAGS= GOWORK=off GOBIN=$BIN_DIR go install "github.com/nats-io/nats-server/v2@$NATS_VERSION" ||
		die "could not install nats-server $NATS_VERSION"
fi

promtool=$BIN_DIR/promtool
if ! built_at "$promtool" github.com/prometheus/prometheus "$PROMETHEUS_VERSION"; then
	log "installing promtool ($PROMETHEUS_VERSION) into $BIN_DIR"
	GOFLAGS= GOWORK=off GOBIN=$BIN_DIR go install -tags remove_all_sd "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" ||
		die "could not install promtool $PROMETHEUS_VERSION"
fi

keda_dir=$(cd "$CACHE_DIR" && GOFLAGS= GOWORK=off go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$keda_dir" ] && [ -d "$keda_dir/config/crd/bases" ] || die "KEDA $KEDA_VERSION CRDs not found (go mod download failed?)"

for values in values.yaml values-trial.yaml values-production.yaml; do
	log "helm lint and template with $values"
	"$helm" lint --strict "$CHART" -f "$CHART/$values" >"$OUT_DIR/lint-$values.log" 2>&1 ||
		{ cat "$OUT_DIR/lint-$values.log" >&2; die "helm lint with $values"; }
	"$helm" template infra-mind "$CHART" -f "$CHART/$values" >"$OUT_DIR/$values" ||
		die "helm template with $values"
done

log "alert rules: promtool check and unit tests"
"$promtool" check rules "$CHART/files/alerts.yaml" || die "promtool check rules"
"$promtool" test rules "$ROOT/deploy/monitoring/alerts_test.yaml" || die "promtool test rules"

log "Go tests of the chart (deploy/, -tags chart)"
IM_HELM_BIN=$helm IM_KEDA_CRD_DIR=$keda_dir/config/crd/bases IM_TEST_NATS_SERVER_BIN=$nats \
	go test -count=1 -tags chart ./deploy/...
