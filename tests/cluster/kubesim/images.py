"""Images of the emulation.

Taskyard's own images come from scripts/build-images.sh. RabbitMQ and Valkey cannot be
pulled here, so stand-ins are built from Debian 13 (trixie) packages: `debootstrap
--variant=minbase` with the server package, then `docker import`, laid out like the
official images (user 999, the same data and config paths, the same entrypoint
behaviour), so the chart's own config files, env, init containers and security context
are what runs. A third image, `system`, carries python3 for the emulation's own pods.
Each stand-in is tagged with a hash of its recipe and reused while the recipe is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import REPO_ROOT, log

SUITE = "trixie"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# The official rabbitmq image's entrypoint, reduced to what applies to a container that
# already runs as the rabbitmq user: RabbitMQ itself reads RABBITMQ_DEFAULT_USER/PASS/VHOST
# (the image stopped handling them in its script with 3.9), long host names as the image does.
RABBITMQ_ENTRYPOINT = r"""#!/bin/bash
set -euo pipefail
if [[ "$1" == rabbitmq* ]] && [ "$(id -u)" = '0' ]; then
  if [ "$1" = 'rabbitmq-server' ]; then
    find /var/lib/rabbitmq \! -user rabbitmq -exec chown rabbitmq '{}' +
  fi
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$BASH_SOURCE" "$@"
fi
if [ -z "${RABBITMQ_USE_LONGNAME:-}" ] && [ "$(hostname)" != "$(hostname -s)" ]; then
  export RABBITMQ_USE_LONGNAME=true
fi
exec "$@"
"""

# The official image's conf.d/10-defaults.conf and the management variant's plugin list.
RABBITMQ_DEFAULTS_CONF = """## allow access to the guest user from anywhere on the network
loopback_users.guest = false
## send all logs to stdout/TTY
log.console = true
"""
RABBITMQ_ENABLED_PLUGINS = "[rabbitmq_management,rabbitmq_prometheus].\n"

VALKEY_ENTRYPOINT = r"""#!/bin/sh
set -eu
# first arg is `-f` or `--some-option`, or a .conf file: run valkey-server with it
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- valkey-server "$@"
fi
if [ "$(id -u)" = '0' ] && { [ "$1" = 'valkey-server' ] || [ "$1" = 'redis-server' ]; }; then
  find . \! -user valkey -exec chown valkey '{}' +
  exec setpriv --reuid=valkey --regid=valkey --init-groups "$0" "$@"
fi
exec "$@"
"""


@dataclass(frozen=True)
class StandIn:
    name: str
    packages: tuple[str, ...]
    user: str | None
    # shell run in the root file system after debootstrap (paths relative to it)
    layout: str
    files: tuple[tuple[str, str, int], ...]
    changes: tuple[str, ...]

    def recipe_hash(self) -> str:
        recipe = json.dumps(
            [SUITE, self.name, self.packages, self.user, self.layout, self.files, self.changes]
        )
        return hashlib.sha256(recipe.encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"kubesim/{self.name}:{SUITE}-{self.recipe_hash()}"


# Give a packaged system user the official images' UID/GID 999 and chown what it owned.
RENUMBER_USER = r"""
renumber() {
  local user=$1 old_uid old_gid
  old_uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' etc/passwd)
  old_gid=$(awk -F: -v u="$user" '$1 == u { print $4 }' etc/passwd)
  sed -i -E "s/^($user:[^:]*:)$old_uid:$old_gid:/\1999:999:/" etc/passwd
  sed -i -E "s/^($user:[^:]*:)$old_gid:/\1999:/" etc/group
  find . -xdev \( -uid "$old_uid" -o -gid "$old_gid" \) -print0 |
    xargs -0 -r chown -h 999:999
}
"""

RABBITMQ = StandIn(
    name="rabbitmq",
    packages=("rabbitmq-server",),
    user="rabbitmq",
    layout=RENUMBER_USER
    + r"""
renumber rabbitmq
mkdir -p opt/rabbitmq/sbin etc/rabbitmq/conf.d var/lib/rabbitmq var/log/rabbitmq
for tool in usr/lib/rabbitmq/bin/*; do ln -sf "/$tool" "opt/rabbitmq/sbin/$(basename "$tool")"; done
chown -R 999:999 var/lib/rabbitmq var/log/rabbitmq etc/rabbitmq
chmod 1777 var/lib/rabbitmq
rm -f etc/rabbitmq/rabbitmq-env.conf
""",
    files=(
        ("usr/local/bin/docker-entrypoint.sh", RABBITMQ_ENTRYPOINT, 0o755),
        ("etc/rabbitmq/conf.d/10-defaults.conf", RABBITMQ_DEFAULTS_CONF, 0o644),
        ("etc/rabbitmq/enabled_plugins", RABBITMQ_ENABLED_PLUGINS, 0o644),
    ),
    changes=(
        "ENV PATH=/opt/rabbitmq/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV RABBITMQ_DATA_DIR=/var/lib/rabbitmq",
        "ENV HOME=/var/lib/rabbitmq",
        "ENV RABBITMQ_LOGS=-",
        "ENV LANG=C.UTF-8",
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["rabbitmq-server"]',
        "EXPOSE 4369 5671 5672 15691 15692 25672 15671 15672",
    ),
)

VALKEY = StandIn(
    name="valkey",
    packages=("valkey-server", "valkey-tools"),
    user="valkey",
    layout=RENUMBER_USER
    + r"""
renumber valkey
mkdir -p data
chown 999:999 data
# The chart may still run the redis:7 image's commands.
for tool in server cli benchmark check-aof check-rdb sentinel; do
  [ -e "usr/bin/valkey-$tool" ] && ln -sf "valkey-$tool" "usr/bin/redis-$tool"
done
rm -f etc/valkey/valkey.conf
""",
    files=(("usr/local/bin/docker-entrypoint.sh", VALKEY_ENTRYPOINT, 0o755),),
    changes=(
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        "WORKDIR /data",
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["valkey-server"]',
        "EXPOSE 6379",
    ),
)

SYSTEM = StandIn(
    name="system",
    packages=("python3", "ca-certificates"),
    user=None,
    layout="",
    files=(),
    changes=(
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["sleep", "infinity"]',
    ),
)

STAND_INS = (RABBITMQ, VALKEY, SYSTEM)

# Rendered image references (repository part, without registry) -> stand-in.
STAND_IN_FOR_REPOSITORY = {
    "rabbitmq": RABBITMQ,
    "library/rabbitmq": RABBITMQ,
    "bitnami/rabbitmq": RABBITMQ,
    "redis": VALKEY,
    "library/redis": VALKEY,
    "valkey/valkey": VALKEY,
    "valkey": VALKEY,
}


def repository_of(reference: str) -> str:
    """`docker.io/library/rabbitmq:4.0-management` -> `library/rabbitmq`."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts)


def local_image(reference: str) -> str:
    """The image the emulation runs for a rendered image reference."""
    stand_in = STAND_IN_FOR_REPOSITORY.get(repository_of(reference))
    return stand_in.tag if stand_in else reference


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def debian_mirror() -> str:
    return os.environ.get("TASKYARD_DEBIAN_MIRROR", DEFAULT_MIRROR)


def build_stand_in(stand_in: StandIn) -> str:
    if image_exists(stand_in.tag):
        return stand_in.tag
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix=f"kubesim-{stand_in.name}-"))
    try:
        result = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(stand_in.packages)}",
                SUITE,
                str(root),
                debian_mirror(),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if result.returncode != 0:
            raise RuntimeError(f"debootstrap {stand_in.name} failed:\n{result.stdout[-4000:]}")
        for relative, text, mode in stand_in.files:
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            path.chmod(mode)
        subprocess.run(
            ["bash", "-euo", "pipefail", "-c", stand_in.layout], cwd=root, check=True, timeout=600
        )
        for junk in (
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
        ):
            shutil.rmtree(root / junk, ignore_errors=True)
        tar = subprocess.Popen(
            ["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
        )
        changes = [arg for change in stand_in.changes for arg in ("--change", change)]
        subprocess.run(
            ["docker", "import", *changes, "-", stand_in.tag],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
            timeout=900,
        )
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    log(f"built {stand_in.tag} in {time.monotonic() - started:.0f}s")
    return stand_in.tag


def build_stand_ins() -> list[str]:
    """Every stand-in image, built side by side when missing."""
    errors: list[BaseException] = []

    def build(stand_in: StandIn) -> None:
        try:
            build_stand_in(stand_in)
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=build, args=(s,)) for s in STAND_INS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [s.tag for s in STAND_INS]


def build_taskyard_images() -> None:
    """scripts/build-images.sh (Docker's cache makes an unchanged rebuild quick);
    TASKYARD_CLUSTER_SKIP_BUILD=1 uses the images as they are."""
    if os.environ.get("TASKYARD_CLUSTER_SKIP_BUILD") == "1":
        return
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "build-images.sh")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/build-images.sh failed:\n{result.stderr[-4000:]}")
