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
# cpu, gpu or openvino. The weights package requires plain onnxruntime, and the GPU and OpenVINO
# builds are the same `onnxruntime` module: for those, the plain one goes and theirs is put back.
ARG ONNXRUNTIME_FLAVOUR=cpu
RUN pip install ".[${ONNXRUNTIME_FLAVOUR},ops]" \
 && case "$ONNXRUNTIME_FLAVOUR" in \
      gpu) build=onnxruntime-gpu ;; openvino) build=onnxruntime-openvino ;; *) build= ;; \
    esac \
 && if [ -n "$build" ]; then \
      pip uninstall -y onnxruntime && pip install --force-reinstall --no-deps "$build"; \
    fi
# Refinement's compiled loops are cached next to their module: compile them once here, where
# site-packages is writable, so no worker compiles them at start (~5 s each process).
RUN python -c "import workers.pipeline.band_kernels"
USER cutout
EXPOSE 8000
CMD ["cutout", "serve", "--host", "0.0.0.0", "--port", "8000"]
