{{/*
Callbacks: the callback worker's name, its settings and the Secret of the signing secret.
Calling convention: see _helpers.tpl.
*/}}

{{/*
The callback worker Deployment's name.
Usage: {{ include "taskyard.callbacks.workerName" $ }}
*/}}
{{- define "taskyard.callbacks.workerName" -}}
{{- printf "%s-callback-worker" (include "taskyard.fullname" .) }}
{{- end }}

{{/*
The callback worker's settings: workers.defaults under callbacks.worker. Returns JSON
(fromJson it).
Usage: {{ include "taskyard.callbacks.workerSettings" $ | fromJson }}
*/}}
{{- define "taskyard.callbacks.workerSettings" -}}
{{- include "taskyard.deepMerge" (dict "dst" (deepCopy .Values.workers.defaults) "src" (deepCopy .Values.callbacks.worker)) }}
{{- end }}

{{/*
The name of the Secret that holds the signing secret: the chart's or callbacks.existingSecret.
Usage: {{ include "taskyard.callbacks.secretName" $ }}
*/}}
{{- define "taskyard.callbacks.secretName" -}}
{{- .Values.callbacks.existingSecret | default (printf "%s-callbacks" (include "taskyard.fullname" .)) }}
{{- end }}
