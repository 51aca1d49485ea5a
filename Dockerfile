# One image for every claimstream service: `docker run IMAGE serve langid` etc.
#   docker build -t claimstream .                                  # CPU
#   docker build -t claimstream:gpu --build-arg ONNXRUNTIME=gpu .  # CUDA (translate)
FROM python:3.11-slim-bookworm AS build
ARG ONNXRUNTIME=cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY services ./services
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install pip==25.3 \
 && /opt/venv/bin/pip install -c constraints.txt .
# The GPU build swaps in onnxruntime-gpu of the same version; its cuda/cudnn
# extras bring the CUDA 12 and cuDNN libraries as wheels, so the base image stays slim.
RUN if [ "$ONNXRUNTIME" = "gpu" ]; then \
      v="$(/opt/venv/bin/python -c 'import importlib.metadata as m; print(m.version("onnxruntime"))')" \
      && /opt/venv/bin/pip uninstall -y onnxruntime \
      && /opt/venv/bin/pip install "onnxruntime-gpu[cuda,cudnn]==$v"; \
    fi

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 claimstream \
 && mkdir -p /models /var/lib/claimstream /opt/claimstream-models \
 && chown claimstream /models /var/lib/claimstream
COPY --from=build /opt/venv /opt/venv
# The e5 encoder and the NER tagger, built once from the bundled weights into the image
# (read-only at run time), so no container builds them on start.
ENV CLAIMSTREAM_ENCODER_CACHE=/opt/claimstream-models
RUN /opt/venv/bin/claimstream build-models && chmod -R a+rX /opt/claimstream-models
# In a container the metrics and gRPC ports must be reachable from outside it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CLAIMSTREAM_METRICS_HOST=0.0.0.0 \
    CLAIMSTREAM_GRPC_HOST=0.0.0.0 \
    CLAIMSTREAM_DATA_DIR=/var/lib/claimstream
USER 10001
WORKDIR /home/claimstream
VOLUME ["/models", "/var/lib/claimstream"]
EXPOSE 9101 9102 9103 9104 9105 50051
ENTRYPOINT ["claimstream"]
CMD ["--help"]
