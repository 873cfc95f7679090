{{/*
The chart's named templates, one file per topic:
  _names.tpl         Names: the chart's, the release prefix, and every object name built from it.
  _labels.tpl        Labels: the common set, the selector subset, and the stable set of the data stores' pods.
  _images.tpl        Images: Taskyard's own, and the third-party ones (RabbitMQ, Valkey) from their values.
  _addresses.tpl     Addresses: Service host names and the connection URLs of the connections Secret.
  _secrets.tpl       Secrets: generated values that survive upgrades, and every Secret's name (the chart's or an existingSecret).
  _storage.tpl       Storage and volumes: the files volume (PVC) or S3 credentials, and the /tmp emptyDirs.
  _pods.tpl          Pods: settings every Taskyard pod shares, the connection environment, and scheduling.
  _probes.tpl        Probes: the worker heartbeat that the liveness and startup probes check.
  _workers.tpl       Workers: the settings of each worker Deployment, merged from the values' layers.
  _worker_deployment.tpl   Worker objects: the Deployment every Celery worker shares.
  _worker_scaledobject.tpl Worker scaling: the KEDA ScaledObject every worker Deployment shares.
  _callbacks.tpl     Callbacks: the callback worker's name, its settings and its signing Secret.
  _capabilities.tpl  Capabilities: whether the cluster serves the APIs of KEDA and the Prometheus Operator.
  _rabbitmq.tpl      RabbitMQ: its version-dependent settings and the checks of a cluster.
  _validate.tpl      Validation: value combinations the schema cannot express.
  _util.tpl          Utilities: quantities, deep merges and config checksums, used by the other helpers.

One calling convention, for every helper:
- A helper that needs only the release takes the root context: include "taskyard.x" $
- A helper with arguments takes one dict of named arguments, the root context under
  "root" when it needs the release: include "taskyard.x" (dict "root" $ "name" "api").
  A helper of plain values has no "root": include "taskyard.bytes" (dict "quantity" "1Gi").
Never a positional list, never a bare value: the names say what each argument is.
Each helper's docblock ends with its usage.
*/}}
