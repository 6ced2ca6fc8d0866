# One image for the API, the workers and one-shot admin commands.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 10001 cutout
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY workers workers
COPY storage storage
COPY migrations migrations
COPY cutout cutout
COPY docs/samples docs/samples
ARG ONNXRUNTIME_FLAVOUR=cpu
RUN pip install ".[${ONNXRUNTIME_FLAVOUR},ops]"
USER cutout
EXPOSE 8000
CMD ["cutout", "serve", "--host", "0.0.0.0", "--port", "8000"]
