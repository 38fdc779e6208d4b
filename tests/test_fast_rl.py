"""The fast GRPO/RLOO trainers against TRL's own: log-probabilities, loss, gradients, samples and a training curve.

The reference is always TRL's unmodified trainer on an identical model. TRL's CPU LM-head kernel
keeps its softmax statistics in float32 whatever the model's dtype, so for the float64 comparisons
it is swapped for an exact float64 head (``_exact_head``, same inputs and outputs); everything else
TRL computes (padding, masks, positions, the loss) is TRL's.
"""

from __future__ import annotations

import inspect
import os
import tempfile

import pytest
import torch

pytest.importorskip("trl", minversion="1.0")  # the zoo's TRL 1.x; the image has TRL 0.19, and no trl tests

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer
from trl.trainer import utils as trl_utils
from trl.trainer.utils import shuffle_sequence_dict

import tiny_models
from rlcircuits.errors import SettingsError
from rlcircuits.zoo import fast_rl
from rlcircuits.zoo.fast_rl import FastGRPOTrainer, FastRLOOTrainer, check_pinned
from rlcircuits.zoo.shared_prompt import completion_logps, pack
from rlcircuits.zoo.tokenizer import build_tokenizer
from rlcircuits.zoo.training import ModelShape, special_ids

pytestmark = pytest.mark.trl

GENERATIONS = 4
PROMPTS = ["12+7=", "3*4-1=", "x+2=5, x=", "1/2+1/3="]
TRAINERS = {"grpo": (GRPOConfig, GRPOTrainer, FastGRPOTrainer), "rloo": (RLOOConfig, RLOOTrainer, FastRLOOTrainer)}


def _model(architecture: str, dtype: torch.dtype):
    """A tiny zoo-shaped decoder with the zoo tokenizer; EOS made likely so that rows finish at varied lengths."""
    from transformers import AutoModelForCausalLM

    tokenizer = build_tokenizer()
    shape = ModelShape(architecture, layers=2, hidden=32, heads=4, kv_heads=2 if architecture != "llama" else 4)
    config = shape.config(len(tokenizer), special_ids(tokenizer))
    config.tie_word_embeddings = False
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).to(dtype)
    with torch.no_grad():  # EOS's output row along the mean final hidden state: about 6% EOS per token
        mean = model.model(input_ids=torch.randint(3, 200, (8, 24))).last_hidden_state.flatten(0, 1).mean(0)
        model.lm_head.weight[tokenizer.eos_token_id] += mean / mean.norm() ** 2
    if dtype == torch.float64:
        tiny_models.exact_float64_norms(model)
    return model, tokenizer


# Every fast-trainer test's settings besides the batch shape and beta (tests/test_fast_online_dpo.py too):
# plain sampling at 0.7, fixed seeds, float32 on CPU as the zoo trains (rlcircuits.zoo.training), no saving.
TRAINER_ARGS = dict(
    learning_rate=1e-3,
    temperature=0.7,
    top_k=0,
    top_p=1.0,
    seed=0,
    data_seed=0,
    use_cpu=True,
    bf16=False,
    activation_checkpointing=False,
    save_strategy="no",
    report_to="none",
    logging_steps=1,
    disable_tqdm=True,
    dataloader_num_workers=0,
)


def count_forward_rows(monkeypatch, model) -> list[int]:
    """The batch size of each of ``model``'s forward calls from now on (prefill, then each decode step)."""
    rows: list[int] = []
    original = model.forward

    def counting(*args, **kwargs):
        rows.append(kwargs["input_ids"].shape[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "forward", counting)
    return rows


def _length_reward(completions, **_):
    """Mixed rewards within a group without a grader: the answer's length modulo 3."""
    return [float(len(text) % 3) for text in completions]


def _trainer(algorithm: str, fast: bool, dtype: torch.dtype, scratch: str, steps: int = 1, architecture="llama"):
    config_class, reference, fast_class = TRAINERS[algorithm]
    model, tokenizer = _model(architecture, dtype)
    args = config_class(
        output_dir=scratch,
        max_steps=steps,
        per_device_train_batch_size=len(PROMPTS) * GENERATIONS,
        num_generations=GENERATIONS,
        max_completion_length=12,
        beta=0.0,
        **TRAINER_ARGS,
    )
    trainer_class = fast_class if fast else reference
    return trainer_class(
        model=model,
        reward_funcs=_length_reward,
        args=args,
        train_dataset=Dataset.from_list([{"prompt": text} for text in PROMPTS]),
        processing_class=tokenizer,
    )


def _exact_head(hidden, weight, bias, labels, temperature, chunk_size, softcap, logit_scale, outputs):
    """TRL's fused-head kernel's contract (per-token log-probs, entropy) computed exactly in the inputs' dtype."""
    logits = hidden @ weight.t() * logit_scale / temperature
    log_softmax = logits.log_softmax(-1)
    logps = log_softmax.gather(-1, labels[:, None]).squeeze(-1)
    entropy = -(log_softmax.exp() * log_softmax).sum(-1) if "entropy" in outputs else None
    return logps, entropy, None, None, None


class _ExactHead:
    apply = staticmethod(_exact_head)


@pytest.fixture(scope="module", autouse=True)
def _silence():
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


def _batch(trainer) -> dict:
    """TRL's own scored batch (its sampling and rewards), rows shuffled as its training step shuffles them."""
    torch.manual_seed(1)
    rows = [{"prompt": text} for text in PROMPTS for _ in range(GENERATIONS)]
    return shuffle_sequence_dict(trainer._generate_and_score_completions(rows))


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().norm() / b.detach().norm())


@pytest.mark.parametrize(
    "algorithm, dtype, tolerance, architecture",
    [
        ("grpo", torch.float64, 1e-10, "llama"),
        ("grpo", torch.float64, 1e-10, "qwen2"),
        ("rloo", torch.float64, 1e-10, "mistral"),
        ("grpo", torch.float32, 1e-5, "llama"),
        ("rloo", torch.float32, 1e-5, "llama"),
    ],
)
def test_logps_loss_and_gradients_equal_trls(monkeypatch, tmp_path, algorithm, dtype, tolerance, architecture):
    if dtype == torch.float64:
        monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", _ExactHead)
    reference = _trainer(algorithm, False, dtype, str(tmp_path / "trl"), architecture=architecture)
    fast = _trainer(algorithm, True, dtype, str(tmp_path / "fast"), architecture=architecture)
    inputs = _batch(reference)
    mask = inputs["completion_mask"].bool()
    assert len(set(mask.sum(1).tolist())) > 2  # answers of varied lengths, so padding is really skipped
    input_ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    keep = inputs["completion_ids"].shape[1]
    results = []
    for trainer in (reference, fast):
        trainer.current_gradient_accumulation_steps = 1  # what train() sets before its first step
        logps, entropies, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, input_ids, attention, keep, compute_entropy=True
        )
        trainer.model.zero_grad()
        loss = trainer._compute_loss(trainer.model, inputs)
        loss.backward()
        gradient = torch.cat([parameter.grad.flatten() for parameter in trainer.model.parameters()])
        results.append((logps[mask], entropies[mask], loss, gradient))
    (logps, entropies, loss, gradient), (trl_logps, trl_entropies, trl_loss, trl_gradient) = results[1], results[0]
    assert _relative(logps, trl_logps) <= tolerance and _relative(entropies, trl_entropies) <= tolerance
    assert _relative(gradient, trl_gradient) <= tolerance
    # At the sampling policy the loss is advantage-weighted terms that cancel to about 0 (RLOO's to
    # ~1e-8): compared relative to its terms' scale, the mean absolute advantage.
    scale = max(float(trl_loss.detach().abs()), float(inputs["advantages"].abs().mean()))
    assert float((loss - trl_loss).abs()) <= tolerance * scale
    assert results[1][3].norm() > 0


def test_padding_positions_are_zero_and_prompts_are_shared():
    model, _ = _model("llama", torch.float64)
    prompt = torch.tensor([[0, 0, 5, 6], [0, 0, 5, 6], [7, 8, 9, 10]])
    completion = torch.tensor([[11, 12, 0], [13, 0, 0], [14, 15, 16]])
    prompt_mask = (prompt != 0).long()
    completion_mask = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1]])
    ids, attention = torch.cat([prompt, completion], 1), torch.cat([prompt_mask, completion_mask], 1)
    packed = pack(ids, attention, 3)
    # Two distinct prompts (2 + 4 tokens), then each answer but its last token (1 + 0 + 2).
    assert packed.input_ids.tolist() == [[5, 6, 7, 8, 9, 10, 11, 14, 15]]
    assert packed.position_ids.tolist() == [[2, 3, 0, 1, 2, 3, 4, 4, 5]]
    logps, entropy = completion_logps(model, ids, attention, 3, 1.0, compute_entropy=True)
    assert logps[~completion_mask.bool()].eq(0).all() and entropy[~completion_mask.bool()].eq(0).all()
    assert logps[completion_mask.bool()].lt(0).all()


def test_masks_with_gaps_are_a_clear_error():
    model, _ = _model("llama", torch.float32)
    ids = torch.tensor([[5, 6, 7, 8]])
    with pytest.raises(SettingsError, match="right-padded completion"):
        completion_logps(model, ids, torch.tensor([[1, 1, 0, 1]]), 2, 1.0)
    with pytest.raises(SettingsError, match="left-padded prompt"):
        completion_logps(model, ids, torch.tensor([[1, 0, 1, 1]]), 2, 1.0)


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_sampling_draws_trls_tokens_and_stops_finished_rows(tmp_path, algorithm, monkeypatch):
    reference = _trainer(algorithm, False, torch.float32, str(tmp_path / "trl"))
    fast = _trainer(algorithm, True, torch.float32, str(tmp_path / "fast"))
    prompt_ids = reference.processing_class(text=[text for text in PROMPTS for _ in range(GENERATIONS)])["input_ids"]
    forwarded_rows = count_forward_rows(monkeypatch, fast.model)
    samples = []
    for trainer in (reference, fast):
        torch.manual_seed(3)
        extra = (GENERATIONS,) if algorithm == "grpo" else ()
        output = trainer._generate_single_turn(prompt_ids, None, {}, *extra)
        samples.append(output[0] if algorithm == "grpo" else output)
        samples.append(torch.rand(1).item())  # the random stream continues where it would
    assert samples[2:] == samples[:2]
    lengths = [len(ids) for ids in samples[0]]
    assert min(lengths) < 12 and max(lengths) == 12  # some rows end early, some run to the limit
    assert forwarded_rows[0] == len(PROMPTS)  # one prefill per distinct prompt
    assert forwarded_rows[-1] == sum(length == 12 for length in lengths)  # finished rows left the forward


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_a_short_run_follows_trls_training_curve(tmp_path, algorithm):
    curves = []
    for fast in (False, True):
        with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
            torch.manual_seed(0)
            trainer = _trainer(algorithm, fast, torch.float32, scratch, steps=4)
            trainer.train()
            history = [entry for entry in trainer.state.log_history if "reward" in entry]
            curves.append([(entry["reward"], entry["loss"], entry["completions/mean_length"]) for entry in history])
    assert len(curves[0]) == 4
    for (reward, loss, length), (fast_reward, fast_loss, fast_length) in zip(*curves, strict=True):
        assert fast_reward == reward and fast_length == length
        assert fast_loss == pytest.approx(loss, rel=1e-4, abs=1e-6)


def test_overridden_methods_match_the_pinned_trl_signatures(monkeypatch):
    check_pinned()
    for (trainer, name), _ in fast_rl.PINNED.items():
        ours = getattr(FastGRPOTrainer if trainer is GRPOTrainer else FastRLOOTrainer, name)
        assert (
            str(inspect.signature(ours)).split(" ->")[0]
            == str(inspect.signature(getattr(trainer, name))).split(" ->")[0]
        )
    monkeypatch.setattr(GRPOTrainer, "_generate_single_turn", lambda self, prompt_ids, images: None)
    with pytest.raises(SettingsError, match="changed its signature"):
        check_pinned()


def test_unsupported_sampling_settings_are_refused(tmp_path):
    fast = _trainer("grpo", True, torch.float32, str(tmp_path))
    fast.generation_config.top_k = 5
    with pytest.raises(SettingsError, match="plain temperature samples"):
        fast._generate_single_turn([[1, 5, 6]], None, {}, GENERATIONS)


def test_offline_dpo_samples_are_generates(monkeypatch):
    """Offline DPO's one-off sampling draws what ``generate(num_return_sequences=...)`` draws from the same seed."""
    from rlcircuits.zoo.rl import RLSettings, answer_text, sample_answers

    model, tokenizer = _model("llama", torch.float32)
    settings = RLSettings(generations=GENERATIONS, max_completion_length=12, temperature=0.7)
    torch.manual_seed(5)
    answers = sample_answers(model, tokenizer, PROMPTS, settings)
    torch.manual_seed(5)
    tokenizer.padding_side = "left"
    batch = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        output = model.generate(
            **batch,
            do_sample=True,
            temperature=0.7,
            top_k=0,
            top_p=1.0,
            max_new_tokens=12,
            num_return_sequences=GENERATIONS,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    texts = tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    expected = [[answer_text(text) for text in texts[i : i + GENERATIONS]] for i in range(0, len(texts), GENERATIONS)]
    assert answers == expected and len({answer for group in answers for answer in group}) > len(PROMPTS)
