import sys
from pathlib import Path

SCRIPTS = Path(__file__).parents[1] / "scripts"


def test_no_script_shadows_a_standard_library_module():
    """`python scripts/x.py` puts scripts/ first on sys.path: a scripts/select.py would replace
    the standard `select` module for every script (subprocess imports it)."""
    clashes = sorted(p.name for p in SCRIPTS.glob("*.py") if p.stem in sys.stdlib_module_names)
    assert clashes == []
