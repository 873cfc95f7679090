from __future__ import annotations

import pytest
from pydantic import ValidationError

from taskyard_api.errors import validation_details
from taskyard_api.request_guards import MAX_JSON_NESTING, _nesting_depth
from taskyard_common.contracts import SubmitRequest


def test_locations_drop_the_union_tags_pydantic_adds() -> None:
    with pytest.raises(ValidationError) as caught:
        SubmitRequest.model_validate(
            {
                "type": "data",
                "payload": {"input": {"records": []}, "operations": [{"op": "limit", "n": "x"}]},
            }
        )
    assert validation_details(caught.value)[0]["loc"] == ["payload", "operations", 0, "n"]


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert _nesting_depth('{"a": "[[[[{{{{"}') == 1
    assert _nesting_depth('{"a": [[{"b": "\\"["}]]}') == 4
    assert _nesting_depth("[" * (MAX_JSON_NESTING + 1)) > MAX_JSON_NESTING
