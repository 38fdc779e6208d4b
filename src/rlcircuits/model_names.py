"""The distinct models of a config and the name each is filed under (docs/DESIGN.md §3's ``{model}``).

Generation and grading are keyed by model, not by pair: a model that several pairs share (the
same local folder, or the same Hub id and revision) is generated and graded once, and each
pair reads its two models' files. Names are readable paths: a Hub model is named by its id (plus
``@revision`` unless the revision is ``main``), a local folder by its path below the folder that
holds every local model of the config (the demo's ``results/demo/zoo/sft/qwen2`` is
``sft/qwen2``). Pure Python, no heavy imports: the Snakefile and the report both use it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rlcircuits.contracts import ROLES
from rlcircuits.files import is_local_path

DEFAULT_REVISION = "main"


@dataclass(frozen=True)
class ConfiguredModel:
    """One distinct model, what decides its answers, and the (pair, role) cells that use it."""

    model: str  # Hub id, or the normalised local folder
    revision: str | None  # None for a local folder
    template: str
    max_new_tokens: int
    uses: tuple[tuple[str, str], ...]

    @property
    def local(self) -> bool:
        return self.revision is None


def _identity(spec: Mapping[str, Any]) -> tuple[str, str | None]:
    model = spec["model"]
    if is_local_path(model):
        return os.path.normpath(os.path.expanduser(model)), None
    return model, spec.get("revision", DEFAULT_REVISION)


def _names(identities: list[tuple[str, str | None]]) -> list[str]:
    """Readable names, in the order of ``identities``; unique, or a ValueError naming the clash."""
    local = [model for model, revision in identities if revision is None]
    root = os.path.commonpath([os.path.dirname(os.path.abspath(m)) for m in local]) if local else ""
    names = [
        os.path.relpath(os.path.abspath(model), root)
        if revision is None
        else model
        if revision == DEFAULT_REVISION
        else f"{model}@{revision}"
        for model, revision in identities
    ]
    for index, name in enumerate(names):
        if names.index(name) != index:
            first = identities[names.index(name)]
            raise ValueError(f"config pairs: models {first} and {identities[index]} would both be named {name!r}")
    return names


def configured_models(pairs: Mapping[str, Mapping[str, Any]]) -> dict[str, ConfiguredModel]:
    """Every distinct model of ``config['pairs']`` by name, in order of first use.

    A model shared by pairs must be generated alike in all of them (same template and
    max_new_tokens), since its answers are generated once; a ValueError names the pairs otherwise.
    """
    found: dict[tuple[str, str | None], dict[str, Any]] = {}
    for pair, spec in pairs.items():
        for role in ROLES:
            identity = _identity(spec[role])
            settings = {"template": spec["template"], "max_new_tokens": spec["max_new_tokens"]}
            entry = found.setdefault(identity, {**settings, "uses": []})
            if {key: entry[key] for key in settings} != settings:
                first_pair, first_role = entry["uses"][0]
                raise ValueError(
                    f"config pairs.{pair}.{role} and pairs.{first_pair}.{first_role} are the same model"
                    f" ({identity[0]}) with another template or max_new_tokens; a model is generated once,"
                    " so its pairs must agree"
                )
            entry["uses"].append((pair, role))
    names = _names(list(found))
    return {
        name: ConfiguredModel(model, revision, entry["template"], entry["max_new_tokens"], tuple(entry["uses"]))
        for name, ((model, revision), entry) in zip(names, found.items(), strict=True)
    }


def model_of(pairs: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """The model name of each (pair, role)."""
    return {use: name for name, model in configured_models(pairs).items() for use in model.uses}
