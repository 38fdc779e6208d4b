# CUDA 12.2 image for the paper run: `snakemake --cores all --use-singularity` runs every job in it.
# Build:   docker build -t rl-circuits:0.1.0 .
# To SIF:  apptainer build rl-circuits.sif docker-daemon://rl-circuits:0.1.0
FROM nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

# Python 3.11 from Ubuntu 22.04's own archive; git for provenance (commit in the report).
# Unpinned apt packages: the archive drops superseded versions on every security update, so exact
# pins would break rebuilds; the Python stack, which decides the results, is pinned below.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv python3.11-dev build-essential git ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# One virtual environment for everything, first on PATH, so `python` in every rule is this one.
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /opt/rl-circuits
COPY envs/requirements-gpu.txt envs/requirements-gpu.txt
RUN pip install pip==25.1.1 \
 && pip install -r envs/requirements-gpu.txt

# The project itself, from this repository (no dependency resolution: the pins above are the set),
# and a non-root numeric user; Apptainer runs as the calling user anyway, Docker as this one.
COPY pyproject.toml README.md ./
COPY src src
RUN pip install --no-deps . \
 && useradd --uid 10001 --create-home --shell /bin/bash rlc
USER 10001

# `docker run rl-circuits:0.1.0` without a GPU: attributes a tiny random model on CPU, exit 0 if the
# engine works under the image's torch and transformers (src/rlcircuits/smoke.py).
CMD ["python", "-m", "rlcircuits.smoke"]
