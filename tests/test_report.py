"""The HTML report: content, escaping, a partial grid, and a real headless-browser render."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

import browser
import records
from rlcircuits.report import claims
from rlcircuits.figures import diversity_bars, output_entropy_lines, relative_change_heatmap, save_figure
from rlcircuits.tables import table1, write_csv
from test_figures import _cell
from script_loader import load_script

EVIL = "<script>alert('pwned')</script> so the answer is \\boxed{4}"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("run")
    config = {
        "run_name": "unit",
        "pairs": {
            "llama_grpo": {"algorithm": "GRPO", "online": True, "template": "zoo", "max_new_tokens": 64,
                           "base": {"model": "zoo/llama-sft"}, "rl": {"model": "zoo/llama-grpo"}},
            "qwen_dpo": {"algorithm": "DPO", "online": False, "template": "zoo", "max_new_tokens": 64,
                         "base": {"model": "zoo/qwen-sft"}, "rl": {"model": "zoo/qwen-dpo"}},
        },
        "datasets": {"arith": {"source": "local"}},
        "alphas": [0.1, 0.5],
        "metrics": {"bins": 50},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    run = root / "results" / "unit"
    cells = [_cell("llama_grpo", "arith", 0.1, 0.6, 0), _cell("llama_grpo", "arith", 0.5, 0.55, 1),
             _cell("qwen_dpo", "arith", 0.1, 0.45, 2)]  # qwen_dpo/arith/0.5 is missing on purpose
    for cell in cells:
        path = run / "metrics" / cell["pair"] / cell["dataset"] / f"alpha{cell['alpha']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cell))
    write_csv(table1(cells, {"llama_grpo": "GRPO", "qwen_dpo": "DPO"}), run / "tables" / "table1.csv")
    pd.DataFrame({"pair": ["llama_grpo"] * 2, "role": ["base", "rl"], "dataset": ["arith"] * 2, "n": [50, 50],
                  "n_correct": [20, 30], "accuracy_pct": [40.0, 60.0]}).to_csv(run / "tables" / "table4.csv", index=False)
    save_figure(relative_change_heatmap(cells[0]), run / "figures" / "fig2")
    save_figure(diversity_bars(cells), run / "figures" / "fig3a")
    save_figure(output_entropy_lines(cells), run / "figures" / "fig3b")
    selection = {"pair": "llama_grpo", "dataset": "arith", "t_bar": 40.0,
                 "thresholds": {"beta": 0.5, "gamma": 1.5, "delta": 0.5, "n": 100, "seed": 42},
                 "counts": {"questions": 50, "base_correct": 20, "rl_correct": 30, "both_correct": 18,
                            "equal_prompt_length": 18, "length_window": 15, "balanced": 12, "selected": 12},
                 "fewer_than_n": True,
                 "samples": [{"id": "q7", **dict.fromkeys(("base", "rl"), {"prompt_token_ids": [1], "answer_token_ids": [2]})}]}
    (run / "selection" / "llama_grpo").mkdir(parents=True)
    (run / "selection" / "llama_grpo" / "arith.json").write_text(json.dumps(selection))
    for model in ("llama-sft", "llama-grpo"):  # graded files are filed by model (DESIGN §3)
        graded = run / "graded" / "zoo" / model / "arith.jsonl"
        graded.parent.mkdir(parents=True)
        graded.write_text(json.dumps(records.graded("q7", True, question="2 + 2 = ? <b>bold?</b>", answer=EVIL)) + "\n")
    bench = root / "benchmarks" / "attribute"
    bench.mkdir(parents=True)
    (bench / "job1.tsv").write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t100\n")
    return root


@pytest.fixture(scope="module")
def page(run_dir) -> Path:
    out = run_dir / "results" / "unit" / "report" / "index.html"
    assert load_script("render_report").main(["--config", str(run_dir / "config.yaml"), "--run-dir", str(run_dir / "results" / "unit"),
                        "--benchmarks", str(run_dir / "benchmarks"), "--out", str(out)]) == 0
    return out


def test_content_escaping_and_missing_cells(page):
    html = page.read_text()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "&lt;b&gt;bold?&lt;/b&gt;" in html
    assert html.count("data:image/png;base64,") == 3
    assert "1 cell(s) of the configured grid have no results" in html
    assert html.count(">missing</td>") == 4  # the missing cell's four metrics
    for text in ("Claims checklist", "Online RL raises inter-sample diversity", "Table 1", "Table 4", "40.0% (20/50)",
                 "fewer than N = 100", "α=0.1: 4", "GRPO", "zoo/llama-grpo", "attribute", "12.5", "50-bin histogram"):
        assert text in html, text


def test_renders_in_headless_chromium(page, tmp_path):
    shot = tmp_path / "report.png"
    errors = browser.screenshot(page, shot)
    assert errors == []
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[1] == 1280
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200  # text, tables and colour figures, not a blank page


def test_console_error_detector_works(tmp_path):
    """Negative control: the check above would see a console error if the page had one."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><p>x</p><script>console.error('deliberate failure'); missingFn();</script></body></html>")
    errors = browser.screenshot(bad, tmp_path / "bad.png", height=300)
    assert any("deliberate failure" in line for line in errors)
    assert any("Uncaught ReferenceError" in line for line in errors)


def _rows(pair: str, algorithm: str, as_expected: list[bool]) -> list[dict]:
    metrics = ["intensity", "complexity", "kurtosis", "diversity"]
    return [{"pair": pair, "algorithm": algorithm, "dataset": "arith", "alpha": 0.5, "metric": metrics[i % 4],
             "as_expected": flag, "significant": flag} for i, flag in enumerate(as_expected)]


def test_an_ablation_pair_gets_its_own_claim_row_and_stays_out_of_the_papers():
    frame = pd.DataFrame(_rows("grpo", "GRPO", [True] * 4) + _rows("dpo", "DPO", [False] * 4)
                         + _rows("online_dpo", "online DPO", [True, True, True, False]))
    online = {"grpo": True, "dpo": False, "online_dpo": True}
    plain = {c.text: c for c in claims(frame, online)}
    assert plain["Online RL raises activation intensity"].cells == 2  # the ablation counted as online RL
    rows = claims(frame, online, {"online_dpo": "dpo"})
    by_text = {c.text: c for c in rows}
    assert by_text["Online RL raises activation intensity"].cells == 1
    assert by_text["Offline DPO does not consistently move the metrics as online RL does"].verdict == "supported"
    [ablation] = [c for c in rows if c.text.startswith("Ablation online_dpo")]
    assert "online DPO from dpo's SFT model (online sampling the only difference)" in ablation.text
    assert (ablation.as_expected, ablation.cells, ablation.verdict) == (3, 4, "supported")
