"""Field types several payloads share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from taskyard_common.file_ids import FILE_ID_REGEX

MAX_COLUMN_NAME_CHARS = 256

FileId = Annotated[str, StringConstraints(pattern=FILE_ID_REGEX)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_COLUMN_NAME_CHARS)]


class StrictModel(BaseModel):
    """Unknown fields are a client mistake (422), not something to ignore."""

    model_config = ConfigDict(extra="forbid")
