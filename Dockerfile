# One image for the control plane (`python -m server`, the default), the node agent
# (`python -m node_agent`, which runs nginx with the RTMP module and ffmpeg) and the browser UI's
# static server (`python -m server.ui`, serving /app/ui behind Envoy).

# The UI, built from the locked npm packages; it compiles the generated client's sources too.
FROM node:20-bookworm-slim AS web
WORKDIR /src/clients
COPY clients/web/package.json clients/web/package-lock.json ./web/
RUN cd web && npm ci --no-audit --no-fund --loglevel=error
COPY clients/typescript/src ./typescript/src
COPY clients/web ./web
RUN cd web && npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx libnginx-mod-rtmp ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN pip install --no-cache-dir uv
COPY pyproject.toml uv.lock README.md ./
COPY server ./server
COPY node_agent ./node_agent
COPY config_options ./config_options
COPY clients/python ./clients/python
# Exactly the locked versions, runtime dependencies only.
RUN uv export --frozen --no-dev --no-emit-project -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps . \
 && python -m compileall -q server node_agent config_options clients/python
COPY --from=web /src/clients/web/dist /app/ui
RUN useradd --system --home /data camfleet && mkdir -p /data && chown camfleet /data
USER camfleet
ENV CAMFLEET_DATA_DIR=/data CAMFLEET_LISTEN=0.0.0.0:50051 CAMFLEET_UI_DIST=/app/ui
EXPOSE 50051 1935 8088 8081
ENTRYPOINT ["python", "-m", "server"]
