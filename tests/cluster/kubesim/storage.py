"""PersistentVolumeClaims on a default StorageClass that provisions like kind's
local-path (rancher.io/local-path): ReadWriteOnce and ReadWriteOncePod only, on the one
node. Any other claim stays Pending with the reason a cluster's events would give, and
a pod using a Pending claim is never scheduled. A Bound claim is a named Docker volume.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

DEFAULT_CLASS = "standard"
PROVISIONER = "rancher.io/local-path"
PROVISIONABLE_MODES = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})


@dataclass
class Claim:
    namespace: str
    name: str
    phase: str
    reason: str = ""
    volume: str = ""


def binding(spec: dict[str, Any]) -> tuple[str, str]:
    """(phase, reason) of a claim spec on this cluster: a pure decision."""
    if "storageClassName" in spec and spec["storageClassName"] == "":
        return (
            "Pending",
            "no persistent volumes available for this claim and no storage class is set",
        )
    wanted = spec.get("storageClassName") or DEFAULT_CLASS
    if wanted != DEFAULT_CLASS:
        return "Pending", f'storageclass.storage.k8s.io "{wanted}" not found'
    modes = set(spec.get("accessModes") or [])
    if not modes:
        return "Pending", "at least 1 access mode is required"
    if not modes <= PROVISIONABLE_MODES:
        return (
            "Pending",
            f'failed to provision volume with StorageClass "{DEFAULT_CLASS}": '
            "NodePath only supports ReadWriteOnce and ReadWriteOncePod access modes",
        )
    return "Bound", ""


class Storage:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.claims: dict[tuple[str, str], Claim] = {}

    def claim(self, namespace: str, name: str, spec: dict[str, Any]) -> Claim:
        """Create the claim if new (a claim's spec is immutable once bound)."""
        key = (namespace, name)
        if key in self.claims:
            return self.claims[key]
        phase, reason = binding(spec)
        claim = Claim(namespace, name, phase, reason)
        if phase == "Bound":
            claim.volume = f"{self.prefix}-pvc-{namespace}-{name}"
            subprocess.run(
                [
                    "docker",
                    "volume",
                    "create",
                    "--label",
                    f"kubesim.run={self.prefix}",
                    claim.volume,
                ],
                check=True,
                capture_output=True,
            )
        self.claims[key] = claim
        return claim

    def get(self, namespace: str, name: str) -> Claim | None:
        return self.claims.get((namespace, name))

    def remove_all(self) -> None:
        volumes = [c.volume for c in self.claims.values() if c.volume]
        if volumes:
            subprocess.run(["docker", "volume", "rm", "--force", *volumes], capture_output=True)
