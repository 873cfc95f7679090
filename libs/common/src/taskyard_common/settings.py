"""Every TASKYARD_* setting, read from the environment (and an optional .env file)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from taskyard_common.limits import MAX_INLINE_RECORDS, MAX_RETRIES_LIMIT
from taskyard_common.topology import TaskType

# TASKYARD_BROKER_URL and TASKYARD_RABBITMQ_MANAGEMENT_URL may list every member of a
# RabbitMQ cluster with this between them; kombu fails over between broker URLs in order.
URL_SEPARATOR = ";"
MIN_SESSION_SECRET_CHARS = 32


def split_urls(value: SecretStr) -> list[str]:
    return [url.strip() for url in value.get_secret_value().split(URL_SEPARATOR) if url.strip()]


# The caller and owner when no API key is configured; no key may take this name.
ANONYMOUS = "anonymous"
# A key's name is an owner in records, Redis keys and storage paths: kept to safe characters.
KEY_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KEY_NAME_SEPARATOR = ":"
BARE_KEY_NAME_PREFIX = "key-"


def bare_key_name(key: str) -> str:
    """The name of a key given without one: `key-` and the first 8 hex of its sha256."""
    return BARE_KEY_NAME_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:8]


def parse_api_keys(entries: Iterable[str]) -> dict[str, str]:
    """Key name -> key, from `name:key` or bare-key entries (blank ones skipped).

    Raises ValueError for an entry with an empty name or key, a bad or reserved name,
    one name given two keys, or one key given two names: a start-up error, not a guess.
    """
    keys: dict[str, str] = {}
    names_by_key: dict[str, str] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        name, separator, key = entry.partition(KEY_NAME_SEPARATOR)
        if not separator:
            name, key = bare_key_name(entry), entry
        name, key = name.strip(), key.strip()
        if not key:
            raise ValueError(f"API key entry {name!r}: the key after ':' is empty")
        if not KEY_NAME_PATTERN.fullmatch(name) or name == ANONYMOUS:
            raise ValueError(
                f"API key name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-' "
                f"(not starting with '.', '_' or '-', and not {ANONYMOUS!r})"
            )
        if keys.get(name, key) != key:
            raise ValueError(f"API key name {name!r} is given two different keys")
        if names_by_key.get(key, name) != name:
            raise ValueError(f"one API key is named both {names_by_key[key]!r} and {name!r}")
        keys[name] = key
        names_by_key[key] = name
    return keys


class Settings(BaseSettings):
    """The one place a Taskyard process reads its configuration from.

    Local defaults point at servers on loopback; no secret has a default: the
    chart generates them, `make run` writes development ones into `.env`.
    """

    model_config = SettingsConfigDict(
        env_prefix="TASKYARD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    broker_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672//")
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    rabbitmq_management_url: SecretStr = SecretStr("http://guest:guest@127.0.0.1:15672")
    # file:///a/folder, or s3://bucket/prefix with the S3 settings below. S3 credentials
    # are botocore's: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, web or pod identity.
    storage_url: str = "file:///tmp/taskyard-files"
    # Empty: AWS S3 itself (or botocore's AWS_ENDPOINT_URL_S3); set for MinIO, Ceph, R2 ...
    s3_endpoint_url: str = ""
    # Empty: botocore's AWS_DEFAULT_REGION, else us-east-1.
    s3_region: str = ""
    # path (bucket in the URL path) suits most S3-compatible stores; auto lets botocore pick.
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    # Uploads and task outputs expire this long after creation (taskyard-admin purge-expired).
    file_ttl_seconds: PositiveInt = 7 * 24 * 3600

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_from: str = "taskyard@localhost"
    smtp_timeout_seconds: float = 30.0

    retry_max_retries: int = Field(default=5, ge=0, le=MAX_RETRIES_LIMIT)
    retry_backoff_base_seconds: PositiveFloat = 2.0
    retry_backoff_max_seconds: PositiveFloat = 300.0
    retry_jitter: bool = True

    # The longest an attempt of each type may run; a submit may ask for less (timeout_seconds).
    data_time_limit_seconds: PositiveInt = 600
    email_time_limit_seconds: PositiveInt = 60
    file_time_limit_seconds: PositiveInt = 900
    # After the soft limit the task gets this long to stop before its pool process is killed.
    hard_time_limit_grace_seconds: PositiveInt = 10

    api_bind: str = "127.0.0.1:8000"
    api_workers: PositiveInt = 2
    api_threads: PositiveInt = 4
    api_keys: SecretStr = SecretStr("")
    api_keys_file: str = ""
    # Names (not keys) of the API keys that see and act on every caller's tasks and files.
    admin_api_keys: str = ""
    metrics_require_auth: bool = False
    rate_limit: str = "600/minute"
    # Where the rate limit counters live; empty means TASKYARD_REDIS_URL ("memory://" for tests).
    rate_limit_storage_url: SecretStr = SecretStr("")
    flower_basic_auth: SecretStr = SecretStr("")
    flower_cookie_secret: SecretStr = SecretStr("")
    # Signs the web console's session cookie (at least 32 characters); empty: no console.
    ui_session_secret: SecretStr = SecretStr("")
    # A console sign-in lasts this long, then asks for the key again.
    ui_session_lifetime_seconds: int = Field(default=8 * 3600, ge=60, le=30 * 24 * 3600)
    # auto: the cookie is Secure when the request reached gunicorn as https; always: behind
    # a proxy that ends TLS; never: plain http on purpose.
    ui_secure_cookie: Literal["auto", "always", "never"] = "auto"

    # Completion callbacks. The signing secret has no default: the chart generates one and
    # `make run` writes one into .env; the callback worker refuses to start without it.
    callback_signing_secret: SecretStr = SecretStr("")
    # False where no callback worker runs (the chart's callbacks.enabled): the API then refuses
    # callback_url, and no delivery is queued, rather than fill a queue nobody consumes.
    callbacks_enabled: bool = True
    callback_max_attempts: int = Field(default=8, ge=1, le=100)
    # Host names (comma separated) whose callbacks may go to private, loopback or link-local
    # addresses, which are refused for every other host.
    callback_allowed_hosts: str = ""

    result_ttl_seconds: PositiveInt = 7 * 24 * 3600
    idempotency_ttl_seconds: PositiveInt = 24 * 3600

    max_request_bytes: PositiveInt = 1024 * 1024
    max_upload_bytes: PositiveInt = 1024 * 1024 * 1024
    max_batch_tasks: PositiveInt = 1000
    # How far ahead a submit may schedule its task (run_at or delay_seconds).
    max_schedule_seconds: PositiveInt = 30 * 24 * 3600
    max_data_records: PositiveInt = MAX_INLINE_RECORDS
    max_json_depth: int = Field(default=32, ge=2, le=1000)
    image_max_pixels: PositiveInt = 50_000_000

    worker_concurrency: PositiveInt = 1
    worker_soft_shutdown_timeout_seconds: NonNegativeFloat = 30.0
    # The worker's main process touches this file from its event loop (empty: no heartbeat);
    # the chart's liveness probe checks its age.
    worker_heartbeat_path: str = ""
    worker_heartbeat_interval_seconds: PositiveFloat = 10.0
    cache_ttl_seconds: NonNegativeFloat = 3.0
    # Each worker process serves its Prometheus metrics here; 0 turns the endpoint off.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_address: str = "127.0.0.1"
    # Folder the pool processes write their samples into; empty: a fresh temporary one.
    worker_metrics_dir: str = ""

    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"

    @field_validator("ui_session_secret")
    @classmethod
    def _long_session_secret(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < MIN_SESSION_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SESSION_SECRET_CHARS} characters")
        return value

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        return value.upper()

    def broker_urls(self) -> list[str]:
        return split_urls(self.broker_url)

    def management_urls(self) -> list[str]:
        return split_urls(self.rabbitmq_management_url)

    def time_limit_seconds(self, task_type: TaskType) -> int:
        """The type's time limit: the most a task of that type may ask for."""
        limits: dict[TaskType, int] = {
            "data": self.data_time_limit_seconds,
            "email": self.email_time_limit_seconds,
            "file": self.file_time_limit_seconds,
        }
        return limits[task_type]

    def attempt_time_limits(
        self, task_type: TaskType, timeout_seconds: int | None = None
    ) -> tuple[int, int]:
        """(soft, hard) seconds of one attempt: the soft limit stops the task from inside,
        the hard one kills its pool process."""
        soft = timeout_seconds or self.time_limit_seconds(task_type)
        return soft, soft + self.hard_time_limit_grace_seconds

    def callback_allowed_host_set(self) -> frozenset[str]:
        hosts = (h.strip().lower().rstrip(".") for h in self.callback_allowed_hosts.split(","))
        return frozenset(h for h in hosts if h)

    def named_api_keys(self) -> dict[str, str]:
        """Key name -> key, from TASKYARD_API_KEYS (comma separated) and TASKYARD_API_KEYS_FILE
        (one a line); each entry `name:key` or a bare key. ValueError for a malformed set."""
        entries = self.api_keys.get_secret_value().split(",")
        if self.api_keys_file:
            with open(self.api_keys_file, encoding="utf-8") as handle:
                entries.extend(handle)
        return parse_api_keys(entries)

    def admin_key_names(self, named_keys: Iterable[str]) -> frozenset[str]:
        """TASKYARD_ADMIN_API_KEYS, each checked against the configured key names."""
        admins = frozenset(n.strip() for n in self.admin_api_keys.split(",") if n.strip())
        unknown = sorted(admins - set(named_keys))
        if unknown:
            raise ValueError(
                f"TASKYARD_ADMIN_API_KEYS names no configured API key: {', '.join(unknown)}"
            )
        return admins


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
