"""The Hub-model GRPO trainer (rlcircuits.hub_rl): its reward scale case by case, its settings and
errors, GSM8K's train split, and an end-to-end run on a tiny model that writes the checkpoint layout."""

from __future__ import annotations

import json

import pytest
import yaml

import tiny_models
import tiny_tokenizer
from rlcircuits import datasets
from rlcircuits.contracts import read_training_curve
from rlcircuits.datasets import Question, load_questions
from rlcircuits.errors import ModelLoadError, SettingsError
from rlcircuits.hub_rl import HubRLSettings, check_optimizer, config_runs, graded_score, prompt_rows, user_turn
from rlcircuits.prompts import get_template
from rlcircuits.run_plan import checkpoint_path
from script_loader import load_script

# A chat template of Qwen2.5-Instruct's shape (default system turn, im_start/im_end turns), written for
# the tiny tokenizer, whose characters spell every one of its strings.
CHAT_TEMPLATE = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.mark.parametrize(
    ("pred", "gold", "equivalent", "score"),
    [
        ("18", "18", True, 3.0),  # math-equal
        ("\\frac{1}{2}", "0.5", True, 3.0),  # math-equal, not the same string
        ("$1,000", "1000", False, 1.0),  # the same once $ and commas are dropped
        ("18.0000000001", "18", False, 1.0),  # numerically equal within 1e-8
        ("100.5", "100", False, 0.5),  # 0.5% off
        ("-100.9", "-100", False, 0.5),  # 0.9% off, relative to |gold|
        ("103", "100", False, 0.1),  # 3% off
        ("105", "100", False, 0.1),  # 5% off: the boundary is included
        ("106", "100", False, -0.5),  # another number
        ("0.001", "0", False, -0.5),  # gold 0: any other number is far off
        ("x + 1", "18", False, 0.0),  # not a number
        ("18", "\\frac{1}{2}", False, 0.0),  # gold not a plain number
        (None, "18", False, 0.0),  # no answer
        ("  ", "18", False, 0.0),
    ],
)
def test_graded_reward_case_by_case(pred, gold, equivalent, score):
    assert graded_score(pred, gold, equivalent) == score


def test_the_reward_functions_grade_completions_with_the_project_grader():
    """Plain and conversational completions through the real grader (extraction, math-verify in workers)."""
    from rlcircuits.grading.pool import JudgePool
    from rlcircuits.hub_rl import reward_function

    completions = [
        "3 + 15 = 18, so \\boxed{18}",
        [{"role": "assistant", "content": "About 18.1. The answer is 18.1"}],
        "I cannot tell.",
        "\\boxed{\\frac{40}{2}}",
    ]
    gold = ["18"] * 4
    with JudgePool(workers=1, timeout=10) as pool:
        assert reward_function("binary", pool)(completions, gold) == [1.0, 0.0, 0.0, 0.0]
        # 18.1 is 0.56% off; "\\frac{40}{2}" is 20 to the grader but no plain number to the scale
        assert reward_function("graded", pool)(completions, gold) == [3.0, 0.5, 0.0, 0.0]
        assert reward_function("graded", pool)(["\\boxed{20}"], ["18"]) == [-0.5]


def test_defaults_are_the_authors_settings():
    s = HubRLSettings()
    assert (s.learning_rate, s.adam_beta1, s.adam_beta2, s.weight_decay) == (5e-6, 0.9, 0.99, 0.1)
    assert (s.warmup_ratio, s.max_grad_norm, s.beta, s.temperature, s.top_p) == (0.1, 0.1, 0.0, 1.0, 1.0)
    assert s.prompts_per_step * s.generations == 32 and s.generations == 8
    assert (s.max_prompt_length, s.max_completion_length, s.steps) == (256, 200, 400)
    assert (s.reward, s.optimizer) == ("binary", "adamw")
    assert s.checkpoints == tuple(range(10, 401, 10))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"generations": 1}, "generations must be at least 2"),
        ({"reward": "dense"}, "reward: 'dense'"),
        ({"optimizer": "sgd"}, "optimizer: 'sgd'"),
        ({"top_p": 0.0}, "top_p"),
        ({"checkpoint_every": -1}, "checkpoint_every"),
    ],
)
def test_invalid_settings_name_the_key(values, message):
    with pytest.raises(SettingsError, match=message):
        HubRLSettings(**values)


def test_8bit_adamw_without_cuda_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SettingsError, match="optimizer: adamw_8bit needs bitsandbytes and a CUDA device"):
        check_optimizer("adamw_8bit")
    check_optimizer("adamw")


def test_the_script_stops_on_8bit_adamw_without_cuda_in_one_line(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"question": "Q?", "answer": "#### 1"}) + "\n")
    argv = ["--base", str(tmp_path / "no-model"), "--data-source", "local", "--data-path", str(train)]
    assert load_script("train_hub_rl").main([*argv, "--optimizer", "adamw_8bit", "--out", str(tmp_path / "o")]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("train_hub_rl: error: hub_rl setting optimizer: adamw_8bit needs bitsandbytes and a CUDA")
    assert not (tmp_path / "o").exists()


def test_config_runs_merge_shared_settings_and_refuse_unknown_keys():
    config = {"hub_rl": {"settings": {"steps": 20}, "runs": {"t1": {"temperature": 1.4}, "t2": None}}}
    runs = config_runs(config)
    assert runs["t1"] == HubRLSettings(steps=20, temperature=1.4) and runs["t2"] == HubRLSettings(steps=20)
    with pytest.raises(SettingsError, match=r"hub_rl\.runs\.t1: unknown setting"):
        config_runs({"hub_rl": {"runs": {"t1": {"temprature": 1.4}}}})


def test_gsm8k_train_split_ids_name_the_split(tmp_path, monkeypatch):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"question": "Q?", "answer": "so\n#### 1,200"}) + "\n")
    assert load_questions("gsm8k", path=path, split="train") == [Question("gsm8k-train-0000", "Q?", "1200")]
    assert load_questions("gsm8k", path=path)[0].id == "gsm8k-0000"  # the test split's ids are unchanged

    import datasets as hf_datasets

    monkeypatch.setattr(
        hf_datasets, "load_dataset", lambda repo, config, split: [{"question": f"{repo}/{split}", "answer": "#### 7"}]
    )
    assert load_questions("gsm8k", source="hub", split="train") == [
        datasets.Question("gsm8k-train-0000", "openai/gsm8k/train", "7")
    ]
    with pytest.raises(SettingsError, match="no train split of math500"):
        load_questions("math500", source="hub", split="train")


def _tokenizer(chat_template: str | None = CHAT_TEMPLATE):
    tokenizer = tiny_tokenizer.build()
    tokenizer.chat_template = chat_template
    return tokenizer


QUESTIONS = [Question(f"q{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(1, 5)]


def test_prompts_render_the_chat_template_and_leave_out_long_ones():
    tokenizer = _tokenizer()
    long = Question("long", "What is " + "1 + " * 60 + "1?", "61")
    rows, dropped = prompt_rows([*QUESTIONS, long], tokenizer, 240, template="qwen25-instruct-boxed")
    assert dropped == 1 and [row["gold"] for row in rows] == ["2", "4", "6", "8"]
    assert rows[0]["prompt"] == [{"role": "user", "content": user_turn("What is 1 + 1?")}]
    rendered = tokenizer.apply_chat_template(rows[0]["prompt"], add_generation_prompt=True, tokenize=False)
    assert rendered == get_template("qwen25-instruct-boxed").render("What is 1 + 1?")
    assert rendered.endswith("\\boxed{}.\n\nAssistant:<|im_end|>\n<|im_start|>assistant\n")


def test_a_chat_template_that_differs_from_the_analysis_template_is_refused():
    other = CHAT_TEMPLATE.replace("You are Qwen", "You are Q")
    with pytest.raises(SettingsError, match="not as template 'qwen25-instruct-boxed'"):
        prompt_rows(QUESTIONS, _tokenizer(other), 256, template="qwen25-instruct-boxed")
    with pytest.raises(ModelLoadError, match="no chat template"):
        prompt_rows(QUESTIONS, _tokenizer(None), 256)


def test_end_to_end_on_a_tiny_model_writes_the_checkpoint_layout(tmp_path, monkeypatch):
    """Four GRPO steps from a local GSM8K-format file, a checkpoint every two: step-000002 and step-000004.

    With gradient checkpointing on (the default), sampling still decodes one new token per forward
    (the KV cache), and the loss's forwards see whole sequences. Not marked ``trl``: the container
    lane runs it too, under the image's TRL and transformers.
    """
    import torch

    from rlcircuits import models

    widths = {"no_grad": set(), "grad": set()}
    load = models.load_model

    def recording_load(*args, **kwargs):
        model = load(*args, **kwargs)

        def record(_, inputs):
            widths["grad" if torch.is_grad_enabled() else "no_grad"].add(inputs[0].shape[1])

        model.get_input_embeddings().register_forward_pre_hook(record)
        return model

    monkeypatch.setattr(models, "load_model", recording_load)
    base = tmp_path / "base"
    tokenizer = _tokenizer()
    model = tiny_models.build("llama")
    tokenizer.save_pretrained(base)
    model.config.bos_token_id = model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.config.eos_token_id = model.generation_config.eos_token_id = tokenizer.eos_token_id
    tiny_models.save(model, base)
    train = tmp_path / "train.jsonl"
    lines = (json.dumps({"question": q.question, "answer": f"#### {q.gold}"}) for q in QUESTIONS)
    train.write_text("".join(f"{line}\n" for line in lines))
    out = tmp_path / "hub_rl" / "t1"
    flags = {
        "steps": 4,
        "prompts_per_step": 2,
        "generations": 2,
        "max_prompt_length": 240,
        "max_completion_length": 8,
        "checkpoint_every": 2,
        "reward": "graded",
        "save_dtype": "float32",
        "temperature": 1.4,
    }
    argv = ["--base", str(base), "--data-source", "local", "--data-path", str(train), "--threads", "1"]
    argv += [arg for key, value in flags.items() for arg in (f"--{key.replace('_', '-')}", str(value))]
    assert load_script("train_hub_rl").main([*argv, "--out", str(out)]) == 0
    assert 1 in widths["no_grad"], "sampling decodes token by token from the KV cache"
    assert min(widths["grad"]) > 200, "the loss's forwards read prompt and completion"
    monkeypatch.undo()

    record = json.loads((out / "zoo_training.json").read_text())
    assert record["step"] == 4 and record["train_questions"] == 4 and record["dropped_long_prompts"] == 0
    assert record["settings"]["temperature"] == 1.4 and record["settings"]["reward"] == "graded"
    assert read_training_curve(out / "training_curve.json").steps == (1, 2, 3, 4)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000002", "step-000004"]
    for step in (2, 4):
        folder = tmp_path / checkpoint_path("hub_rl/t1", step)
        assert json.loads((folder / "zoo_training.json").read_text())["step"] == step
        assert read_training_curve(folder / "training_curve.json").steps == tuple(range(1, step + 1))
        assert json.loads((folder / "config.json").read_text())["use_cache"] is True
        assert (folder / "tokenizer_config.json").is_file()
    assert not list(tmp_path.glob("hub_rl/.*")), "no progress or scratch folder is left behind"

    from rlcircuits.models import load_model

    final, last = (load_model(str(path), dtype="float32") for path in (out, out / "checkpoints" / "step-000004"))
    first = load_model(str(out / "checkpoints" / "step-000002"), dtype="float32")
    weights = dict(final.named_parameters())
    assert all((p == weights[n]).all() for n, p in last.named_parameters()), "step 4 is the final model"
    assert any((p != weights[n]).any() for n, p in first.named_parameters()), "steps 3 and 4 changed the weights"


def test_the_paper_config_plans_40_checkpoints_per_temperature():
    from pathlib import Path

    config = yaml.safe_load((Path(__file__).parents[1] / "config" / "dynamics_paper.yaml").read_text())
    runs = config_runs(config)
    temperatures = sorted(settings.temperature for settings in runs.values())
    assert len(temperatures) >= 3 and 1.0 in temperatures
    for settings in runs.values():
        assert settings.checkpoints == tuple(range(10, 401, 10))
        assert settings == HubRLSettings(temperature=settings.temperature)  # the authors' settings otherwise


@pytest.mark.slow
@pytest.mark.snakemake
def test_the_paper_dry_run_trains_each_temperature_with_40_checkpoints(tmp_path):
    """The rule graph of config/dynamics_paper.yaml: one fetch of the base, one training job per
    temperature, each command line asking for 400 steps with a checkpoint every 10."""
    import shlex

    from rlcircuits.cli import settings_from
    from workflow import REPO, job_counts, snakemake, workdir

    done = snakemake(workdir(tmp_path), "-n", "-p", "--configfile", "config/dynamics_paper.yaml")
    assert done.returncode == 0, done.stderr
    counts = job_counts(done.stdout)
    assert counts["train_hub_rl"] == 3 and counts["fetch_model"] == 1
    commands = [line for line in done.stdout.splitlines() if "scripts/train_hub_rl.py" in line]
    script = load_script("train_hub_rl")
    planned = {}
    for command in commands:
        words = shlex.split(command.split("python scripts/train_hub_rl.py", 1)[1].split(" > ")[0])
        args = script.parse_args(words)
        assert args.base == "models/Qwen/Qwen2.5-3B-Instruct" and args.template == "qwen25-instruct-boxed"
        planned[args.out] = settings_from(args, HubRLSettings)
    assert sorted(planned) == [f"results/dynamics_paper/hub_rl/t{t}" for t in ("0_6", "1_0", "1_4")]
    assert sorted(s.temperature for s in planned.values()) == [0.6, 1.0, 1.4]
    config = yaml.safe_load((REPO / "config" / "dynamics_paper.yaml").read_text())
    assert planned == {f"results/dynamics_paper/hub_rl/{name}": s for name, s in config_runs(config).items()}
    for settings in planned.values():
        assert settings.checkpoints == tuple(range(10, 401, 10)) and len(settings.checkpoints) == 40


def test_the_tuned_model_must_be_a_pairs_base_at_its_revision():
    from pathlib import Path

    from rlcircuits.hub_rl import base_model
    from rlcircuits.model_names import configured_models

    config = yaml.safe_load((Path(__file__).parents[1] / "config" / "dynamics_paper.yaml").read_text())
    models = configured_models(config["pairs"])
    assert base_model(config, models) == "Qwen/Qwen2.5-3B-Instruct"
    config["hub_rl"]["base"]["revision"] = "abc123"
    with pytest.raises(SettingsError, match=r"hub_rl\.base: Qwen/Qwen2\.5-3B-Instruct@abc123 is no model of any pair"):
        base_model(config, models)


def test_the_schema_wants_a_path_for_local_train_data():
    from pathlib import Path

    import jsonschema

    repo = Path(__file__).parents[1]
    schema = yaml.safe_load((repo / "schemas" / "config.schema.yaml").read_text())
    config = yaml.safe_load((repo / "config" / "dynamics_paper.yaml").read_text())
    jsonschema.validate(config, schema)
    config["hub_rl"]["train"] = {"source": "local"}
    with pytest.raises(jsonschema.ValidationError, match="'path' is a required property"):
        jsonschema.validate(config, schema)
    config["hub_rl"]["train"] = {"source": "local", "path": "data/gsm8k_train.jsonl"}
    config["hub_rl"]["runs"]["t1_0"]["temprature"] = 1.0
    with pytest.raises(jsonschema.ValidationError, match="temprature"):
        jsonschema.validate(config, schema)
