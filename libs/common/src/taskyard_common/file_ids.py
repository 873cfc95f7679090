"""What a file id looks like: the payload models check it, the file store makes and checks it.

An opaque id handed out by POST /api/files, never a path: 32 lowercase hex digits.
"""

from __future__ import annotations

import re
import uuid
from typing import Final

FILE_ID_CHARS: Final = "[0-9a-f]{32}"
FILE_ID_REGEX: Final = f"^{FILE_ID_CHARS}$"
_FILE_ID_PATTERN = re.compile(FILE_ID_REGEX)


def new_file_id() -> str:
    return uuid.uuid4().hex


def is_file_id(value: str) -> bool:
    return bool(_FILE_ID_PATTERN.fullmatch(value))
