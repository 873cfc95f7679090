{{/*
Worker objects: the Deployment every Celery worker of the chart shares (the nine task
workers and the callback worker).
Calling convention: see _helpers.tpl.
*/}}

{{/*
A worker Deployment. Arguments: "name" the Deployment's name; "labels" extra labels of
the Deployment and its pods; "selector" extra selector labels; "image" the image name;
"command" a list; "settings" the merged worker settings; "grace" its
terminationGracePeriodSeconds; "type" the task type ("" for none); "storage" whether it
mounts the file storage; "env" extra EnvVars (a list).
Usage: {{ include "taskyard.worker.deployment" (dict "root" $ "name" "<name>" "labels" (dict) "selector" (dict) "image" "data-worker" "command" (list "taskyard-data-worker") "settings" $w "grace" 60 "type" "data" "storage" true "env" list) }}
*/}}
{{- define "taskyard.worker.deployment" -}}
{{- $ := .root }}
{{- $name := .name }}
{{- $labels := .labels }}
{{- $selector := .selector }}
{{- $image := .image }}
{{- $command := .command }}
{{- $w := .settings }}
{{- $grace := .grace }}
{{- $type := .type }}
{{- $storage := .storage }}
{{- $env := .env }}
{{- $kedaActive := include "taskyard.keda.active" $ }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "taskyard.labels" (dict "root" $ "component" "worker") | nindent 4 }}
    {{- toYaml $labels | nindent 4 }}
spec:
  {{- if not $kedaActive }}
  replicas: {{ $w.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "taskyard.selectorLabels" (dict "root" $ "component" "worker") | nindent 6 }}
      {{- toYaml $selector | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "taskyard.labels" (dict "root" $ "component" "worker") | nindent 8 }}
        {{- toYaml $labels | nindent 8 }}
        {{- if $storage }}
        {{- include "taskyard.storage.podLabel" $ | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/config/configmap.yaml") $ | sha256sum }}
        {{- with $w.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "taskyard.podCommon" $ | nindent 6 }}
      terminationGracePeriodSeconds: {{ $grace | int64 }}
      containers:
        - name: worker
          image: {{ include "taskyard.image" (dict "root" $ "name" $image) }}
          imagePullPolicy: {{ $.Values.image.pullPolicy }}
          command:
            {{- toYaml $command | nindent 12 }}
          {{- with $w.args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- if gt (int $w.metrics.port) 0 }}
          ports:
            - name: metrics
              containerPort: {{ $w.metrics.port }}
              protocol: TCP
          {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "taskyard.configMapName" $ }}
          env:
            - name: TASKYARD_WORKER_CONCURRENCY
              value: {{ $w.concurrency | int64 | quote }}
            - name: TASKYARD_WORKER_SOFT_SHUTDOWN_TIMEOUT_SECONDS
              value: {{ $w.softShutdownTimeoutSeconds | toString | quote }}
            - name: TASKYARD_WORKER_HEARTBEAT_PATH
              value: {{ include "taskyard.worker.heartbeatPath" $ | quote }}
            - name: TASKYARD_WORKER_HEARTBEAT_INTERVAL_SECONDS
              value: {{ $w.heartbeatIntervalSeconds | toString | quote }}
            # Prometheus /metrics of the worker's main process (0: none).
            - name: TASKYARD_WORKER_METRICS_PORT
              value: {{ $w.metrics.port | int64 | quote }}
            {{- if gt (int $w.metrics.port) 0 }}
            - name: TASKYARD_WORKER_METRICS_ADDRESS
              value: "0.0.0.0"
            {{- end }}
            {{- include "taskyard.connectionEnv" (dict "root" $ "broker" true "redis" true) | nindent 12 }}
            {{- if $storage }}
            {{- include "taskyard.storageEnv" $ | nindent 12 }}
            {{- end }}
            {{- with $env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- if and (eq $type "email") (or $.Values.smtp.password $.Values.smtp.existingSecret) }}
            - name: TASKYARD_SMTP_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ include "taskyard.smtp.secretName" $ }}
                  key: {{ $.Values.smtp.existingSecretKey }}
            {{- end }}
            {{- with $w.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if $w.livenessProbe.enabled }}
          {{- $heartbeatCheck := include "taskyard.worker.heartbeatCheck" (dict "maxAgeSeconds" $w.livenessProbe.maxHeartbeatAgeSeconds) }}
          startupProbe:
            exec:
              command: ["/bin/sh", "-c", {{ $heartbeatCheck | quote }}]
            periodSeconds: {{ $w.startupProbe.periodSeconds }}
            timeoutSeconds: {{ $w.livenessProbe.timeoutSeconds }}
            failureThreshold: {{ $w.startupProbe.failureThreshold }}
          livenessProbe:
            exec:
              command: ["/bin/sh", "-c", {{ $heartbeatCheck | quote }}]
            periodSeconds: {{ $w.livenessProbe.periodSeconds }}
            timeoutSeconds: {{ $w.livenessProbe.timeoutSeconds }}
            failureThreshold: {{ $w.livenessProbe.failureThreshold }}
            terminationGracePeriodSeconds: {{ $w.livenessProbe.terminationGracePeriodSeconds }}
          {{- end }}
          securityContext:
            {{- toYaml $.Values.containerSecurityContext | nindent 12 }}
          resources:
            {{- toYaml $w.resources | nindent 12 }}
          volumeMounts:
            {{- include "taskyard.tmpVolumeMount" $ | nindent 12 }}
            {{- if $storage }}
            {{- include "taskyard.storageVolumeMount" $ | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "taskyard.tmpVolume" $ | nindent 8 }}
        {{- if $storage }}
        {{- include "taskyard.storageVolume" $ | nindent 8 }}
        {{- end }}
      {{- with $w.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $storage }}
      {{- include "taskyard.affinity" (dict "root" $ "affinity" $w.affinity) | nindent 6 }}
      {{- else }}
      {{- with $w.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- end }}
      {{- with $w.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
