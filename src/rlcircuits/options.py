"""Named option sets shared by the CLIs' ``choices``, the runtime checks and the config schema.

Each set is a ``Literal`` (for type checkers) and the tuple of its values (``get_args``, for
argparse and error messages), spelled once here. Torch-free. tests/test_options.py checks each
against the schema's enum of the key that configures it.
"""

from __future__ import annotations

from typing import Literal, get_args

Device = Literal["cuda", "cpu"]
DEVICES: tuple[Device, ...] = get_args(Device)
DataSource = Literal["local", "hub"]
DATA_SOURCES: tuple[DataSource, ...] = get_args(DataSource)
# A benchmark's own format, or "qa" (id, question, answer) for any other dataset.
DataFormat = Literal["gsm8k", "math", "math500", "college_math", "qa"]
DATA_FORMATS: tuple[DataFormat, ...] = get_args(DataFormat)
BackendName = Literal["auto", "vllm", "transformers"]
BACKEND_NAMES: tuple[BackendName, ...] = get_args(BackendName)
# Model dtypes the CLIs take; the config offers a subset per stage (float64 is for exactness tests).
Dtype = Literal["float32", "bfloat16", "float16", "float64"]
DTYPE_NAMES: tuple[Dtype, ...] = get_args(Dtype)
Layout = Literal["paper", "module"]
LAYOUTS: tuple[Layout, ...] = get_args(Layout)
# Attribution: EAP (one gradient at the input) or EAP-IG (gradients along a path from a baseline input).
Method = Literal["eap", "eap_ig"]
METHODS: tuple[Method, ...] = get_args(Method)
IgBaseline = Literal["mean", "zero"]
IG_BASELINES: tuple[IgBaseline, ...] = get_args(IgBaseline)
# Attribution nodes: whole attention modules, or each attention head apart.
Granularity = Literal["module", "head"]
GRANULARITIES: tuple[Granularity, ...] = get_args(Granularity)
# Whose answer the loss scores: each model its own, or both models of a pair the base's (same tokens).
LossText = Literal["own_answer", "shared_answer"]
LOSS_TEXTS: tuple[LossText, ...] = get_args(LossText)
KurtosisOf = Literal["signed", "abs"]
KURTOSIS_OF: tuple[KurtosisOf, ...] = get_args(KurtosisOf)
# Metric normalisation: ours (real edges, per-sample complexity) or the paper's (full matrices, pooled histogram).
Convention = Literal["ours", "paper"]
CONVENTIONS: tuple[Convention, ...] = get_args(Convention)
Architecture = Literal["llama", "mistral", "qwen2"]
ARCHITECTURES: tuple[Architecture, ...] = get_args(Architecture)
# Zoo tuning algorithms; continued_sft is the controlled study's no-RL control (more SFT steps).
Algorithm = Literal["grpo", "rloo", "dpo", "online_dpo", "continued_sft"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
# A dataset's split: the benchmarks' test split, or a train split (the paper-scale RL data).
Split = Literal["test", "train"]
SPLITS: tuple[Split, ...] = get_args(Split)
# The Hub-model GRPO trainer's reward: the grader's verdict (1/0), or the authors' graded scale.
Reward = Literal["binary", "graded"]
REWARDS: tuple[Reward, ...] = get_args(Reward)
# Its optimiser: PyTorch AdamW, or bitsandbytes' 8-bit AdamW (CUDA only).
Optimizer = Literal["adamw", "adamw_8bit"]
OPTIMIZERS: tuple[Optimizer, ...] = get_args(Optimizer)
# TRL's GRPO loss normalisations offered by both the host's and the image's TRL.
GrpoLoss = Literal["grpo", "bnpo", "dr_grpo"]
GRPO_LOSSES: tuple[GrpoLoss, ...] = get_args(GrpoLoss)
