"""The Dockerfile and the GPU requirement set, checked statically (no container engine in CI)."""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line} is not pinned exactly"
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    return pins


def test_base_image_python_and_user():
    instructions = _instructions()
    assert instructions[0][0] == "FROM"
    assert re.fullmatch(r"nvidia/cuda:12\.2\.\d+-[\w-]*ubuntu22\.04", instructions[0][1])
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert "python3.11" in runs and "python3.11 -m venv" in runs
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].isdigit() and int(users[-1]) != 0


def test_project_installed_from_the_repo_with_the_gpu_pins():
    instructions = _instructions()
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    copies = [args for keyword, args in instructions if keyword == "COPY"]
    assert any("envs/requirements-gpu.txt" in c for c in copies) and any(c.startswith("src") for c in copies)
    assert any("pip install -r envs/requirements-gpu.txt" in r for r in runs)
    assert any(re.search(r"pip install --no-deps \.(\s|$)", r) for r in runs)


def test_no_hugging_face_cache_or_offline_settings_baked_in():
    env = " ".join(args for keyword, args in _instructions() if keyword in ("ENV", "ARG"))
    for variable in (
        "HF_HOME",
        "HF_HUB_CACHE",
        "TRANSFORMERS_CACHE",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
    ):
        assert variable not in env


def test_gpu_set_pins_the_papers_torch_and_every_dependency():
    pins = _pins(REPO / "envs" / "requirements-gpu.txt")
    assert pins["torch"] == "2.7.0" and "vllm" in pins
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ ]", d)[0].lower()) for d in declared}
    assert names <= set(pins), names - set(pins)


def test_cpu_set_pins_the_cpu_torch_build():
    pins = _pins(REPO / "envs" / "requirements-cpu.txt")
    assert pins["torch"] == "2.13.0"
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {
        re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ \[]", d)[0].lower())
        for group in ("workflow", "zoo", "test")
        for d in declared["dependencies"] + declared["optional-dependencies"][group]
    }
    assert names <= set(pins), names - set(pins)
