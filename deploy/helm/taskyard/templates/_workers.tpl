{{/*
Workers: the settings of each worker Deployment, merged from the values' layers.
Calling convention: see _helpers.tpl.
*/}}

{{/*
Settings of one worker Deployment: workers.defaults, then the priority's, then the
type's, then workers.overrides["<type>.<priority>"]. Returns JSON (fromJson it).
Usage: {{ include "taskyard.worker.settings" (dict "root" $ "type" "data" "priority" "high") | fromJson }}
*/}}
{{- define "taskyard.worker.settings" -}}
{{- $w := .root.Values.workers }}
{{- $settings := deepCopy $w.defaults }}
{{- $settings = include "taskyard.deepMerge" (dict "dst" $settings "src" (deepCopy (index $w.priorities .priority | default dict))) | fromJson }}
{{- $settings = include "taskyard.deepMerge" (dict "dst" $settings "src" (omit (deepCopy (index $w.types .type | default dict)) "enabled")) | fromJson }}
{{- $settings = include "taskyard.deepMerge" (dict "dst" $settings "src" (deepCopy (index $w.overrides (printf "%s.%s" .type .priority) | default dict))) | fromJson }}
{{- toJson $settings }}
{{- end }}

{{/*
"true" when at least one worker Deployment serves metrics (workers.*.metrics.port > 0).
Usage: {{ include "taskyard.workers.metricsEnabled" $ }}
*/}}
{{- define "taskyard.workers.metricsEnabled" -}}
{{- $found := false }}
{{- range $type, $typeValues := .Values.workers.types }}
{{- if $typeValues.enabled }}
{{- range $priority, $_ := $.Values.workers.priorities }}
{{- $w := include "taskyard.worker.settings" (dict "root" $ "type" $type "priority" $priority) | fromJson }}
{{- if gt (int $w.metrics.port) 0 }}
{{- $found = true }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if $found -}}
true
{{- end }}
{{- end }}
