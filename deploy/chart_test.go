//go:build chart

// The Helm chart's tests: `make chart-check` renders charts/infra-mind with
// the pinned helm for each values file and runs these with
//
//	IM_HELM_BIN      the helm binary
//	IM_KEDA_CRD_DIR  config/crd/bases of the pinned KEDA module
//
// Every rendered object is decoded strictly with the Kubernetes API types
// (unknown or duplicate fields fail), KEDA's objects are checked against
// KEDA's CRD schema, and the scaling triggers are compared with the names the
// code declares.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/infra-mind/infra-mind/pkg/assessment"
	"github.com/infra-mind/infra-mind/pkg/telemetry"
	"github.com/infra-mind/infra-mind/pkg/worker"
)

const (
	chartDir = "../charts/infra-mind"
	release  = "infra-mind"
)

// consultantOn turns the optional consultant on with one provider.
var consultantOn = []string{"consultant.enabled=true", "llm.env.IM_LLM_PROVIDER_0_KIND=openai",
	"llm.env.IM_LLM_PROVIDER_0_MODEL=gpt-4o-mini", "llm.env.IM_LLM_PROVIDER_0_API_KEY_SECRET=openai_api_key",
	"llm.env.IM_LLM_BUDGET_USD_PER_DAY=20", "llm.existingSecret=infra-mind-llm"}

// valuesFiles are the chart's three profiles.
var valuesFiles = []string{"values.yaml", "values-trial.yaml", "values-production.yaml"}

// rendered is one manifest of a helm template run, decoded.
type rendered struct {
	kind, name string
	raw        []byte
	obj        runtime.Object         // Kubernetes API kinds
	custom     map[string]interface{} // custom resources (KEDA, Prometheus Operator)
}

func helmBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("IM_HELM_BIN")
	require.NotEmpty(t, bin, "IM_HELM_BIN must name the pinned helm binary (make chart-check sets it)")
	return bin
}

// helmTemplate renders the chart with the given values files (relative to the
// chart) and --set pairs.
func helmTemplate(t *testing.T, files []string, sets ...string) []byte {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", "infra-mind"}
	for _, f := range files {
		args = append(args, "-f", filepath.Join(chartDir, f))
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helmBin(t), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "helm %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.Bytes()
}

// strictDecoder decodes Kubernetes API kinds and fails on unknown or
// duplicate fields.
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// renderAndDecode renders and decodes every manifest strictly.
func renderAndDecode(t *testing.T, files []string, sets ...string) []rendered {
	t.Helper()
	out := helmTemplate(t, files, sets...)
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	crds := kedaSchemas(t)
	var objs []rendered
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		require.NoError(t, yaml.Unmarshal(doc, &head))
		r := rendered{kind: head.Kind, name: head.Metadata.Name, raw: doc}
		switch {
		case strings.HasPrefix(head.APIVersion, "keda.sh/"):
			r.custom = validateCustom(t, crds, head.APIVersion, head.Kind, doc)
		case strings.HasPrefix(head.APIVersion, "monitoring.coreos.com/"):
			r.custom = decodeMonitoring(t, head.Kind, doc)
		default:
			obj, gvk, err := strictDecoder.Decode(doc, nil, nil)
			require.NoError(t, err, "%s %s does not decode strictly as a Kubernetes object", head.Kind, head.Metadata.Name)
			require.Equal(t, head.Kind, gvk.Kind)
			r.obj = obj
		}
		objs = append(objs, r)
	}
	require.NotEmpty(t, objs)
	return objs
}

func stripComments(doc []byte) []byte {
	var keep [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			keep = append(keep, line)
		}
	}
	return bytes.Join(keep, []byte("\n"))
}

// crdSchema is one served version of a CRD, ready to check objects.
type crdSchema struct {
	structural *structuralschema.Structural
	validator  crdvalidation.SchemaValidator
	cel        *cel.Validator
}

// kedaSchemas loads KEDA's CRDs (group keda.sh) from IM_KEDA_CRD_DIR, keyed
// by apiVersion + "/" + kind.
func kedaSchemas(t *testing.T) map[string]crdSchema {
	t.Helper()
	dir := os.Getenv("IM_KEDA_CRD_DIR")
	require.NotEmpty(t, dir, "IM_KEDA_CRD_DIR must name config/crd/bases of the pinned KEDA module (make chart-check sets it)")
	paths, err := filepath.Glob(filepath.Join(dir, "keda.sh_*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths, "no keda.sh CRDs in %s", dir)
	schemas := map[string]crdSchema{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		var crd apiextensionsv1.CustomResourceDefinition
		require.NoError(t, yaml.UnmarshalStrict(raw, &crd), p)
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			require.NoError(t, apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil))
			s, err := structuralschema.NewStructural(&internal)
			require.NoError(t, err, "%s %s", crd.Name, v.Name)
			validator, _, err := crdvalidation.NewSchemaValidator(&internal)
			require.NoError(t, err)
			key := crd.Spec.Group + "/" + v.Name + "/" + crd.Spec.Names.Kind
			schemas[key] = crdSchema{structural: s, validator: validator, cel: cel.NewValidator(s, true, math.MaxInt64)}
		}
	}
	return schemas
}

// validateCustom checks a custom resource against its CRD: no field the
// schema does not know (what the API server would prune), the OpenAPI
// validation, and the CEL rules.
func validateCustom(t *testing.T, schemas map[string]crdSchema, apiVersion, kind string, doc []byte) map[string]interface{} {
	t.Helper()
	s, ok := schemas[apiVersion+"/"+kind]
	require.True(t, ok, "no CRD schema for %s %s in the pinned KEDA release", apiVersion, kind)
	var strict map[string]interface{}
	require.NoError(t, yaml.UnmarshalStrict(doc, &strict), "%s: duplicate fields", kind)
	// As the API server sees it: integers as int64, which the CEL rules need.
	asJSON, err := yaml.YAMLToJSON(doc)
	require.NoError(t, err)
	var obj map[string]interface{}
	require.NoError(t, utiljson.Unmarshal(asJSON, &obj))
	pruned := runtime.DeepCopyJSON(obj)
	unknown := structuralpruning.PruneWithOptions(pruned, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	require.Empty(t, unknown, "%s has fields KEDA's CRD does not define", kind)
	errs := crdvalidation.ValidateCustomResource(field.NewPath(""), obj, s.validator)
	require.Empty(t, errs, "%s fails KEDA's CRD validation", kind)
	if s.cel != nil {
		celErrs, _ := s.cel.Validate(context.Background(), field.NewPath(""), s.structural, obj, nil, math.MaxInt64)
		require.Empty(t, celErrs, "%s fails KEDA's CRD rules", kind)
	}
	return obj
}

// decodeMonitoring decodes the Prometheus Operator's objects strictly with
// its published API types (unknown or duplicate fields fail).
func decodeMonitoring(t *testing.T, kind string, doc []byte) map[string]interface{} {
	t.Helper()
	var target interface{}
	switch kind {
	case "ServiceMonitor":
		target = &monitoringv1.ServiceMonitor{}
	case "PrometheusRule":
		target = &monitoringv1.PrometheusRule{}
	default:
		t.Fatalf("unexpected Prometheus Operator kind %s", kind)
	}
	require.NoError(t, yaml.UnmarshalStrict(doc, target), "%s does not decode strictly", kind)
	var obj map[string]interface{}
	require.NoError(t, yaml.Unmarshal(doc, &obj))
	return obj
}

func byKind[T runtime.Object](objs []rendered) map[string]T {
	out := map[string]T{}
	for _, o := range objs {
		if v, ok := o.obj.(T); ok {
			out[o.name] = v
		}
	}
	return out
}

func customs(objs []rendered, kind string) map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	for _, o := range objs {
		if o.kind == kind && o.custom != nil {
			out[o.name] = o.custom
		}
	}
	return out
}

// TestChartRendersStrictly renders every profile and scaling mode; every
// object must decode strictly (renderAndDecode fails otherwise).
func TestChartRendersStrictly(t *testing.T) {
	cases := []struct {
		name  string
		files []string
		sets  []string
	}{
		{name: "default", files: []string{"values.yaml"}},
		{name: "trial", files: []string{"values-trial.yaml"}},
		{name: "production", files: []string{"values-production.yaml"}},
		{name: "hpa fallback", files: []string{"values.yaml"}, sets: []string{"autoscaling.mode=hpa"}},
		{name: "fixed replicas", files: []string{"values.yaml"}, sets: []string{"autoscaling.mode=none"}},
		{name: "scale to zero", files: []string{"values.yaml"}, sets: []string{"families.research.scaleToZero=true"}},
		{name: "consultant", files: []string{"values-production.yaml"}, sets: consultantOn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderAndDecode(t, tc.files, tc.sets...)
			deployments := byKind[*appsv1.Deployment](objs)
			for _, svc := range append([]string{"gateway", "synthesizer"}, familyNames()...) {
				require.Contains(t, deployments, release+"-"+svc, "a Deployment per service")
			}
			_, consultant := deployments[release+"-consultant"]
			require.Equal(t, tc.name == "consultant", consultant, "the consultant runs only when enabled")
		})
	}
}

func familyNames() []string {
	var out []string
	for _, f := range assessment.Families() {
		out = append(out, string(f))
	}
	return out
}

// trigger is the nats-jetstream trigger of a ScaledObject.
type trigger struct {
	Type     string            `json:"type"`
	Metadata map[string]string `json:"metadata"`
}

type scaledObject struct {
	Spec struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount int32     `json:"minReplicaCount"`
		MaxReplicaCount int32     `json:"maxReplicaCount"`
		CooldownPeriod  int32     `json:"cooldownPeriod"`
		Triggers        []trigger `json:"triggers"`
	} `json:"spec"`
}

func asScaledObject(t *testing.T, m map[string]interface{}) scaledObject {
	t.Helper()
	raw, err := yaml.Marshal(m)
	require.NoError(t, err)
	var so scaledObject
	require.NoError(t, yaml.Unmarshal(raw, &so))
	return so
}

// TestEveryFamilyScalesOnItsOwnConsumer: each family's ScaledObject reads the
// stream and durable consumer its worker declares (pkg/worker), so renaming
// a consumer or moving a family to another stream in code fails here.
func TestEveryFamilyScalesOnItsOwnConsumer(t *testing.T) {
	objs := renderAndDecode(t, []string{"values.yaml"})
	scaled := customs(objs, "ScaledObject")
	require.Len(t, scaled, len(assessment.Families()), "one ScaledObject per family and no other")
	for _, f := range assessment.Families() {
		name := release + "-" + string(f)
		m, ok := scaled[name]
		require.True(t, ok, "family %s has no ScaledObject", f)
		so := asScaledObject(t, m)
		require.Equal(t, "Deployment", so.Spec.ScaleTargetRef.Kind)
		require.Equal(t, name, so.Spec.ScaleTargetRef.Name)
		require.Len(t, so.Spec.Triggers, 1)
		tr := so.Spec.Triggers[0]
		require.Equal(t, "nats-jetstream", tr.Type)
		require.Equal(t, worker.SubscriptionOf(f).Stream, tr.Metadata["stream"], "family %s: stream", f)
		require.Equal(t, worker.DurableName(f), tr.Metadata["consumer"], "family %s: consumer", f)
		require.Equal(t, "$G", tr.Metadata["account"])
		require.NotEmpty(t, tr.Metadata["natsServerMonitoringEndpoint"])
		require.GreaterOrEqual(t, so.Spec.MinReplicaCount, int32(1), "family %s: scale to zero is off by default", f)
	}
}

// TestScalingKnobsComeFromValues: per-family min, max, lag threshold and
// cool-down reach the ScaledObject; scale to zero only where asked; the HPA
// fallback replaces every ScaledObject.
func TestScalingKnobsComeFromValues(t *testing.T) {
	objs := renderAndDecode(t, []string{"values.yaml"},
		"families.mlops.minReplicas=3", "families.mlops.maxReplicas=7",
		"families.mlops.lagThreshold=25", "families.mlops.cooldownPeriod=120",
		"families.research.scaleToZero=true")
	scaled := customs(objs, "ScaledObject")
	mlops := asScaledObject(t, scaled[release+"-mlops"])
	require.Equal(t, int32(3), mlops.Spec.MinReplicaCount)
	require.Equal(t, int32(7), mlops.Spec.MaxReplicaCount)
	require.Equal(t, int32(120), mlops.Spec.CooldownPeriod)
	require.Equal(t, "25", mlops.Spec.Triggers[0].Metadata["lagThreshold"])
	require.Equal(t, int32(0), asScaledObject(t, scaled[release+"-research"]).Spec.MinReplicaCount)
	require.Equal(t, int32(1), asScaledObject(t, scaled[release+"-compliance"]).Spec.MinReplicaCount)

	deployments := byKind[*appsv1.Deployment](objs)
	require.Nil(t, deployments[release+"-mlops"].Spec.Replicas, "the autoscaler owns the replica count")

	hpaObjs := renderAndDecode(t, []string{"values.yaml"}, "autoscaling.mode=hpa", "families.research.scaleToZero=true")
	require.Empty(t, customs(hpaObjs, "ScaledObject"))
	hpas := byKind[*autoscalingv2.HorizontalPodAutoscaler](hpaObjs)
	require.Len(t, hpas, len(assessment.Families()))
	for _, f := range assessment.Families() {
		h := hpas[release+"-"+string(f)]
		require.NotNil(t, h, "family %s has no HPA", f)
		require.Equal(t, release+"-"+string(f), h.Spec.ScaleTargetRef.Name)
		require.Equal(t, corev1.ResourceCPU, h.Spec.Metrics[0].Resource.Name)
		require.GreaterOrEqual(t, *h.Spec.MinReplicas, int32(1), "an HPA cannot scale to zero")
	}
}

// shutdownTimeout is the drain the container is told (IM_SHUTDOWN_TIMEOUT).
func shutdownTimeout(t *testing.T, c corev1.Container) time.Duration {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == "IM_SHUTDOWN_TIMEOUT" {
			d, err := time.ParseDuration(e.Value)
			require.NoError(t, err)
			return d
		}
	}
	t.Fatalf("container %s has no IM_SHUTDOWN_TIMEOUT", c.Name)
	return 0
}

func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// TestEveryPodIsHardened checks each profile's workloads: probes on the
// operations listener's real paths, requests and limits, non-root with a
// read-only root, no capabilities, RuntimeDefault seccomp, no service
// account token, topology spread, a PDB, and a grace period longer than the
// drain.
func TestEveryPodIsHardened(t *testing.T) {
	// The paths the services really serve: the operations listener of pkg/telemetry.
	ops := httptest.NewServer(telemetry.NewServer(":0", nil).Handler())
	t.Cleanup(ops.Close)

	profiles := map[string][]string{"with the consultant": consultantOn}
	for _, file := range valuesFiles {
		profiles[file] = nil
	}
	for name, sets := range profiles {
		file := "values.yaml"
		if sets == nil {
			file = name
		}
		t.Run(name, func(t *testing.T) {
			objs := renderAndDecode(t, []string{file}, sets...)
			pdbs := byKind[*policyv1.PodDisruptionBudget](objs)
			type workload struct {
				name   string
				labels map[string]string
				pod    corev1.PodTemplateSpec
				ours   bool
			}
			var workloads []workload
			for name, d := range byKind[*appsv1.Deployment](objs) {
				ours := d.Labels["app.kubernetes.io/component"] != "redis"
				workloads = append(workloads, workload{name, d.Spec.Selector.MatchLabels, d.Spec.Template, ours})
			}
			for name, s := range byKind[*appsv1.StatefulSet](objs) {
				workloads = append(workloads, workload{name, s.Spec.Selector.MatchLabels, s.Spec.Template, false})
			}
			for _, w := range workloads {
				pod := w.pod.Spec
				require.NotNil(t, pod.AutomountServiceAccountToken, w.name)
				require.False(t, *pod.AutomountServiceAccountToken, "%s: no service account token", w.name)
				psc := pod.SecurityContext
				require.NotNil(t, psc, w.name)
				require.True(t, psc.RunAsNonRoot != nil && *psc.RunAsNonRoot, "%s: non-root", w.name)
				require.NotNil(t, psc.SeccompProfile, w.name)
				require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type, w.name)
				for _, c := range pod.Containers {
					sc := c.SecurityContext
					require.NotNil(t, sc, "%s/%s", w.name, c.Name)
					require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s/%s: read-only root", w.name, c.Name)
					require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s/%s", w.name, c.Name)
					require.NotNil(t, sc.Capabilities, w.name)
					require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, "%s/%s: capabilities dropped", w.name, c.Name)
					for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
						require.Contains(t, c.Resources.Requests, r, "%s/%s requests", w.name, c.Name)
						require.Contains(t, c.Resources.Limits, r, "%s/%s limits", w.name, c.Name)
					}
					require.NotNil(t, c.LivenessProbe, "%s/%s liveness", w.name, c.Name)
					require.NotNil(t, c.ReadinessProbe, "%s/%s readiness", w.name, c.Name)
				}
				if !w.ours {
					continue
				}
				require.Len(t, pod.TopologySpreadConstraints, 2, "%s: spread over zones and nodes", w.name)
				c := pod.Containers[0]
				addr, ok := envValue(c, "IM_METRICS_ADDR")
				require.True(t, ok, w.name)
				var opsPort int32
				for _, p := range c.Ports {
					if p.Name == "ops" {
						opsPort = p.ContainerPort
					}
				}
				require.Equal(t, addr, ":"+strconv.Itoa(int(opsPort)), "%s: the probes' port is where IM_METRICS_ADDR listens", w.name)
				for probe, want := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz", c.StartupProbe: "/healthz"} {
					require.NotNil(t, probe, w.name)
					require.NotNil(t, probe.HTTPGet, w.name)
					require.Equal(t, want, probe.HTTPGet.Path, w.name)
					require.Equal(t, "ops", probe.HTTPGet.Port.String(), w.name)
					res, err := http.Get(ops.URL + probe.HTTPGet.Path)
					require.NoError(t, err)
					require.NoError(t, res.Body.Close())
					require.Equal(t, http.StatusOK, res.StatusCode, "%s: the services serve %s", w.name, probe.HTTPGet.Path)
				}
				// The pod must outlive its drain: pre-stop pause, then
				// IM_SHUTDOWN_TIMEOUT for in-flight messages, then closing.
				var preStop time.Duration
				if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
					preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
				}
				require.NotNil(t, pod.TerminationGracePeriodSeconds, w.name)
				grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
				require.Greater(t, grace, preStop+shutdownTimeout(t, c), "%s: grace period longer than the drain", w.name)
				var covered bool
				for _, p := range pdbs {
					if p.Spec.Selector != nil && labelsMatch(p.Spec.Selector.MatchLabels, w.labels) {
						covered = true
					}
				}
				require.True(t, covered, "%s has no PodDisruptionBudget", w.name)
			}
		})
	}
}

func labelsMatch(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestNoSecretInTheChart: no profile renders a Secret or a credential; the
// production profile takes every credential from a Secret reference.
func TestNoSecretInTheChart(t *testing.T) {
	for _, file := range valuesFiles {
		t.Run(file, func(t *testing.T) {
			objs := renderAndDecode(t, []string{file})
			require.Empty(t, byKind[*corev1.Secret](objs), "the chart creates no Secret")
			for _, o := range objs {
				require.NotRegexp(t, `://[^/\s:@]+:[^/\s@]+@`, string(o.raw), "%s %s holds a URL with credentials", o.kind, o.name)
			}
		})
	}
	objs := renderAndDecode(t, []string{"values-production.yaml"})
	gw := byKind[*appsv1.Deployment](objs)[release+"-gateway"]
	require.NotNil(t, gw)
	for _, name := range []string{"IM_NATS_URL", "IM_MONGO_URI", "IM_REDIS_URL"} {
		var found bool
		for _, e := range gw.Spec.Template.Spec.Containers[0].Env {
			if e.Name == name {
				found = true
				require.Empty(t, e.Value, "%s comes from a Secret in production", name)
				require.NotNil(t, e.ValueFrom, name)
				require.NotNil(t, e.ValueFrom.SecretKeyRef, name)
			}
		}
		require.True(t, found, name)
	}
	// A profile that names no source for a secret does not render.
	cmd := exec.Command(helmBin(t), "template", release, chartDir, "--set", "secrets.existingSecret=")
	outErr, err := cmd.CombinedOutput()
	require.Error(t, err, "rendering without the signing key's Secret must fail")
	require.Contains(t, string(outErr), "secrets.existingSecret is required")
}

// TestOnlyTheGatewayTakesIngress: network policies deny by default; only the
// gateway accepts traffic on its API port, every other ingress is the
// metrics port.
func TestOnlyTheGatewayTakesIngress(t *testing.T) {
	for _, file := range valuesFiles {
		t.Run(file, func(t *testing.T) {
			objs := renderAndDecode(t, []string{file})
			policies := byKind[*networkingv1.NetworkPolicy](objs)
			deny, ok := policies[release+"-default-deny"]
			require.True(t, ok)
			require.Empty(t, deny.Spec.Ingress)
			require.Empty(t, deny.Spec.Egress)
			for name, p := range policies {
				for _, rule := range p.Spec.Ingress {
					for _, port := range rule.Ports {
						switch port.Port.IntValue() {
						case 9090:
						case 8080:
							require.Equal(t, release+"-gateway", name, "only the gateway takes API traffic")
						case 27017, 6379:
							require.Contains(t, []string{release + "-store", release + "-redis"}, name)
							require.NotEmpty(t, rule.From, "%s: the trial servers take connections from the release only", name)
						default:
							t.Fatalf("%s opens port %s", name, port.Port.String())
						}
					}
				}
			}
		})
	}
}

// TestTrialChartCarriesTheTrialProfile: charts/infra-mind-trial cannot be
// rendered without its NATS dependency (helm dependency build), so its
// infra-mind values must be exactly the trial profile that is rendered here.
func TestTrialChartCarriesTheTrialProfile(t *testing.T) {
	read := func(path string) map[string]interface{} {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var m map[string]interface{}
		require.NoError(t, yaml.UnmarshalStrict(raw, &m), path)
		return m
	}
	umbrella := read("../charts/infra-mind-trial/values.yaml")
	require.Equal(t, read(filepath.Join(chartDir, "values-trial.yaml")), umbrella["infra-mind"])
	natsValues, ok := umbrella["nats"].(map[string]interface{})
	require.True(t, ok)
	raw, err := yaml.Marshal(natsValues)
	require.NoError(t, err)
	var n struct {
		FullnameOverride string `json:"fullnameOverride"`
		Container        struct {
			Image struct {
				Tag string `json:"tag"`
			} `json:"image"`
		} `json:"container"`
		Config struct {
			Cluster struct {
				Enabled  bool `json:"enabled"`
				Replicas int  `json:"replicas"`
			} `json:"cluster"`
			JetStream struct {
				Enabled bool `json:"enabled"`
			} `json:"jetstream"`
		} `json:"config"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &n))
	require.Equal(t, "nats", n.FullnameOverride, "the trial profile points at the Service nats")
	require.True(t, n.Config.Cluster.Enabled)
	require.Equal(t, 3, n.Config.Cluster.Replicas)
	require.True(t, n.Config.JetStream.Enabled)
	// Deadlines are JetStream message schedules (ADR 0029): nats-server 2.12 or later.
	var major, minor int
	_, err = fmt.Sscanf(n.Container.Image.Tag, "%d.%d", &major, &minor)
	require.NoError(t, err, "the NATS image tag %q names a version", n.Container.Image.Tag)
	require.True(t, major > 2 || (major == 2 && minor >= 12), "the NATS image %q is older than 2.12", n.Container.Image.Tag)
}

// TestLanguageModelSettingsReachTheGatewayAndTheConsultant: with a provider
// in llm.env, the gateway (the chat) and the consultant (the narratives) both
// get the providers and the tenants' budgets, both count in Redis, both read
// the API keys from the Secret llm.existingSecret (mounted beside the
// gateway's signing key), never from a value, and both may reach the
// providers.
func TestLanguageModelSettingsReachTheGatewayAndTheConsultant(t *testing.T) {
	objs := renderAndDecode(t, []string{"values.yaml"}, consultantOn...)
	deployments := byKind[*appsv1.Deployment](objs)
	policies := byKind[*networkingv1.NetworkPolicy](objs)
	for _, svc := range []string{"gateway", "consultant"} {
		d := deployments[release+"-"+svc]
		require.NotNil(t, d, svc)
		c := d.Spec.Template.Spec.Containers[0]
		for name, want := range map[string]string{"IM_LLM_PROVIDER_0_KIND": "openai",
			"IM_LLM_PROVIDER_0_API_KEY_SECRET": "openai_api_key", "IM_LLM_BUDGET_USD_PER_DAY": "20", "IM_SECRETS_DIR": "/var/run/secrets/infra-mind"} {
			got, ok := envValue(c, name)
			require.True(t, ok, "%s lacks %s", svc, name)
			require.Equal(t, want, got, "%s %s", svc, name)
		}
		var redis bool
		for _, e := range c.Env {
			redis = redis || e.Name == "IM_REDIS_URL"
		}
		require.True(t, redis, "%s counts the tenants' use in Redis", svc)
		var keys []string
		for _, v := range d.Spec.Template.Spec.Volumes {
			switch {
			case v.Secret != nil:
				keys = append(keys, v.Secret.SecretName)
			case v.Projected != nil:
				for _, src := range v.Projected.Sources {
					if src.Secret != nil {
						keys = append(keys, src.Secret.Name)
					}
				}
			}
		}
		require.Contains(t, keys, "infra-mind-llm", "%s mounts the API keys' Secret", svc)
		var https bool
		for _, rule := range policies[release+"-"+svc].Spec.Egress {
			for _, p := range rule.Ports {
				https = https || p.Port.IntValue() == 443
			}
		}
		require.True(t, https, "%s may reach the providers", svc)
	}
	gw := deployments[release+"-gateway"].Spec.Template.Spec.Containers[0]
	got, _ := envValue(gw, "IM_AUTH_PRIVATE_KEY_SECRET")
	require.Equal(t, "auth_private_key", got, "the signing key still comes from the same folder")

	// With Vault as the secret provider the consultant reads its keys there.
	vault := byKind[*appsv1.Deployment](renderAndDecode(t, []string{"values-production.yaml"}, consultantOn...))
	cc := vault[release+"-consultant"].Spec.Template.Spec.Containers[0]
	got, _ = envValue(cc, "IM_SECRETS_PROVIDER")
	require.Equal(t, "vault", got)
	_, ok := envValue(cc, "IM_VAULT_ADDR")
	require.True(t, ok)

	// Without a provider the gateway gets no language model settings and no
	// egress to providers.
	off := renderAndDecode(t, []string{"values-production.yaml"})
	c := byKind[*appsv1.Deployment](off)[release+"-gateway"].Spec.Template.Spec.Containers[0]
	_, ok = envValue(c, "IM_LLM_PROVIDER_0_KIND")
	require.False(t, ok)
	for _, rule := range byKind[*networkingv1.NetworkPolicy](off)[release+"-gateway"].Spec.Egress {
		for _, p := range rule.Ports {
			require.NotEqual(t, 443, p.Port.IntValue(), "no provider, no egress to one")
		}
	}
}
