{{/*
Labels: the common set, the selector subset, and the stable set of the data stores' pods.
Calling convention: see _helpers.tpl.
*/}}

{{/*
Common labels of every object.
Usage: {{ include "taskyard.labels" (dict "root" $ "component" "api") }}
*/}}
{{- define "taskyard.labels" -}}
helm.sh/chart: {{ include "taskyard.chart" .root }}
{{ include "taskyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: taskyard
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of the pod templates of RabbitMQ and Redis: the common labels without the chart
and app versions, so a chart bump alone does not restart them.
Usage: {{ include "taskyard.stablePodLabels" (dict "root" $ "component" "rabbitmq") }}
*/}}
{{- define "taskyard.stablePodLabels" -}}
{{ include "taskyard.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: taskyard
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels (a Deployment's selector, a Service's, a NetworkPolicy's). Without
"component", they select every pod of the release.
Usage: {{ include "taskyard.selectorLabels" (dict "root" $ "component" "api") }}
*/}}
{{- define "taskyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskyard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}
