"""Names as pods see them: a Service's short name only from its own namespace, its
`<svc>.<ns>.svc` and `<svc>.<ns>.svc.cluster.local` from any namespace."""

from __future__ import annotations

import pytest
from kubesim import images
from kubesim.stack import NAMESPACE, Stack

pytestmark = pytest.mark.cluster

RESOLVE = (
    "import socket, sys\nfor name in sys.argv[1:]:\n    print(name, socket.gethostbyname(name))\n"
)


def lookup_pod(name: str, hosts: list[str]) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "lookup",
                    "image": images.SYSTEM.tag,
                    "command": ["python3", "-c", RESOLVE, *hosts],
                    "securityContext": {"runAsUser": 65534, "readOnlyRootFilesystem": True},
                }
            ],
        },
    }


def rabbitmq_service(stack: Stack) -> str:
    return str(stack.component_service("rabbitmq")["metadata"]["name"])


@pytest.mark.parametrize("suffix", [".{ns}.svc", ".{ns}.svc.cluster.local", ""])
def test_service_names_resolve_from_their_own_namespace(stack: Stack, suffix: str):
    host = rabbitmq_service(stack) + suffix.format(ns=NAMESPACE)
    pod = stack.cluster.run_pod(lookup_pod(f"lookup-own{len(suffix)}", [host]), NAMESPACE, 60)
    assert pod.phase == "Succeeded", pod.logs()


@pytest.mark.parametrize("suffix", [".{ns}.svc", ".{ns}.svc.cluster.local"])
def test_qualified_service_names_resolve_from_namespace_keda(stack: Stack, suffix: str):
    host = rabbitmq_service(stack) + suffix.format(ns=NAMESPACE)
    pod = stack.cluster.run_pod(lookup_pod(f"lookup-keda{len(suffix)}", [host]), "keda", 60)
    assert pod.phase == "Succeeded", pod.logs()


def test_a_short_service_name_does_not_resolve_from_namespace_keda(stack: Stack):
    pod = stack.cluster.run_pod(lookup_pod("lookup-short", [rabbitmq_service(stack)]), "keda", 60)
    assert pod.phase == "Failed", pod.logs()
    assert "gaierror" in pod.logs()
