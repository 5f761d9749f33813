# syntax=docker/dockerfile:1
# The cxgraph service image (docs/deploy.md). No compilers, no dev extras, no embedded database:
# only requirements/prod.lock and the service itself. Checked by hadolint (make deploy-check)
# and by tests/deploy/test_image.py, which runs this file's CMD from a clean virtualenv.

FROM python:3.11.14-slim-trixie AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/cxgraph
# The lock alone first: this layer is rebuilt only when the pinned dependencies change.
COPY requirements/prod.lock requirements/prod.lock
RUN /opt/cxgraph/bin/pip install --no-cache-dir -r requirements/prod.lock
COPY pyproject.toml README.md ./
COPY schema/ schema/
COPY resolvers/ resolvers/
COPY service/ service/
RUN /opt/cxgraph/bin/pip install --no-cache-dir --no-deps . \
    && /opt/cxgraph/bin/pip uninstall --yes pip

FROM python:3.11.14-slim-trixie
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cxgraph" \
      org.opencontainers.image.description="Headless GraphQL service for customer-experience analytics over MongoDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-trixie"
# Read-only root filesystem: no .pyc written at run time (pip compiled them at build time),
# temporary files only under /tmp (a mounted emptyDir in k8s/).
ENV PATH="/opt/cxgraph/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp \
    CX_ENV=production \
    CX_HOST=0.0.0.0 \
    CX_PORT=8000
COPY --from=build /opt/cxgraph /opt/cxgraph
USER 10001:10001
EXPOSE 8000
# uvicorn with the app factory, plus the SIGTERM drain of service/http/shutdown.py.
CMD ["cxgraph", "serve"]
