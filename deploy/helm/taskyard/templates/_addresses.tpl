{{/*
Addresses: Service host names and the connection URLs of the connections Secret.
Calling convention: see _helpers.tpl.
*/}}

{{/*
DNS name of a Service of this release, fully qualified to the cluster: <service>.<namespace>.svc.
Every address the chart writes uses it, because some readers resolve it from another
namespace (KEDA's operator reads the management URL from the `keda` namespace, where a
short name does not resolve). Leaves the cluster domain to the resolver's search path.
Usage: {{ include "taskyard.serviceHost" (dict "root" $ "service" (include "taskyard.rabbitmq.fullname" $)) }}
*/}}
{{- define "taskyard.serviceHost" -}}
{{- $root := .root }}
{{- printf "%s.%s.svc" .service $root.Release.Namespace }}
{{- end }}

{{/*
The AMQP URL of the connections Secret: the chart's RabbitMQ with its generated
password, else externalRabbitmq.url (required).
Usage: {{ include "taskyard.brokerUrl" $ }}
*/}}
{{- define "taskyard.brokerUrl" -}}
{{- if .Values.rabbitmq.enabled }}
{{- $password := include "taskyard.generatedValue" (dict "root" . "secret" (include "taskyard.rabbitmq.fullname" .) "key" "password" "length" 32) }}
{{- $vhost := .Values.rabbitmq.vhost | urlquery }}
{{- printf "amqp://%s:%s@%s:%d/%s" (.Values.rabbitmq.auth.username | urlquery) $password (include "taskyard.serviceHost" (dict "root" . "service" (include "taskyard.rabbitmq.fullname" .))) (int .Values.rabbitmq.service.amqpPort) $vhost }}
{{- else }}
{{- required "externalRabbitmq.url is required when rabbitmq.enabled is false (or set connections.existingSecret)" .Values.externalRabbitmq.url }}
{{- end }}
{{- end }}

{{/*
The management API URL of the connections Secret (KEDA and the API's /api/queues read
it): the chart's RabbitMQ, else externalRabbitmq.managementUrl (required).
Usage: {{ include "taskyard.rabbitmqManagementUrl" $ }}
*/}}
{{- define "taskyard.rabbitmqManagementUrl" -}}
{{- if .Values.rabbitmq.enabled }}
{{- $password := include "taskyard.generatedValue" (dict "root" . "secret" (include "taskyard.rabbitmq.fullname" .) "key" "password" "length" 32) }}
{{- printf "http://%s:%s@%s:%d" (.Values.rabbitmq.auth.username | urlquery) $password (include "taskyard.serviceHost" (dict "root" . "service" (include "taskyard.rabbitmq.fullname" .))) (int .Values.rabbitmq.service.managementPort) }}
{{- else }}
{{- required "externalRabbitmq.managementUrl is required when rabbitmq.enabled is false (or set connections.existingSecret)" .Values.externalRabbitmq.managementUrl }}
{{- end }}
{{- end }}

{{/*
The Redis URL of the connections Secret: the chart's Redis with its generated password,
else externalRedis.url (required).
Usage: {{ include "taskyard.redisUrl" $ }}
*/}}
{{- define "taskyard.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- $password := include "taskyard.generatedValue" (dict "root" . "secret" (include "taskyard.redis.fullname" .) "key" "password" "length" 32) }}
{{- printf "redis://:%s@%s:%d/%d" $password (include "taskyard.serviceHost" (dict "root" . "service" (include "taskyard.redis.fullname" .))) (int .Values.redis.service.port) (int .Values.redis.database) }}
{{- else }}
{{- required "externalRedis.url is required when redis.enabled is false (or set connections.existingSecret)" .Values.externalRedis.url }}
{{- end }}
{{- end }}

{{/*
The RabbitMQ vhost the queues live in (KEDA's triggers name it).
Usage: {{ include "taskyard.vhost" $ }}
*/}}
{{- define "taskyard.vhost" -}}
{{- if .Values.rabbitmq.enabled }}{{ .Values.rabbitmq.vhost }}{{ else }}{{ .Values.externalRabbitmq.vhost }}{{ end }}
{{- end }}
