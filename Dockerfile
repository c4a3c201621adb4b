# GPU image: python -m mjx_mikt.run on the MJX backend (NVIDIA GPUs).
#   docker build -t mjx-mikt .
#   docker run --gpus all --user "$(id -u):$(id -g)" -v "$PWD/runs:/runs" mjx-mikt --target CentipedeEight
#   docker run --gpus all --user "$(id -u):$(id -g)" -v "$PWD/runs:/runs" -p 127.0.0.1:6006:6006 mjx-mikt tensorboard
# It runs as a non-root user (uid 1000, or yours with --user: the files in runs/ are then yours), and
# TensorBoard has no login: publish its port on 127.0.0.1 only, as above.
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

# Not root: any uid may write /runs and HOME (caches of matplotlib and JAX).
RUN useradd --create-home --uid 1000 mikt \
    && mkdir -p /runs /home/mikt/.cache \
    && chmod 1777 /runs /home/mikt /home/mikt/.cache
ENV HOME=/home/mikt \
    MPLCONFIGDIR=/home/mikt/.cache/matplotlib
USER 1000:1000

VOLUME ["/runs"]
WORKDIR /runs
EXPOSE 6006
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
# The accelerator preset: the paper's optimisation (976 updates at 2M steps) from 64 envs x 32 steps.
CMD ["--target", "CentipedeEight", "--preset", "wide-256x16"]
