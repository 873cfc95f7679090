{{/*
Worker scaling: the KEDA ScaledObject every worker Deployment shares.
Calling convention: see _helpers.tpl.
*/}}

{{/*
The ScaledObject of a worker Deployment, scaled on the depth of its one queue.
Arguments: "name" the Deployment's name; "labels" extra labels; "queue" the queue's
name; "settings" the merged worker settings.
Usage: {{ include "taskyard.worker.scaledObject" (dict "root" $ "name" "<name>" "labels" (dict) "queue" "data.high" "settings" $w) }}
*/}}
{{- define "taskyard.worker.scaledObject" -}}
{{- $ := .root }}
{{- $name := .name }}
{{- $labels := .labels }}
{{- $queue := .queue }}
{{- $w := .settings }}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $name }}
  labels:
    {{- include "taskyard.labels" (dict "root" $ "component" "worker") | nindent 4 }}
    {{- toYaml $labels | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  pollingInterval: {{ $.Values.keda.pollingInterval }}
  cooldownPeriod: {{ $.Values.keda.cooldownPeriod }}
  minReplicaCount: {{ $w.keda.minReplicaCount }}
  maxReplicaCount: {{ $w.keda.maxReplicaCount }}
  advanced:
    restoreToOriginalReplicaCount: false
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: {{ $.Values.keda.scaleDownStabilizationWindowSeconds }}
          policies:
            - type: Pods
              value: {{ $.Values.keda.scaleDownPods }}
              periodSeconds: {{ $.Values.keda.scaleDownPeriodSeconds }}
  triggers:
    # protocol http: the management API counts ready + unacknowledged messages, so
    # workers busy with prefetched tasks are not scaled away (kedacore/keda#638).
    - type: rabbitmq
      metadata:
        protocol: http
        mode: QueueLength
        value: {{ $w.keda.queueLength | toString | quote }}
        activationValue: {{ $.Values.keda.activationQueueLength | toString | quote }}
        queueName: {{ $queue | quote }}
        vhostName: {{ include "taskyard.vhost" $ | quote }}
      authenticationRef:
        name: {{ include "taskyard.fullname" $ }}-rabbitmq-management
{{- end }}
