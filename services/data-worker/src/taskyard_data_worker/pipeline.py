"""Data pipelines on Polars: each contract operation becomes one lazy-frame step."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import polars as pl

from taskyard_common.contracts.data import (
    AggregateOp,
    DataPayload,
    DedupeOp,
    DescribeOp,
    FileInput,
    FilterOp,
    LimitOp,
    SelectOp,
    SortOp,
)
from taskyard_common.retry import PermanentError

MAX_RESULT_ROWS = 1000

_COMPARISONS: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
    "==": lambda column, value: column == value,
    "!=": lambda column, value: column != value,
    ">": lambda column, value: column > value,
    ">=": lambda column, value: column >= value,
    "<": lambda column, value: column < value,
    "<=": lambda column, value: column <= value,
    "in": lambda column, value: column.is_in(value),
    "not_in": lambda column, value: ~column.is_in(value),
}

_METRICS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "sum": pl.Expr.sum,
    "mean": pl.Expr.mean,
    "min": pl.Expr.min,
    "max": pl.Expr.max,
    "count": pl.Expr.count,
    "median": pl.Expr.median,
    "std": pl.Expr.std,
    "n_unique": pl.Expr.n_unique,
}


class PipelineError(PermanentError):
    """The pipeline cannot run on this data (a missing column, a type mismatch)."""


def _filter(frame: pl.LazyFrame, op: FilterOp) -> pl.LazyFrame:
    column = pl.col(op.column)
    if op.value is None and op.cmp in ("==", "!="):
        return frame.filter(column.is_null() if op.cmp == "==" else column.is_not_null())
    return frame.filter(_COMPARISONS[op.cmp](column, op.value))


def _aggregate(frame: pl.LazyFrame, op: AggregateOp) -> pl.LazyFrame:
    exprs = [
        _METRICS[metric](pl.col(column)).alias(f"{column}_{metric}")
        for column, metrics in op.metrics.items()
        for metric in metrics
    ]
    if not op.group_by:
        return frame.select(exprs)
    return frame.group_by(op.group_by, maintain_order=True).agg(exprs)


def _describe(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.collect().describe().lazy()


def apply_operation(frame: pl.LazyFrame, op: Any) -> pl.LazyFrame:
    match op:
        case FilterOp():
            return _filter(frame, op)
        case SelectOp():
            return frame.select(op.columns)
        case AggregateOp():
            return _aggregate(frame, op)
        case SortOp():
            return frame.sort(op.by, descending=op.descending, nulls_last=True)
        case LimitOp():
            return frame.limit(op.n)
        case DedupeOp():
            return frame.unique(subset=op.columns, keep=op.keep, maintain_order=True)
        case DescribeOp():
            return _describe(frame)
    raise PipelineError(f"unsupported operation {op!r}")


def read_input(payload: DataPayload, open_file: Callable[[str], Any]) -> pl.LazyFrame:
    source = payload.input
    if not isinstance(source, FileInput):
        return pl.LazyFrame(source.records, infer_schema_length=None)
    with open_file(source.file_id) as handle:
        data = handle.read()
    try:
        if source.format == "csv":
            return pl.read_csv(io.BytesIO(data)).lazy()
        if source.format == "json":
            return pl.read_json(io.BytesIO(data)).lazy()
        return pl.read_parquet(io.BytesIO(data)).lazy()
    except (pl.exceptions.PolarsError, ValueError, OSError) as error:
        raise PipelineError(
            f"cannot read file {source.file_id} as {source.format}: {error}"
        ) from error


def run_pipeline(payload: DataPayload, frame: pl.LazyFrame) -> pl.DataFrame:
    try:
        for op in payload.operations:
            frame = apply_operation(frame, op)
        return frame.collect()
    except pl.exceptions.ColumnNotFoundError as error:
        raise PipelineError(f"column not found: {_first_line(error)}") from error
    except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
        raise PipelineError(f"{type(error).__name__}: {_first_line(error)}") from error


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]


def to_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.head(MAX_RESULT_ROWS).to_dicts()
