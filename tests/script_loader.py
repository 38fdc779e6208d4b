"""Import a stage script (scripts/<name>.py) or a benchmark (bench/<name>.py) as a module, to call it in-process."""

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).parents[1] / "scripts"
BENCH_DIR = Path(__file__).parents[1] / "bench"


def load_script(name: str, folder: Path = SCRIPTS) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"script_{name}", folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
