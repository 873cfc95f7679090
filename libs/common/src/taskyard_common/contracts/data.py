"""The data payload: a pipeline of table operations over inline records or a stored file."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from taskyard_common.contracts.common import ColumnName, FileId, StrictModel
from taskyard_common.limits import MAX_INLINE_RECORDS

MAX_OPERATIONS = 50
MAX_LIMIT_ROWS = 10_000_000
MAX_STRING_VALUE_CHARS = 10_000

Scalar = Annotated[str, Field(max_length=MAX_STRING_VALUE_CHARS)] | int | float | bool | None
Comparison = Literal["==", "!=", ">", ">=", "<", "<=", "in", "not_in"]
Metric = Literal["sum", "mean", "min", "max", "count", "median", "std", "n_unique"]
InputFormat = Literal["csv", "json", "parquet"]
OutputFormat = Literal["json", "csv", "parquet"]


class RecordsInput(StrictModel):
    records: list[dict[ColumnName, Scalar]] = Field(max_length=MAX_INLINE_RECORDS)


class FileInput(StrictModel):
    file_id: FileId
    format: InputFormat


def _input_kind(value: Any) -> str | None:
    """The input the client chose: a file when it names one, else inline records."""
    if isinstance(value, dict):
        return "file" if "file_id" in value else "records"
    if isinstance(value, FileInput | RecordsInput):
        return "file" if isinstance(value, FileInput) else "records"
    return None


DataInput = Annotated[
    Annotated[RecordsInput, Tag("records")] | Annotated[FileInput, Tag("file")],
    Discriminator(
        _input_kind,
        custom_error_type="input_kind",
        custom_error_message='input is {"records": [...]} or {"file_id": ..., "format": ...}',
    ),
]


class FilterOp(StrictModel):
    op: Literal["filter"]
    column: ColumnName
    cmp: Comparison
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _value_matches_comparison(self) -> FilterOp:
        wants_list = self.cmp in ("in", "not_in")
        if wants_list != isinstance(self.value, list):
            expected = "a list" if wants_list else "a single value"
            raise ValueError(f"cmp {self.cmp!r} takes {expected} as value")
        ordering = self.cmp in (">", ">=", "<", "<=")
        if ordering and (self.value is None or isinstance(self.value, bool)):
            raise ValueError(f"cmp {self.cmp!r} needs a number or a string")
        return self


class SelectOp(StrictModel):
    op: Literal["select"]
    columns: list[ColumnName] = Field(min_length=1, max_length=1000)


class AggregateOp(StrictModel):
    op: Literal["aggregate"]
    group_by: list[ColumnName] = Field(default_factory=list, max_length=100)
    metrics: dict[ColumnName, list[Metric]] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _each_column_has_metrics(self) -> AggregateOp:
        for column, metrics in self.metrics.items():
            if not metrics:
                raise ValueError(f"column {column!r} lists no metric")
        return self


class SortOp(StrictModel):
    op: Literal["sort"]
    by: list[ColumnName] = Field(min_length=1, max_length=100)
    descending: bool = False


class LimitOp(StrictModel):
    op: Literal["limit"]
    n: int = Field(ge=0, le=MAX_LIMIT_ROWS)


class DedupeOp(StrictModel):
    op: Literal["dedupe"]
    columns: list[ColumnName] | None = Field(default=None, min_length=1, max_length=1000)
    keep: Literal["first", "last"] = "first"


class DescribeOp(StrictModel):
    op: Literal["describe"]


Operation = Annotated[
    FilterOp | SelectOp | AggregateOp | SortOp | LimitOp | DedupeOp | DescribeOp,
    Field(discriminator="op"),
]


class DataOutput(StrictModel):
    format: OutputFormat = "json"


class DataPayload(StrictModel):
    input: DataInput
    operations: list[Operation] = Field(default_factory=list, max_length=MAX_OPERATIONS)
    output: DataOutput = Field(default_factory=DataOutput)
