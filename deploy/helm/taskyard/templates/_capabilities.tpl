{{/*
Capabilities: whether the cluster serves the APIs of KEDA and the Prometheus Operator.
Calling convention: see _helpers.tpl.
*/}}

{{/*
"true" when ScaledObjects are rendered: keda.enabled and the cluster serves KEDA's API
(or keda.checkCrds is false).
Usage: {{ include "taskyard.keda.active" $ }}
*/}}
{{- define "taskyard.keda.active" -}}
{{- if and .Values.keda.enabled (or (not .Values.keda.checkCrds) (.Capabilities.APIVersions.Has "keda.sh/v1alpha1/ScaledObject")) -}}
true
{{- end }}
{{- end }}

{{/*
"true" when a Prometheus Operator kind is rendered: the cluster serves
monitoring.coreos.com/v1 <kind> (or monitoring.checkCrds is false).
Usage: {{ include "taskyard.monitoring.crdServed" (dict "root" $ "kind" "ServiceMonitor") }}
*/}}
{{- define "taskyard.monitoring.crdServed" -}}
{{- $root := .root }}
{{- if or (not $root.Values.monitoring.checkCrds) ($root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind)) -}}
true
{{- end }}
{{- end }}

{{/*
The NetworkPolicy peer of Prometheus (monitoring.prometheusSelector), as a list item;
empty unless monitoring.networkPolicy.allowPrometheus.
Usage: {{ include "taskyard.prometheusPeer" $ }}
*/}}
{{- define "taskyard.prometheusPeer" -}}
{{- if .Values.monitoring.networkPolicy.allowPrometheus }}
{{- toYaml (list .Values.monitoring.prometheusSelector) }}
{{- end }}
{{- end }}
