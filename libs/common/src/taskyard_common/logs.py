"""Structured logging: one JSON (or console) line per event, carrying the task id."""

from __future__ import annotations

import logging
import sys

import structlog

from taskyard_common.settings import Settings


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries log through the standard library; send them through the same renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


# Celery's own INFO line for every task a worker receives, finishes, retries or fails as
# expected. Each has a structured twin carrying the task id (task_received, task_succeeded,
# task_retry_scheduled, task_failed), and rendering the copies cost a worker about a sixth of
# its CPU per minimal task. Celery's warnings and errors (time limits, unexpected exceptions)
# still come through.
CELERY_PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def quiet_celery_per_task_lines(settings: Settings) -> None:
    """Before the worker starts: Celery decides then whether to build these lines at all.
    At DEBUG they stay."""
    configured = logging.getLevelName(settings.log_level)
    level = configured if configured <= logging.DEBUG else max(configured, logging.WARNING)
    for name in CELERY_PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(level)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
