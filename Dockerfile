# GPU image: python -m mjx_mikt.run on the MJX backend (NVIDIA GPUs).
#   docker build -t mjx-mikt .
#   docker run --gpus all -v "$PWD/runs:/runs" -p 6006:6006 mjx-mikt --target CentipedeEight
#   docker run --gpus all -v "$PWD/runs:/runs" -p 6006:6006 mjx-mikt tensorboard
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MUJOCO_GL=egl \
    XLA_PYTHON_CLIENT_PREALLOCATE=false \
    JAX_DEFAULT_MATMUL_PRECISION=highest

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv python3-pip libegl1 libgl1 \
    && rm -rf /var/lib/apt/lists/*

RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY pyproject.toml README.md ./
COPY centipede_models ./centipede_models
COPY mjx_mikt ./mjx_mikt
COPY bench ./bench
# The CUDA build of the same jax pin as pyproject.toml (tests/test_docker.py checks they agree).
RUN pip install "jax[cuda12]==0.10.2" && pip install .

COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh
RUN chmod +x /usr/local/bin/entrypoint.sh

VOLUME ["/runs"]
WORKDIR /runs
EXPOSE 6006
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
# The accelerator preset: the paper's optimisation (976 updates at 2M steps) from 64 envs x 32 steps.
CMD ["--target", "CentipedeEight", "--preset", "paper-wide"]
