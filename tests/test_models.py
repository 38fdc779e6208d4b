"""Loading (local folder = Hub code path) and the pre-norm architecture adapter."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, Gemma2Config, GPT2Config

import tiny_models
from rlcircuits.eap import attribute, truncated_loss_input
from rlcircuits.eap_adapter import find_decoder, verify_prenorm
from rlcircuits.errors import ModelLoadError, UnsupportedArchitecture
from rlcircuits.models import load_model, resolve_dtype


@pytest.mark.parametrize("arch", sorted(tiny_models.CONFIGS))
def test_local_folder_loads_frozen_in_eval_with_dtype(tmp_path, arch):
    folder = tiny_models.save(tiny_models.build(arch), tmp_path / arch)
    model = load_model(str(folder), dtype="float64")
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    parts = find_decoder(model)
    assert len(parts.layers) == 2 and parts.hidden_size == 32 and parts.vocab_size == tiny_models.VOCAB
    verify_prenorm(model, parts)


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(ModelLoadError, match=r"model folder not found: .*nowhere"):
        load_model(str(tmp_path / "nowhere"))


def test_unavailable_hub_id_is_named():
    with pytest.raises(ModelLoadError, match="no-such-org/no-such-model"):
        load_model("no-such-org/no-such-model", local_files_only=True)


def test_remote_code_is_refused_by_default(tmp_path):
    folder = tmp_path / "custom"
    tiny_models.save(tiny_models.build("llama"), folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="custom-arch", auto_map={"AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_custom.py").write_text("raise RuntimeError('remote code must not run')\n")
    with pytest.raises(ModelLoadError, match="custom"):
        load_model(str(folder))


def test_unknown_dtype():
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        resolve_dtype("float8")


def _tiny(config):
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config).eval().requires_grad_(False)


def test_post_norm_gemma2_is_refused_by_name():
    model = _tiny(
        Gemma2Config(
            vocab_size=64,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
        )
    )
    item = truncated_loss_input("g", [1, 2, 3], [4, 5], 2)
    with pytest.raises(UnsupportedArchitecture, match=r"gemma2 \(Gemma2ForCausalLM\).*post-norm"):
        attribute(model, [item])


def test_fused_qkv_gpt2_is_refused_by_name():
    model = _tiny(GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2))
    with pytest.raises(UnsupportedArchitecture, match=r"gpt2 \(GPT2LMHeadModel\)"):
        find_decoder(model)


def test_numerical_probe_catches_a_non_prenorm_layer():
    """Same module names, different computation (a parallel block): refused, not mis-attributed."""
    model = tiny_models.build("llama")
    layer = model.model.layers[1]

    def parallel_forward(hidden_states, **kwargs):
        attn, _ = layer.self_attn(layer.input_layernorm(hidden_states), **kwargs)
        mlp = layer.mlp(layer.post_attention_layernorm(hidden_states))
        return tiny_models.layer_output(hidden_states + attn + mlp)

    layer.forward = parallel_forward
    with pytest.raises(UnsupportedArchitecture, match="layer 1: MLP norm does not read x \\+ attention"):
        verify_prenorm(model, find_decoder(model))
