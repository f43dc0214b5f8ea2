# One image for the control plane (`python -m server`, the default) and the node agent
# (`python -m node_agent`, which runs nginx with the RTMP module and ffmpeg).
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
COPY clients/python ./clients/python
# Exactly the locked versions, runtime dependencies only.
RUN uv export --frozen --no-dev --no-emit-project -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps .
RUN useradd --system --home /data camfleet && mkdir -p /data && chown camfleet /data
USER camfleet
ENV CAMFLEET_DATA_DIR=/data CAMFLEET_LISTEN=0.0.0.0:50051
EXPOSE 50051 1935 8088
ENTRYPOINT ["python", "-m", "server"]
