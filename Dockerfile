# One image per Taskyard service, from this one file. Build from the repository root;
# the build argument SERVICE and the target of the same name pick the service:
#   docker build --build-arg SERVICE=data-worker --target data-worker \
#     -t taskyard/data-worker:0.1.0 .
# (scripts/build-images.sh builds all five this way, and passes BASE_IMAGE.)
# SERVICE is api, data-worker, email-worker, file-worker or callback-worker.
#
# Two stages from the same base, so the interpreter the virtual environment
# points at exists in the final image: "build" resolves the locked dependencies
# with uv into /app/.venv (the service and taskyard-common installed into it as
# wheels, not editable); the final stage holds only /app (that venv, and for the
# API its gunicorn.conf.py). The last stages only set each service's command.
# Works with the classic builder and with BuildKit (no BuildKit-only syntax).

ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build

ARG SERVICE
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN case "$SERVICE" in api|data-worker|email-worker|file-worker|callback-worker) ;; \
      *) echo "build argument SERVICE must be api, data-worker, email-worker, file-worker or callback-worker" >&2; \
         exit 1 ;; \
    esac

# Extra certificate authorities to trust while downloading (PEM text; for a
# TLS-inspecting proxy). Only this stage sees them: the final image does not.
ARG BUILD_CA_CERTS=""
RUN if [ -n "$BUILD_CA_CERTS" ]; then \
      cat /etc/ssl/certs/ca-certificates.crt > /opt/build-ca.pem \
      && printf '%s\n' "$BUILD_CA_CERTS" >> /opt/build-ca.pem; \
    else ln -s /etc/ssl/certs/ca-certificates.crt /opt/build-ca.pem; fi
ENV SSL_CERT_FILE=/opt/build-ca.pem \
    PIP_CERT=/opt/build-ca.pem

# uv from PyPI, in a venv of its own (the official image has pip; Debian's python3 only venv).
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"

WORKDIR /src
# The whole workspace's metadata (uv checks the lock against every member),
# but only this service's code, copied after the dependencies are installed.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY libs/client/pyproject.toml libs/client/
COPY services/api/pyproject.toml services/api/
COPY services/data-worker/pyproject.toml services/data-worker/
COPY services/email-worker/pyproject.toml services/email-worker/
COPY services/file-worker/pyproject.toml services/file-worker/
COPY services/callback-worker/pyproject.toml services/callback-worker/

# uv uses the base image's interpreter: /usr/local/bin/python3 in the official
# image, Debian's /usr/bin/python3 in the stand-in base.
RUN UV_PYTHON="$(command -v python3)" && export UV_PYTHON \
 && /opt/uv/bin/uv sync --locked --no-dev --no-editable --no-install-workspace \
      --package "taskyard-$SERVICE"

# polars (the data worker's engine) ships its runtime unstripped (about 170 MB, of
# which 40 MB is the symbol table): strip it, which leaves the code as it is.
RUN set -e; runtimes=$(find /app/.venv -path '*/_polars_runtime*' -name '*.so'); \
    if [ -n "$runtimes" ]; then \
      if ! command -v strip >/dev/null; then \
        apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils >/dev/null; \
      fi; \
      strip --strip-unneeded $runtimes; \
    fi

COPY libs/common libs/common
COPY services/${SERVICE} services/${SERVICE}
RUN UV_PYTHON="$(command -v python3)" && export UV_PYTHON \
 && /opt/uv/bin/uv sync --locked --no-dev --no-editable --package "taskyard-$SERVICE" \
 && /app/.venv/bin/python -c "import taskyard_$(echo "$SERVICE" | tr - _)" \
 && if [ -f "services/$SERVICE/gunicorn.conf.py" ]; then \
      cp "services/$SERVICE/gunicorn.conf.py" /app/gunicorn.conf.py; \
    fi
# botocore's models of the AWS services Taskyard never calls: about 25 MB.
COPY scripts/prune-botocore-models.sh /opt/prune-botocore-models.sh
RUN /opt/prune-botocore-models.sh /app/.venv


FROM ${BASE_IMAGE} AS runtime

# Fixed non-root user; its home is /tmp, the only writable path at run time.
RUN echo 'taskyard:x:10001:' >> /etc/group \
 && echo 'taskyard:x:10001:10001:Taskyard:/tmp:/usr/sbin/nologin' >> /etc/passwd

WORKDIR /app
COPY --from=build /app /app

ENV PATH=/app/.venv/bin:${PATH} \
    VIRTUAL_ENV=/app/.venv \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

USER 10001:10001

ARG BASE_IMAGE
ARG SERVICE
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="taskyard-${SERVICE}" \
      org.opencontainers.image.description="Taskyard ${SERVICE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.vendor="Taskyard" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# Each command is exec form: the process is PID 1 and gets SIGTERM itself.

# gunicorn binds to TASKYARD_API_BIND (default 127.0.0.1:8000). Flower runs from
# this image too: `taskyard-flower --address=0.0.0.0 --port=5555`, and so does the
# filePurge CronJob: `taskyard-admin purge-expired`.
FROM runtime AS api
EXPOSE 8000 5555
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py"]

# A worker runs one queue per container: taskyard-<type>-worker --priority high|normal|low.
FROM runtime AS data-worker
CMD ["taskyard-data-worker", "--priority", "normal"]

FROM runtime AS email-worker
CMD ["taskyard-email-worker", "--priority", "normal"]

FROM runtime AS file-worker
CMD ["taskyard-file-worker", "--priority", "normal"]

# Delivers completion callbacks from the callbacks queue.
FROM runtime AS callback-worker
CMD ["taskyard-callback-worker"]
