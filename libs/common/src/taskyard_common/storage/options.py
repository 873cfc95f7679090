"""How to reach an S3-compatible store, apart from the credentials (botocore's chain owns those)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AddressingStyle = Literal["auto", "path", "virtual"]


@dataclass(frozen=True)
class S3Options:
    endpoint_url: str = ""
    region: str = ""
    addressing_style: AddressingStyle = "auto"
