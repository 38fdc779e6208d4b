"""The fast online DPO trainer against TRL's own: samples, log-probabilities, loss, gradients and a training curve.

The reference is TRL's unmodified OnlineDPOTrainer on an identical tiny model (tests/test_fast_rl.py's),
with the same reference model, data and seed.
"""

from __future__ import annotations

import inspect
import os
import tempfile

import pytest
import torch

pytest.importorskip("trl", minversion="1.0")  # the zoo's TRL 1.x; the image has TRL 0.19, and no trl tests
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from datasets import Dataset
from trl.experimental.online_dpo import OnlineDPOConfig, OnlineDPOTrainer

from rlcircuits.errors import SettingsError
from rlcircuits.zoo import fast_online_dpo
from rlcircuits.zoo.fast_online_dpo import FastOnlineDPOTrainer
from rlcircuits.zoo.fast_rl import check_pinned
from test_fast_rl import PROMPTS, TRAINER_ARGS, _length_reward, _model, _relative, count_forward_rows

pytestmark = pytest.mark.trl


def _trainer(fast: bool, dtype: torch.dtype, scratch: str, steps: int = 1) -> OnlineDPOTrainer:
    model, tokenizer = _model("llama", dtype)
    args = OnlineDPOConfig(
        output_dir=scratch,
        max_steps=steps,
        per_device_train_batch_size=len(PROMPTS),
        max_new_tokens=12,
        max_length=512,
        beta=0.1,
        **TRAINER_ARGS,
    )
    rows = [{"prompt": tokenizer.bos_token + text} for text in PROMPTS]  # BOS as text, as rl.prompt_rows writes it
    trainer_class = FastOnlineDPOTrainer if fast else OnlineDPOTrainer
    return trainer_class(
        model=model,
        reward_funcs=_length_reward,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
    )


def _prompts(trainer: OnlineDPOTrainer) -> list[str]:
    return [trainer.processing_class.bos_token + text for text in PROMPTS]


def test_sampling_draws_trls_tensors_and_stops_finished_rows(tmp_path, monkeypatch):
    reference, fast = (_trainer(fast, torch.float32, str(tmp_path / str(fast))) for fast in (False, True))
    forwarded_rows = count_forward_rows(monkeypatch, fast.model)
    outputs = []
    for trainer in (reference, fast):
        torch.manual_seed(3)
        outputs.append((trainer._generate(trainer.model, _prompts(trainer))[:4], torch.rand(1).item()))
    (trl_tensors, trl_next), (tensors, following) = outputs
    for ours, theirs in zip(tensors, trl_tensors, strict=True):
        assert torch.equal(ours, theirs)
    assert following == trl_next  # the random stream continues where it would
    lengths = trl_tensors[3].sum(1)
    assert int(lengths.min()) < 12 and int(lengths.max()) == 12  # some rows end early, some run to the limit
    assert forwarded_rows[0] == len(PROMPTS)  # one prefill per distinct prompt for its two samples
    assert forwarded_rows[-1] == int((lengths == 12).sum())  # finished rows left the forward


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_log_probabilities_loss_and_gradients_equal_trls(tmp_path, dtype, tolerance):
    results = []
    for fast in (False, True):
        trainer = _trainer(fast, dtype, str(tmp_path / str(fast)))
        torch.manual_seed(1)
        prompt_ids, prompt_mask, completion_ids, completion_mask, _ = trainer._generate(
            trainer.model, _prompts(trainer)
        )
        logps = trainer._forward(trainer.model, prompt_ids, prompt_mask, completion_ids, completion_mask)
        trainer.model.zero_grad()
        torch.manual_seed(1)
        loss = trainer.training_step(trainer.model, {"prompt": _prompts(trainer)})
        gradient = torch.cat([parameter.grad.flatten() for parameter in trainer.model.parameters()])
        results.append((logps[completion_mask.bool()], loss, gradient, completion_mask))
    (trl_logps, trl_loss, trl_gradient, mask), (logps, loss, gradient, fast_mask) = results
    assert torch.equal(mask, fast_mask) and len(set(mask.sum(1).tolist())) > 2  # varied lengths: padding skipped
    assert _relative(logps, trl_logps) <= tolerance
    assert float((loss - trl_loss).abs()) <= tolerance * float(trl_loss.abs())
    assert _relative(gradient, trl_gradient) <= tolerance and gradient.norm() > 0


def test_a_short_run_follows_trls_training_curve(tmp_path):
    curves = []
    for fast in (False, True):
        with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
            torch.manual_seed(0)
            trainer = _trainer(fast, torch.float32, scratch, steps=4)
            trainer.train()
            history = [entry for entry in trainer.state.log_history if "objective/scores" in entry]
            curves.append([(entry["objective/scores"], entry["loss"], entry["logps/chosen"]) for entry in history])
    assert len(curves[0]) == 4
    for (score, loss, chosen), (fast_score, fast_loss, fast_chosen) in zip(*curves, strict=True):
        assert fast_score == score
        assert fast_loss == pytest.approx(loss, rel=1e-4, abs=1e-6)
        assert fast_chosen == pytest.approx(chosen, rel=1e-4)


def test_overridden_methods_match_the_pinned_trl_signatures(monkeypatch):
    check_pinned(fast_online_dpo.PINNED)
    for (trainer, name), _ in fast_online_dpo.PINNED.items():
        assert str(inspect.signature(getattr(FastOnlineDPOTrainer, name))) == str(
            inspect.signature(getattr(trainer, name))
        )
    monkeypatch.setattr(OnlineDPOTrainer, "_generate", lambda self, model, prompts: None)
    with pytest.raises(SettingsError, match="changed its signature"):
        check_pinned(fast_online_dpo.PINNED)
