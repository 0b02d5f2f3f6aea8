# coilyard: the app image (CLI, `coilyard serve`, the VDA 5050 emulator). Build: docker build -t coilyard .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY layout layout
COPY wms wms
COPY fleet fleet
COPY crane crane
COPY simulation simulation
COPY adapters adapters
COPY coilyard coilyard
COPY examples examples
RUN pip install . && useradd --create-home --uid 10001 coilyard && mkdir -p /app/out && chown coilyard /app/out
USER coilyard
EXPOSE 8000
# Settings come from COILYARD_* environment variables (docs/api.md). The service migrates the database at start.
ENV COILYARD_API_HOST=0.0.0.0 COILYARD_API_PORT=8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready').status != 200)"
CMD ["coilyard", "serve"]
