"""`make bench`: Taskyard measured beside a minimal Flask endpoint and plain Celery.

The bench starts its processes with the tests' stack harness (tests/support/stack.py:
one harness for both), so tests/ joins the import path here, as pytest's `pythonpath`
does for the tests; every `python -m bench.<module>` command then works from the repo.
"""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)
