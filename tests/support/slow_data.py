"""A data task that takes seconds of real work: a pipeline over a few million CSV rows.

The pipeline runs in Polars' native code, which Python's signals cannot interrupt: a soft
time limit takes effect only when the pipeline returns, and a hard limit kills it.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl

from support.client import ApiClient

# About 140 MB of CSV; the pipeline below takes 5 s of one of this machine's cores when it
# is idle, several times that under load.
SLOW_ROWS = 8_000_000
SLOW_OPERATIONS: list[dict[str, Any]] = [
    {"op": "sort", "by": ["k", "v"]},
    {"op": "dedupe", "columns": ["k", "v"]},
    {"op": "sort", "by": ["v", "k"], "descending": True},
    {"op": "aggregate", "group_by": ["g", "v"], "metrics": {"k": ["n_unique", "min", "max"]}},
    {"op": "sort", "by": ["k_n_unique", "g"]},
]


def slow_csv(rows: int = SLOW_ROWS) -> bytes:
    index = pl.int_range(0, rows, eager=True)
    frame = pl.DataFrame(
        {
            "k": (index.hash(7) % 1_000_000).cast(pl.Utf8),
            "v": (index.hash(3) % 10_000).cast(pl.Float64),
            "g": index.hash(5) % 1000,
        }
    )
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def upload_slow_input(api: ApiClient) -> str:
    file_id: str = api.upload("slow.csv", slow_csv(), "text/csv")["id"]
    return file_id


def slow_task(file_id: str, **options: Any) -> dict[str, Any]:
    payload = {"input": {"file_id": file_id, "format": "csv"}, "operations": SLOW_OPERATIONS}
    return {"type": "data", "payload": payload, **options}
