"""`make bench`: Taskyard measured beside a minimal Flask endpoint and plain Celery."""
