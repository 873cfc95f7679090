{{/*
Names: the chart's, the release prefix, and every object name built from it.
Calling convention: see _helpers.tpl.
*/}}

{{/*
Name of the chart, for the app.kubernetes.io/name label (nameOverride wins).
Usage: {{ include "taskyard.name" $ }}
*/}}
{{- define "taskyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every object name: the release name (DESIGN.md names worker Deployments
<release>-<type>-worker-<priority>), or fullnameOverride.
Longest suffix added to it is "-email-worker-normal" (20), so it is cut at 43.
Usage: {{ include "taskyard.fullname" $ }}
*/}}
{{- define "taskyard.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 43 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
Usage: {{ include "taskyard.chart" $ }}
*/}}
{{- define "taskyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The ConfigMap of the settings every Taskyard container reads.
Usage: {{ include "taskyard.configMapName" $ }}
*/}}
{{- define "taskyard.configMapName" -}}
{{- printf "%s-config" (include "taskyard.fullname" .) }}
{{- end }}

{{/*
The chart's RabbitMQ: its StatefulSet, Service and generated Secret.
Usage: {{ include "taskyard.rabbitmq.fullname" $ }}
*/}}
{{- define "taskyard.rabbitmq.fullname" -}}
{{- printf "%s-rabbitmq" (include "taskyard.fullname" .) }}
{{- end }}

{{/*
The chart's Redis (Valkey): its StatefulSet, Service and generated Secret.
Usage: {{ include "taskyard.redis.fullname" $ }}
*/}}
{{- define "taskyard.redis.fullname" -}}
{{- printf "%s-redis" (include "taskyard.fullname" .) }}
{{- end }}

{{/*
The API's Deployment and Service.
Usage: {{ include "taskyard.api.fullname" $ }}
*/}}
{{- define "taskyard.api.fullname" -}}
{{- printf "%s-api" (include "taskyard.fullname" .) }}
{{- end }}

{{/*
Flower's Deployment, Service and generated Secret.
Usage: {{ include "taskyard.flower.fullname" $ }}
*/}}
{{- define "taskyard.flower.fullname" -}}
{{- printf "%s-flower" (include "taskyard.fullname" .) }}
{{- end }}

{{/*
The ServiceAccount of the Taskyard pods: the chart's (serviceAccount.create) or the
named one, which is then required.
Usage: {{ include "taskyard.serviceAccountName" $ }}
*/}}
{{- define "taskyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "taskyard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}
