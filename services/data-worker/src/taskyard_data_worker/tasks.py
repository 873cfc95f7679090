"""`taskyard.data.process`: run a data pipeline and return or store its table."""

from __future__ import annotations

import io
from typing import Any

from taskyard_common.contracts.data import DataPayload
from taskyard_common.task_runtime import TaskContext, soft_time_limit_deferred

OUTPUT_CONTENT_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def process_data(payload: DataPayload, context: TaskContext) -> dict[str, Any]:
    # Polars adds about 20 MB to a process: importing it with the first task keeps it out
    # of the prefork parent, which never runs a task, and out of idle workers.
    with soft_time_limit_deferred():
        from taskyard_data_worker.pipeline import read_input, run_pipeline, to_rows

    frame = run_pipeline(payload, read_input(payload, context.files.open))
    result: dict[str, Any] = {
        "row_count": frame.height,
        "columns": frame.columns,
        "rows": to_rows(frame),
    }
    output_format = payload.output.format
    if output_format != "json":
        buffer = io.BytesIO()
        if output_format == "csv":
            frame.write_csv(buffer)
        else:
            frame.write_parquet(buffer)
        stored = context.files.save_bytes(
            buffer.getvalue(),
            name=f"{context.task_id}.{output_format}",
            content_type=OUTPUT_CONTENT_TYPES[output_format],
        )
        result["output_file_id"] = stored.id
    return result
