FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY layout layout
COPY wms wms
COPY fleet fleet
COPY crane crane
COPY simulation simulation
COPY adapters adapters
COPY coilyard coilyard
COPY examples examples
RUN pip install --no-cache-dir .
CMD ["coilyard", "--help"]
