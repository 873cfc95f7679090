"""Which storage error each S3 answer becomes: a table, since the mapping decides retries."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from taskyard_common.retry import is_retryable
from taskyard_common.storage import FileNotFound, StorageMisconfigured, StorageUnavailable
from taskyard_common.storage.s3 import classify, parse_s3_url


def answer(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (answer("NoSuchKey", 404), FileNotFound),
        (answer("404", 404), FileNotFound),
        (answer("NoSuchBucket", 404), StorageMisconfigured),
        (answer("AccessDenied", 403), StorageMisconfigured),
        (answer("InvalidAccessKeyId", 403), StorageMisconfigured),
        (answer("SignatureDoesNotMatch", 403), StorageMisconfigured),
        (answer("SlowDown", 503), StorageUnavailable),
        (answer("ThrottlingException", 400), StorageUnavailable),
        (answer("RequestTimeout", 400), StorageUnavailable),
        (answer("TooManyRequests", 429), StorageUnavailable),
        (answer("InternalError", 500), StorageUnavailable),
        (answer("", 502), StorageUnavailable),
        (answer("InvalidArgument", 400), StorageMisconfigured),
        (EndpointConnectionError(endpoint_url="http://s3"), StorageUnavailable),
        (ConnectTimeoutError(endpoint_url="http://s3"), StorageUnavailable),
        (ReadTimeoutError(endpoint_url="http://s3"), StorageUnavailable),
        (ResponseStreamingError(error="reset"), StorageUnavailable),
        (ConnectionResetError(104, "reset"), StorageUnavailable),
        (NoCredentialsError(), StorageMisconfigured),
    ],
)
def test_classify(error: Exception, expected: type[Exception]) -> None:
    classified = classify(error, "s3://b/k")
    assert type(classified) is expected
    assert is_retryable(classified) == (expected is StorageUnavailable)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/a/b/", ("bucket", "a/b")),
    ],
)
def test_parse_s3_url(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected


def test_a_url_without_a_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="no bucket"):
        parse_s3_url("s3:///prefix")
