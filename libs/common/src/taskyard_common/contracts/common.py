"""Field types several payloads share."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from taskyard_common.file_ids import FILE_ID_REGEX

MAX_COLUMN_NAME_CHARS = 256
# Every payload field that names an uploaded file is called this.
FILE_ID_FIELD = "file_id"

FileId = Annotated[str, StringConstraints(pattern=FILE_ID_REGEX)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_COLUMN_NAME_CHARS)]


class StrictModel(BaseModel):
    """Unknown fields are a client mistake (422), not something to ignore."""

    model_config = ConfigDict(extra="forbid")


Loc = tuple[str | int, ...]


def named_files(value: Any, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """Every file a parsed payload names, with where (`loc`) it names it.

    Only model fields are searched: a `file_id` key inside free-form data (records,
    template context) names nothing.
    """
    if isinstance(value, BaseModel):
        found: list[tuple[Loc, str]] = []
        for name in type(value).model_fields:
            field = getattr(value, name)
            if name == FILE_ID_FIELD and isinstance(field, str):
                found.append(((*loc, name), field))
            else:
                found.extend(named_files(field, (*loc, name)))
        return found
    if isinstance(value, list):
        return [hit for i, item in enumerate(value) for hit in named_files(item, (*loc, i))]
    return []
