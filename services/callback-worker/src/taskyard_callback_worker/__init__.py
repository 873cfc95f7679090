"""taskyard-callback-worker: delivers completion callbacks from the `callbacks` queue."""
