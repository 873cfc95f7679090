"""A data task that takes seconds of real work: a pipeline over a few million CSV rows.

The pipeline runs in Polars' native code, which Python's signals cannot interrupt: a soft
time limit takes effect only when the pipeline returns, and a hard limit kills it.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl

from support.client import ApiClient

# About 70 MB of CSV; the pipeline below takes 4 to 5 s on one of this machine's cores.
SLOW_ROWS = 4_000_000
SLOW_OPERATIONS: list[dict[str, Any]] = [
    {"op": "dedupe", "columns": ["k"]},
    {"op": "sort", "by": ["k"]},
    {"op": "aggregate", "group_by": ["g"], "metrics": {"v": ["median"], "k": ["n_unique"]}},
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
