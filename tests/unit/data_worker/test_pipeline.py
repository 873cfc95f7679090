from __future__ import annotations

import polars as pl
import pytest

from taskyard_common.contracts.data import DataPayload
from taskyard_data_worker.pipeline import PipelineError, run_pipeline, to_rows

ROWS = [
    {"region": "eu", "amount": 10, "seller": "a"},
    {"region": "us", "amount": 3, "seller": "b"},
    {"region": "eu", "amount": 7, "seller": "a"},
    {"region": "eu", "amount": 7, "seller": "a"},
]


def run(operations: list[dict]) -> pl.DataFrame:
    payload = DataPayload.model_validate({"input": {"records": ROWS}, "operations": operations})
    return run_pipeline(payload, pl.LazyFrame(ROWS))


def test_aggregate_names_columns_column_metric() -> None:
    frame = run(
        [
            {
                "op": "aggregate",
                "group_by": ["region"],
                "metrics": {"amount": ["sum", "mean", "min", "max", "count"]},
            }
        ]
    )
    assert to_rows(frame) == [
        {
            "region": "eu",
            "amount_sum": 24,
            "amount_mean": 8.0,
            "amount_min": 7,
            "amount_max": 10,
            "amount_count": 3,
        },
        {
            "region": "us",
            "amount_sum": 3,
            "amount_mean": 3.0,
            "amount_min": 3,
            "amount_max": 3,
            "amount_count": 1,
        },
    ]


def test_aggregate_without_group_by_is_one_row() -> None:
    assert to_rows(run([{"op": "aggregate", "metrics": {"amount": ["sum"]}}])) == [
        {"amount_sum": 27}
    ]


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ({"op": "filter", "column": "amount", "cmp": ">=", "value": 7}, 3),
        ({"op": "filter", "column": "region", "cmp": "!=", "value": "eu"}, 1),
        ({"op": "filter", "column": "region", "cmp": "not_in", "value": ["us"]}, 3),
        ({"op": "dedupe"}, 3),
        ({"op": "dedupe", "columns": ["seller"]}, 2),
        ({"op": "limit", "n": 2}, 2),
    ],
)
def test_row_counts(operation: dict, expected: int) -> None:
    assert run([operation]).height == expected


def test_sort_and_select() -> None:
    frame = run(
        [
            {"op": "sort", "by": ["amount"], "descending": True},
            {"op": "select", "columns": ["amount"]},
        ]
    )
    assert frame.columns == ["amount"]
    assert frame["amount"].to_list() == [10, 7, 7, 3]


def test_missing_column_is_a_permanent_error_naming_it() -> None:
    with pytest.raises(PipelineError, match="ghost"):
        run([{"op": "select", "columns": ["ghost"]}])
    assert PipelineError.retryable is False


def test_type_mismatch_is_a_permanent_error() -> None:
    with pytest.raises(PipelineError):
        run([{"op": "filter", "column": "region", "cmp": ">", "value": 3}])
