"""kubesim: runs a rendered Helm chart in Docker the way kubelet, kube-proxy, CoreDNS,
the Deployment/StatefulSet controllers and KEDA would (see docs/cluster-emulation.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[kubesim {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)
