"""Request examples in the OpenAPI document: a valid submit body for every task type.

Without them swagger-ui builds the "Try it out" body from the first branch of the `type`
union and leaves `type` out, which the API refuses (422 "Unable to extract tag using
discriminator 'type'").
"""

from __future__ import annotations

from typing import Any

# The first one fills the editor when "Try it out" opens, so it is the one that runs anywhere.
SUBMIT_EXAMPLES: dict[str, dict[str, Any]] = {
    "data": {
        "summary": "data: total amount per region",
        "value": {
            "type": "data",
            "priority": "normal",
            "payload": {
                "input": {
                    "records": [
                        {"region": "eu", "amount": 10},
                        {"region": "us", "amount": 3},
                        {"region": "eu", "amount": 7},
                    ]
                },
                "operations": [
                    {"op": "filter", "column": "amount", "cmp": ">", "value": 2},
                    {
                        "op": "aggregate",
                        "group_by": ["region"],
                        "metrics": {"amount": ["sum", "count"]},
                    },
                    {"op": "sort", "by": ["amount_sum"], "descending": True},
                ],
                "output": {"format": "json"},
            },
        },
    },
    "email": {
        "summary": "email: a templated message, sent a minute from now",
        "value": {
            "type": "email",
            "priority": "high",
            "payload": {
                "to": ["ada@example.com"],
                "subject": "Hello {{ name }}",
                "text": "Your report is ready, {{ name }}.",
                "context": {"name": "Ada"},
            },
            "max_retries": 5,
            "delay_seconds": 60,
        },
    },
    "file": {
        "summary": "file: checksum of an upload (file_id from POST /api/files)",
        "value": {
            "type": "file",
            "priority": "low",
            "payload": {
                "file_id": "0123456789abcdef0123456789abcdef",
                "operation": "checksum",
                "algorithm": "sha256",
            },
        },
    },
}
SUBMIT_PATH = "/api/tasks"


def add_submit_examples(document: dict[str, Any]) -> None:
    body = document["paths"][SUBMIT_PATH]["post"]["requestBody"]
    body["content"]["application/json"]["examples"] = SUBMIT_EXAMPLES
