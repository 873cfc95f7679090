{{/*
Secrets: generated values that survive upgrades, and every Secret's name (the chart's or an existingSecret).
Calling convention: see _helpers.tpl.
*/}}

{{/*
A value of a Secret the chart generates: the value already stored in the cluster
(lookup, so `helm upgrade` keeps it), else a new random one of "length" characters.
Memoized per render, so every template that needs the same value (a password and the
URL built from it) gets the same one.
Usage: {{ include "taskyard.generatedValue" (dict "root" $ "secret" "<secret name>" "key" "password" "length" 32) }}
*/}}
{{- define "taskyard.generatedValue" -}}
{{- $root := .root }}
{{- $secretName := .secret }}
{{- $key := .key }}
{{- $length := .length }}
{{- if not (hasKey $root "taskyardGenerated") }}
{{- $_ := set $root "taskyardGenerated" (dict) }}
{{- end }}
{{- $cache := index $root "taskyardGenerated" }}
{{- $cacheKey := printf "%s/%s" $secretName $key }}
{{- if not (hasKey $cache $cacheKey) }}
{{- $value := "" }}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace $secretName }}
{{- if and $existing (hasKey $existing "data") (hasKey (get $existing "data") $key) }}
{{- $value = index $existing.data $key | b64dec }}
{{- else }}
{{- $value = randAlphaNum (int $length) }}
{{- end }}
{{- $_ := set $cache $cacheKey $value }}
{{- end }}
{{- index $cache $cacheKey }}
{{- end }}

{{/*
Annotations of a generated Secret: kept by `helm uninstall` when secrets.keep.
Usage: {{ include "taskyard.generatedSecretAnnotations" $ }}
*/}}
{{- define "taskyard.generatedSecretAnnotations" -}}
{{- if .Values.secrets.keep }}
annotations:
  helm.sh/resource-policy: keep
{{- end }}
{{- end }}

{{/*
The Secret of the connection URLs (broker-url, redis-url, rabbitmq-management-url).
Usage: {{ include "taskyard.connectionsSecretName" $ }}
*/}}
{{- define "taskyard.connectionsSecretName" -}}
{{- default (printf "%s-connections" (include "taskyard.fullname" .)) .Values.connections.existingSecret }}
{{- end }}

{{/*
The Secret of the chart's RabbitMQ password and Erlang cookie.
Usage: {{ include "taskyard.rabbitmq.secretName" $ }}
*/}}
{{- define "taskyard.rabbitmq.secretName" -}}
{{- default (include "taskyard.rabbitmq.fullname" .) .Values.rabbitmq.auth.existingSecret }}
{{- end }}

{{/*
The Secret of the chart's Redis password.
Usage: {{ include "taskyard.redis.secretName" $ }}
*/}}
{{- define "taskyard.redis.secretName" -}}
{{- default (include "taskyard.redis.fullname" .) .Values.redis.auth.existingSecret }}
{{- end }}

{{/*
The Secret of the API keys.
Usage: {{ include "taskyard.apiKeys.secretName" $ }}
*/}}
{{- define "taskyard.apiKeys.secretName" -}}
{{- default (printf "%s-api-keys" (include "taskyard.fullname" .)) .Values.api.apiKeys.existingSecret }}
{{- end }}

{{/*
The key of the API keys in taskyard.apiKeys.secretName.
Usage: {{ include "taskyard.apiKeys.secretKey" $ }}
*/}}
{{- define "taskyard.apiKeys.secretKey" -}}
{{- if .Values.api.apiKeys.existingSecret }}{{ .Values.api.apiKeys.existingSecretKey }}{{ else }}api-keys{{ end }}
{{- end }}

{{/*
The Secret key holding one API key alone, for a client (NOTES, the ServiceMonitor): the
first generated name's; with existingSecret, the keys file itself (one bare key expected there).
Usage: {{ include "taskyard.apiKeys.clientSecretKey" $ }}
*/}}
{{- define "taskyard.apiKeys.clientSecretKey" -}}
{{- if .Values.api.apiKeys.existingSecret }}{{ .Values.api.apiKeys.existingSecretKey }}{{ else }}key-{{ first .Values.api.apiKeys.generatedNames }}{{ end }}
{{- end }}

{{/*
TASKYARD_ADMIN_API_KEYS. Admin names the chart's own keys do not have would stop the API
at start-up: refused here instead.
Usage: {{ include "taskyard.apiKeys.adminNames" $ }}
*/}}
{{- define "taskyard.apiKeys.adminNames" -}}
{{- $keys := .Values.api.apiKeys }}
{{- if not $keys.existingSecret }}
{{- range $keys.adminNames }}
{{- if not (has . $keys.generatedNames) }}
{{- fail (printf "api.apiKeys.adminNames: %q is not in api.apiKeys.generatedNames" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- join "," $keys.adminNames }}
{{- end }}

{{/*
The Secret of the web console's session secret.
Usage: {{ include "taskyard.console.secretName" $ }}
*/}}
{{- define "taskyard.console.secretName" -}}
{{- default (printf "%s-console" (include "taskyard.fullname" .)) .Values.api.console.existingSecret }}
{{- end }}

{{/*
The key of the session secret in taskyard.console.secretName.
Usage: {{ include "taskyard.console.secretKey" $ }}
*/}}
{{- define "taskyard.console.secretKey" -}}
{{- if .Values.api.console.existingSecret }}{{ .Values.api.console.existingSecretKey }}{{ else }}session-secret{{ end }}
{{- end }}

{{/*
The Secret of Flower's basic auth and cookie secret.
Usage: {{ include "taskyard.flower.secretName" $ }}
*/}}
{{- define "taskyard.flower.secretName" -}}
{{- default (include "taskyard.flower.fullname" .) .Values.flower.auth.existingSecret }}
{{- end }}

{{/*
The Secret of the S3 credentials (storage.type s3).
Usage: {{ include "taskyard.s3.secretName" $ }}
*/}}
{{- define "taskyard.s3.secretName" -}}
{{- default (printf "%s-s3" (include "taskyard.fullname" .)) .Values.storage.s3.existingSecret }}
{{- end }}

{{/*
The Secret of the SMTP credentials.
Usage: {{ include "taskyard.smtp.secretName" $ }}
*/}}
{{- define "taskyard.smtp.secretName" -}}
{{- default (printf "%s-smtp" (include "taskyard.fullname" .)) .Values.smtp.existingSecret }}
{{- end }}
