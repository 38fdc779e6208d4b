"""Distinct models of a config and their names: shared models are one model, names are unique."""

import pytest

from rlcircuits.model_names import ConfiguredModel, configured_models, model_of


def _pair(base: str, rl: str, template: str = "zoo", max_new_tokens: int = 64, revisions: dict | None = None) -> dict:
    revisions = revisions or {}
    return {
        "template": template,
        "max_new_tokens": max_new_tokens,
        **{
            role: {"model": model, **({"revision": revisions[role]} if role in revisions else {})}
            for role, model in (("base", base), ("rl", rl))
        },
    }


def test_the_demo_shape_shares_one_sft_base():
    zoo = "results/demo/zoo"
    pairs = {
        "llama": _pair(f"{zoo}/sft/llama", f"{zoo}/rl/llama_grpo"),
        "qwen2_grpo": _pair(f"{zoo}/sft/qwen2", f"{zoo}/rl/qwen2_grpo"),
        "qwen2_dpo": _pair(f"./{zoo}/sft/qwen2", f"{zoo}/rl/qwen2_dpo"),  # another spelling of the same folder
    }
    models = configured_models(pairs)
    assert list(models) == ["sft/llama", "rl/llama_grpo", "sft/qwen2", "rl/qwen2_grpo", "rl/qwen2_dpo"]
    assert models["sft/qwen2"] == ConfiguredModel(
        f"{zoo}/sft/qwen2", None, "zoo", 64, (("qwen2_grpo", "base"), ("qwen2_dpo", "base"))
    )
    assert models["sft/qwen2"].local
    assert model_of(pairs)["qwen2_dpo", "base"] == model_of(pairs)["qwen2_grpo", "base"] == "sft/qwen2"
    assert model_of(pairs)["qwen2_dpo", "rl"] == "rl/qwen2_dpo"


def test_hub_models_are_one_model_per_id_and_revision():
    pairs = {
        "a": _pair("org/sft", "org/rl-a", revisions={"rl": "main"}),  # main is the default revision
        "b": _pair("org/sft", "org/rl-a", revisions={"base": "v2", "rl": "main"}),
    }
    models = configured_models(pairs)
    assert list(models) == ["org/sft", "org/rl-a", "org/sft@v2"]
    assert models["org/rl-a"].uses == (("a", "rl"), ("b", "rl")) and models["org/sft@v2"].revision == "v2"
    assert not models["org/sft"].local


def test_a_single_local_model_is_named_by_its_folder():
    models = configured_models({"p": _pair("/data/models/sft", "org/rl")})
    assert list(models) == ["sft", "org/rl"] and models["sft"].model == "/data/models/sft"


def test_a_shared_model_must_be_generated_alike():
    pairs = {"a": _pair("org/sft", "org/rl-a"), "b": _pair("org/sft", "org/rl-b", max_new_tokens=128)}
    with pytest.raises(ValueError, match=r"pairs\.b\.base and pairs\.a\.base are the same model \(org/sft\)"):
        configured_models(pairs)


def test_names_never_clash():
    # Local folders are named below their common folder (models/x), so one would be named as the Hub id.
    pairs = {"a": _pair("models/x/org/m", "org/m"), "b": _pair("models/x/other/n", "org/n")}
    with pytest.raises(ValueError, match="would both be named 'org/m'"):
        configured_models(pairs)
