"""The baseline for the submit benchmark: the least a Flask endpoint can do for a POST.

It parses the JSON body and answers 202 with a small JSON document, nothing else
(no validation, no Redis, no broker). scripts/bench.sh serves it with the API's own
gunicorn configuration, so workers, threads and worker class are the same:

    gunicorn --config services/api/gunicorn.conf.py bench.minimal_flask:app
"""

from __future__ import annotations

import uuid

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/api/tasks")
def submit() -> Response:
    body = request.get_json(force=True, silent=True) or {}
    response = jsonify({"id": str(uuid.uuid4()), "type": body.get("type"), "status": "QUEUED"})
    response.status_code = 202
    return response


@app.get("/readyz")
def readyz() -> Response:
    return jsonify({"status": "ready"})
