{{/* Release-scoped name prefix (<release>-infra-mind, or the release name when it already says infra-mind). */}}
{{- define "infra-mind.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "infra-mind.labels" -}}
app.kubernetes.io/name: infra-mind
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "infra-mind.selector" -}}
app.kubernetes.io/name: infra-mind
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "infra-mind.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "infra-mind.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Image of one service: (dict "root" $ "service" "cloud"). */}}
{{- define "infra-mind.image" -}}
{{- $img := .root.Values.image -}}
{{- $tag := default .root.Chart.AppVersion $img.tag -}}
{{- if $img.registry -}}
{{- printf "%s/%s/%s:%s" $img.registry $img.repository .service $tag -}}
{{- else -}}
{{- printf "%s/%s:%s" $img.repository .service $tag -}}
{{- end -}}
{{- end -}}

{{/*
The durable JetStream consumer each family's worker declares, and its stream.
These are names the code owns (pkg/worker.DurableName, pkg/bus stream
constants), not settings: deploy/chart_test.go fails when they drift.
*/}}
{{- define "infra-mind.familyConsumers" -}}
strategy: {stream: RESULTS, consumer: family-strategy}
cloud: {stream: ASSESSMENTS, consumer: family-cloud}
mlops: {stream: ASSESSMENTS, consumer: family-mlops}
compliance: {stream: ASSESSMENTS, consumer: family-compliance}
research: {stream: ASSESSMENTS, consumer: family-research}
simulation: {stream: RESULTS, consumer: family-simulation}
{{- end -}}

{{/*
terminationGracePeriodSeconds of a pod: the pre-stop pause, then the drain of
in-flight messages (IM_SHUTDOWN_TIMEOUT), then closing connections and
flushing traces, which platform.Main bounds by the same timeout again, plus
10 seconds of margin. (dict "root" $ "preStop" N)
*/}}
{{- define "infra-mind.gracePeriod" -}}
{{- add (default 0 .preStop) (mul 2 .root.Values.shutdownTimeoutSeconds) 10 -}}
{{- end -}}

{{/* Environment every service reads. */}}
{{- define "infra-mind.commonEnv" -}}
{{- $v := .Values -}}
- name: IM_NATS_URL
{{- if $v.nats.urlSecret.name }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.nats.urlSecret.name }}
      key: {{ $v.nats.urlSecret.key }}
{{- else }}
  value: {{ required "nats.url or nats.urlSecret.name is required" $v.nats.url | quote }}
{{- end }}
- name: IM_STREAM_REPLICAS
  value: {{ $v.nats.streamReplicas | quote }}
- name: IM_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: IM_METRICS_ADDR
  value: ":9090"
- name: IM_SHUTDOWN_TIMEOUT
  value: {{ printf "%ds" (int $v.shutdownTimeoutSeconds) | quote }}
- name: IM_CONCURRENCY
  value: {{ $v.concurrency | quote }}
{{- if $v.otlpEndpoint }}
- name: IM_OTLP_ENDPOINT
  value: {{ $v.otlpEndpoint | quote }}
{{- end }}
{{- range $v.extraEnv }}
- name: {{ .name }}
  value: {{ .value | quote }}
{{- end }}
{{- end -}}

{{/* Environment of the services that use the document store. */}}
{{- define "infra-mind.storeEnv" -}}
{{- $v := .Values -}}
- name: IM_MONGO_URI
{{- if $v.store.uriSecret.name }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.store.uriSecret.name }}
      key: {{ $v.store.uriSecret.key }}
{{- else }}
  value: {{ required "store.uri or store.uriSecret.name is required" $v.store.uri | quote }}
{{- end }}
- name: IM_MONGO_DATABASE
  value: {{ $v.store.database | quote }}
{{- end -}}

{{/* Extra non-secret settings of one service: a map of IM_* names to values. */}}
{{- define "infra-mind.extraEnv" -}}
{{- range $k, $val := . }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- end -}}

{{/* The operations port, the probes on it and the container security context. */}}
{{- define "infra-mind.probes" -}}
{{- $p := .Values.probes -}}
startupProbe:
  httpGet: {path: /healthz, port: ops}
  periodSeconds: {{ $p.startup.periodSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
livenessProbe:
  httpGet: {path: /healthz, port: ops}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
readinessProbe:
  httpGet: {path: /readyz, port: ops}
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
{{- end -}}

{{/* Pod-level settings shared by every Deployment: (dict "root" $ "component" "cloud"). */}}
{{- define "infra-mind.podCommon" -}}
{{- $v := .root.Values -}}
serviceAccountName: {{ include "infra-mind.serviceAccountName" .root }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $v.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ $v.topologySpread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "infra-mind.selector" . | nindent 8 }}
  - maxSkew: {{ $v.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "infra-mind.selector" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/* Redis, for the gateway and the consultant. */}}
{{- define "infra-mind.redisEnv" -}}
{{- $v := .Values -}}
- name: IM_REDIS_URL
{{- if $v.redis.urlSecret.name }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.redis.urlSecret.name }}
      key: {{ $v.redis.urlSecret.key }}
{{- else }}
  value: {{ required "redis.url or redis.urlSecret.name is required" $v.redis.url | quote }}
{{- end }}
{{- end -}}

{{/* Whether a language model provider is configured ("true" or ""). */}}
{{- define "infra-mind.llmOn" -}}
{{- if .Values.llm.env.IM_LLM_PROVIDER_0_KIND }}true{{ end -}}
{{- end -}}
