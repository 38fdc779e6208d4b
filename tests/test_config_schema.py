"""The config schema documents itself: every key has a description, and config/README.md lists
every key (by its dotted path) and each default the schema sets."""

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).parents[1]
SCHEMA = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
README = (REPO / "config" / "README.md").read_text()


def _resolve(node: dict) -> dict:
    """A node with its local $ref merged in (the node's own keywords win, as the description does)."""
    if "$ref" not in node:
        return node
    target = SCHEMA
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}


def keys(node: dict, prefix: str = "") -> dict[str, dict]:
    """Every key of the schema by dotted path (`<name>` where the config chooses the name) -> its schema."""
    node = _resolve(node)
    found = {}
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        found[path] = _resolve(child)
        found.update(keys(child, f"{path}."))
    if isinstance(node.get("additionalProperties"), dict):
        found.update(keys(node["additionalProperties"], f"{prefix}<name>."))
    return found


KEYS = keys(SCHEMA)


def test_the_walk_finds_nested_and_referenced_keys():
    assert {"run_name", "pairs.<name>.base.revision", "zoo.rl.<name>.beta", "datasets.<name>.limit"} <= set(KEYS)


@pytest.mark.parametrize("path", sorted(KEYS))
def test_every_key_has_a_description_and_a_readme_row(path):
    assert KEYS[path].get("description"), f"schemas/config.schema.yaml: {path} has no description"
    assert f"`{path}`" in README, f"config/README.md does not document {path}"


@pytest.mark.parametrize("path", sorted(path for path, node in KEYS.items() if "default" in node))
def test_the_readme_states_each_schema_default(path):
    row = next(line for line in README.splitlines() if line.startswith(f"| `{path}`"))
    assert f"default `{yaml.safe_dump(KEYS[path]['default']).splitlines()[0]}`" in row, row


def test_the_smoke_run_is_the_demo_scaled_down():
    """config/smoke.yaml shrinks the demo's zoo, grid and bootstrap only; every stage's settings are the demo's."""
    demo, smoke = (yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text()) for name in ("demo", "smoke"))
    for section in ("device", "selection", "generation", "grading", "attribution"):
        assert smoke[section] == demo[section], section
    assert {**smoke["metrics"], "resamples": demo["metrics"]["resamples"]} == demo["metrics"]
    assert smoke["datasets"].keys() <= demo["datasets"].keys() and set(smoke["alphas"]) <= set(demo["alphas"])
    prompting = ("template", "max_new_tokens")
    for pair in smoke["pairs"].values():
        assert [pair[key] for key in prompting] == [demo["pairs"]["llama"][key] for key in prompting]
        assert pair["base"]["model"].startswith(f"results/{smoke['run_name']}/zoo/sft/")
