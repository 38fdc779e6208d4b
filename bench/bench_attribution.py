#!/usr/bin/env python
"""Benchmark: EAP attribution against its floor, a bare frozen-parameter forward + backward.

Both passes run on the same random-weight model (built from a config, no download) and the same
token sequence, with the same truncated loss. Reported: median and minimum wall time of each, their ratios,
attribution tokens/s, and peak memory of each and their ratio.

Memory: on CUDA, ``torch.cuda.max_memory_allocated`` around each pass. On CPU each pass runs in
a fresh subprocess that resets the kernel's peak-RSS counter (/proc/self/clear_refs) after the
model is built, so the peak covers the pass alone; the "activation" ratio subtracts the RSS
held before the pass (weights, interpreter), the "total" ratio does not.

    python bench/bench_attribution.py                       # CPU preset: 8 layers, d=512, 512 tokens
    python bench/bench_attribution.py --preset mistral-7b --device cuda --dtype bfloat16 --find-max-tokens
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

from rlcircuits.eap import attribute, pad_batch, truncated_loss_input, truncated_nll
from rlcircuits.eap_adapter import find_decoder
from rlcircuits.models import DTYPES, resolve_dtype

PRESETS = {
    # Smallest model the CPU target names: >= 8 layers, d >= 512.
    "cpu-small": dict(
        arch="llama",
        hidden_size=512,
        intermediate_size=1408,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=8,
        vocab_size=32000,
    ),
    # Mistral-7B-v0.1's shape (grouped-query attention, 32 layers, d = 4096).
    "mistral-7b": dict(
        arch="mistral",
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=32000,
    ),
}


def build_model(preset: str, dtype: str, device: str, seed: int) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

    spec = dict(PRESETS[preset])
    config_class = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}[spec.pop("arch")]
    config = config_class(max_position_embeddings=131072, tie_word_embeddings=False, **spec)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(dtype))
    return model.eval().requires_grad_(False)


def make_items(tokens: int, vocab: int, seed: int) -> list:
    """One sequence of ``tokens`` input positions: half prompt, half scored answer."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (tokens + 1,), generator=generator).tolist()
    prompt_len = tokens // 2
    return [truncated_loss_input("bench", ids[:prompt_len], ids[prompt_len:], t_cut=tokens + 1 - prompt_len)]


def floor_pass(model: torch.nn.Module, items: list) -> None:
    """Bare forward + backward with frozen parameters: the least any gradient method must do."""
    embed = find_decoder(model).embed
    padded = pad_batch(items, embed.weight.device)
    with torch.enable_grad():
        embeds = embed(padded.input_ids).detach().requires_grad_(True)
        torch.autograd.grad(truncated_nll(model, embeds, padded).sum(), embeds)


def attribution_pass(model: torch.nn.Module, items: list, layout: str) -> None:
    attribute(model, items, layout=layout, batch_tokens=10**9)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_passes(model, items, args) -> dict[str, dict[str, float]]:
    """Median and minimum seconds of each pass, interleaved so drift affects both alike."""
    passes = {
        "floor": lambda: floor_pass(model, items),
        "attribution": lambda: attribution_pass(model, items, args.layout),
    }
    for run in passes.values():  # warm-up
        run()
    times: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(args.repeats):
        for name, run in passes.items():
            _sync(args.device)
            start = time.perf_counter()
            run()
            _sync(args.device)
            times[name].append(time.perf_counter() - start)
    return {name: {"median": statistics.median(v), "min": min(v)} for name, v in times.items()}


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure_memory_here(model, items, args, mode: str) -> dict[str, int]:
    """Peak bytes of one pass in this process (CUDA allocator, or RSS on CPU)."""
    run = (
        (lambda: floor_pass(model, items)) if mode == "floor" else (lambda: attribution_pass(model, items, args.layout))
    )
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run()
        torch.cuda.synchronize()
        return {"before": before, "peak": torch.cuda.max_memory_allocated()}
    before = _status_kib("VmRSS") * 1024
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")  # reset VmHWM, the kernel's peak-RSS counter
    run()
    return {"before": before, "peak": _status_kib("VmHWM") * 1024}


def measure_memory(args, mode: str) -> dict[str, int]:
    if args.device.startswith("cuda"):
        model = build_model(args.preset, args.dtype, args.device, args.seed)
        return measure_memory_here(model, make_items(args.tokens, model.config.vocab_size, args.seed), args, mode)
    child = [sys.executable, __file__, *sys.argv[1:], "--memory-child", mode]
    # Large blocks straight from mmap and back on free, so RSS follows the live tensors
    # instead of what glibc's heap happens to keep.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    done = subprocess.run(child, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def find_max_tokens(model, args) -> int:
    """Longest single sequence (multiple of 256) whose attribution fits in GPU memory."""
    if not args.device.startswith("cuda"):
        raise SystemExit("--find-max-tokens needs a CUDA device (on CPU it would exhaust the machine's RAM)")
    fits, tokens = 0, args.tokens
    while True:
        try:
            attribution_pass(model, make_items(tokens, model.config.vocab_size, args.seed), args.layout)
        except torch.cuda.OutOfMemoryError:
            break
        finally:
            torch.cuda.empty_cache()
        fits, tokens = tokens, tokens * 2
    low, high = fits, tokens
    while high - low > 256:
        middle = (low + high) // 2 // 256 * 256
        try:
            attribution_pass(model, make_items(middle, model.config.vocab_size, args.seed), args.layout)
            low = middle
        except torch.cuda.OutOfMemoryError:
            high = middle
        finally:
            torch.cuda.empty_cache()
    return low


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu-small")
    parser.add_argument("--tokens", type=int, default=512, help="input positions of the sequence")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layout", choices=("paper", "module"), default="paper")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--find-max-tokens", action="store_true", help="CUDA only: search the longest sequence that fits"
    )
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--memory-child", choices=("floor", "attribution"), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        model = build_model(args.preset, args.dtype, args.device, args.seed)
        items = make_items(args.tokens, model.config.vocab_size, args.seed)
        print(json.dumps(measure_memory_here(model, items, args, args.memory_child)))
        return
    model = build_model(args.preset, args.dtype, args.device, args.seed)
    items = make_items(args.tokens, model.config.vocab_size, args.seed)
    times = time_passes(model, items, args)
    memory = {mode: measure_memory(args, mode) for mode in ("floor", "attribution")}
    result = {
        "preset": args.preset,
        "config": PRESETS[args.preset],
        "tokens": args.tokens,
        "dtype": args.dtype,
        "device": args.device,
        "layout": args.layout,
        "repeats": args.repeats,
        "seconds": times,
        "time_ratio_median": times["attribution"]["median"] / times["floor"]["median"],
        "time_ratio_min": times["attribution"]["min"] / times["floor"]["min"],
        "attribution_tokens_per_s": args.tokens / times["attribution"]["median"],
        "peak_bytes": {mode: m["peak"] for mode, m in memory.items()},
        "memory_ratio_total": memory["attribution"]["peak"] / memory["floor"]["peak"],
        "memory_ratio_activations": (memory["attribution"]["peak"] - memory["attribution"]["before"])
        / (memory["floor"]["peak"] - memory["floor"]["before"]),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "hardware": torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    if args.find_max_tokens:
        result["max_tokens"] = find_max_tokens(model, args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
