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
from rlcircuits.audit import audit_from_config
from rlcircuits.contracts import TRAINING_CURVE, TrainingCurve, write_training_curve
from rlcircuits.figures import diversity_bars, output_entropy_lines, relative_change_heatmap, save_figure
from rlcircuits.report import ReportInputs, StudySection, render, study_intensity, table1_rows
from rlcircuits.robustness import StudyInputs, robustness_section
from rlcircuits.study import HYPOTHESES, arm_table, contrast_table, seed_values, verdicts
from rlcircuits.study_design import Contrast
from rlcircuits.tables import TABLE1_COLUMNS, table1, write_csv
from script_loader import load_script
from test_figures import _cell

EVIL = "<script>alert('pwned')</script> so the answer is \\boxed{4}"
# One selected sample's token ids per role (the report reads only the first id).
TOKENS = {"prompt_token_ids": [1], "answer_token_ids": [2]}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("run")
    config = {
        "run_name": "unit",
        "pairs": {
            "llama_grpo": {
                "algorithm": "GRPO",
                "online": True,
                "template": "zoo",
                "max_new_tokens": 64,
                "base": {"model": "zoo/llama-sft"},
                "rl": {"model": "zoo/llama-grpo"},
            },
            "qwen_dpo": {
                "algorithm": "DPO",
                "online": False,
                "template": "zoo",
                "max_new_tokens": 64,
                "base": {"model": "zoo/qwen-sft"},
                "rl": {"model": "zoo/qwen-dpo"},
            },
        },
        "datasets": {"arith": {"source": "local"}},
        "alphas": [0.1, 0.5],
        "metrics": {"bins": 50},  # the metrics files say 100: the page must report what they were made with
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    run = root / "results" / "unit"
    cells = [
        _cell("llama_grpo", "arith", 0.1, 0.6, 0),
        _cell("llama_grpo", "arith", 0.5, 0.55, 1),
        _cell("qwen_dpo", "arith", 0.1, 0.45, 2),
    ]  # qwen_dpo/arith/0.5 is missing on purpose
    for cell in cells:
        path = run / "metrics" / cell["pair"] / cell["dataset"] / f"alpha{cell['alpha']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cell))
    stray = _cell("llama_grpo", "arith", 0.9, 0.9, 3)  # not in the configured grid: the headline must not count it
    path = run / "metrics" / "llama_grpo" / "arith" / "alpha0.9.json"
    path.write_text(json.dumps(stray))
    write_csv(table1(cells, {"llama_grpo": "GRPO", "qwen_dpo": "DPO"}), run / "tables" / "table1.csv")
    pd.DataFrame(
        {
            "pair": ["llama_grpo"] * 2,
            "role": ["base", "rl"],
            "dataset": ["arith"] * 2,
            "n": [50, 50],
            "n_correct": [20, 30],
            "accuracy_pct": [40.0, 60.0],
        }
    ).to_csv(run / "tables" / "table4.csv", index=False)
    save_figure(relative_change_heatmap(cells[0]), run / "figures" / "fig2")
    save_figure(diversity_bars(cells), run / "figures" / "fig3a")
    save_figure(output_entropy_lines(cells), run / "figures" / "fig3b")
    selection = {
        "pair": "llama_grpo",
        "dataset": "arith",
        "t_bar": 40.0,
        "thresholds": {"beta": 0.5, "gamma": 1.5, "delta": 0.5, "n": 100, "seed": 42},
        "counts": {
            "questions": 50,
            "base_correct": 20,
            "rl_correct": 30,
            "both_correct": 18,
            "equal_prompt_length": 18,
            "length_window": 15,
            "balanced": 12,
            "selected": 12,
        },
        "fewer_than_n": True,
        "samples": [{"id": "q7", **{role: TOKENS for role in ("base", "rl")}}],
    }
    (run / "selection" / "llama_grpo").mkdir(parents=True)
    (run / "selection" / "llama_grpo" / "arith.json").write_text(json.dumps(selection))
    for model in ("llama-sft", "llama-grpo"):  # graded files are filed by model (docs/DESIGN.md §3)
        graded = run / "graded" / "zoo" / model / "arith.jsonl"
        graded.parent.mkdir(parents=True)
        graded.write_text(json.dumps(records.graded("q7", True, question="2 + 2 = ? <b>bold?</b>", answer=EVIL)) + "\n")
    bench = root / "benchmarks" / "attribute"
    bench.mkdir(parents=True)
    (bench / "job1.tsv").write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t100\n")
    return root


@pytest.fixture(scope="module")
def page(run_dir) -> Path:
    """The page rendered in the run's workflow folder (the plan's paths are relative to it)."""
    out = run_dir / "results" / "unit" / "report" / "index.html"
    argv = ["--run-config", "config.yaml", "--benchmarks", "benchmarks", "--out", str(out)]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(run_dir)
        assert load_script("render_report").main(argv) == 0
    return out


def test_content_escaping_and_missing_cells(page):
    html = page.read_text()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "&lt;b&gt;bold?&lt;/b&gt;" in html
    assert html.count("data:image/png;base64,") == 3
    assert "1 cell(s) of the configured grid have no results" in html
    assert html.count(">missing</td>") == 5  # the missing cell's five metrics
    for text in (
        "Claims checklist",
        "Online RL raises inter-sample diversity",
        "Table 1",
        "Table 4",
        "40.0% (20/50)",
        "fewer than N = 100",
        "α=0.1: 4",
        "GRPO",
        "zoo/llama-grpo",
        "attribute",
        "12.5",
        "100-bin histogram",
        "999 resamples",
        "improved in 2 of 3 experiments",
        "paper convention: 0.25 → 0.3",
        "deepseek_math +1246%",
        "mistral +120%",
        "mistral +656%",
        "Bonferroni",
        "the design cannot tell",
        "llama_grpo (GRPO):",
        "Online RL raises activation intensity relative to each sample&#39;s own scale",
        "The intensity verdict survives: raw and scale-free intensity both read “the design cannot tell”; 1 of 1",
        "p &lt; 0.05 exactly when the CI excludes 0",
    ):
        assert text in html, text
    assert "50-bin" not in html  # the config's value, not the metrics files'
    assert "Counted: the configured grid" in html


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
    bad.write_text(
        "<html><body><p>x</p><script>console.error('deliberate failure'); missingFn();</script></body></html>"
    )
    errors = browser.screenshot(bad, tmp_path / "bad.png", height=300)
    assert any("deliberate failure" in line for line in errors)
    assert any("Uncaught ReferenceError" in line for line in errors)


def test_the_papers_quoted_cells_stand_beside_the_paper_convention():
    reference = yaml.safe_load((Path(__file__).parents[1] / "config" / "paper_reference.yaml").read_text())
    assert "secondary summaries" in reference["table1_source"]
    assert {q["largest_increase_pct"] for q in reference["figure3b"] if q["pair"] == "mistral"} == {120, 656}
    cell = _cell("deepseek_math", "math", 0.1, 0.6, 0)
    cell["metrics"]["intensity"]["paper"] = {"base": 1.2e-3, "rl": 1.4e-3}
    frame = table1([cell], {"deepseek_math": "GRPO"})
    [row] = table1_rows(frame, [("deepseek_math", "math", 0.1)], reference["table1"])
    intensity = row["metrics"]["intensity"]
    assert intensity["paper_convention"] == "1.200e-03 → 1.400e-03 (+16.7%)"
    assert intensity["paper"] == "1.100e-03 → 1.310e-03 (+19.1%)"
    assert row["metrics"]["kurtosis"]["paper"] == "357 → 223 (-37.5%)" and row["metrics"]["diversity"]["paper"] is None


def test_the_zoo_models_training_curves_are_drawn(run_dir, tmp_path, monkeypatch):
    folders = []
    for name, metric in (("sft/llama", "loss"), ("rl/llama_grpo", "reward")):
        folder = tmp_path / "zoo" / name
        folder.mkdir(parents=True)
        write_training_curve(folder / TRAINING_CURVE, TrainingCurve(metric, f"{metric} per step", (1, 2), (1.0, 0.5)))
        folders.append(str(folder))
    folders.append(str(tmp_path / "models" / "org" / "hub-model"))  # a model without a curve is left out
    out = tmp_path / "index.html"
    monkeypatch.chdir(run_dir)
    argv = ["--run-config", "config.yaml", "--out", str(out)]
    assert load_script("render_report").main([*argv, "--models", *folders]) == 0
    html = out.read_text()
    assert "Training curves of the mini zoo's models (rl/llama_grpo, sft/llama)" in html
    assert html.count('alt="Training curves') == 1


def test_the_study_section_says_what_each_interval_is_about_and_whether_intensity_survives():
    """The study's part of the page, rendered from rlcircuits.study's own tables, and its hypotheses across
    attribution variants in the Robustness section (one variant whose Table 1 reverses every change)."""
    import test_study  # the study tests' synthetic seeds

    rng = np.random.default_rng(3)
    expected = HYPOTHESES
    table1_rows, table4_rows, arms = test_study._tables({"grpo": 0.3, "control": 0.0}, 3, rng, expected=expected)
    seeds = seed_values(table1_rows, table4_rows, arms)
    contrasts = [Contrast("RL vs more training", "grpo", "control")]
    answers = {arm.name: {d: rng.choice([-100.0, 0.0, 100.0], (3, 80)) for d in test_study.DATASETS} for arm in arms}
    as_claimed = table1_rows.assign(  # the columns the claims checklist reads, beside the study's
        algorithm=np.where(table1_rows["pair"].str.startswith("grpo"), "GRPO", "continued SFT"),
        difference=table1_rows["relative_change"],
        significant=False,
    )
    study = StudySection(
        forest_plots={},
        arms=arm_table(seeds, arms, answers=answers),
        contrasts=contrast_table(seeds, contrasts, answers=answers),
        verdicts=verdicts(seeds, arms, contrasts, expected, answers=answers),
    )
    inputs = ReportInputs(
        run_name="unit",
        table1=pd.DataFrame(columns=list(TABLE1_COLUMNS)),
        table4=None,
        grid=[],
        online={},
        ablations={},
        alphas=[0.1],
        selections=[],
        figures=dict.fromkeys(("fig2", "fig3a", "fig3b")),
        headline=None,
        entropy_increases={},
        reference={},
        settings={},
        provenance={
            "commit": "x",
            "hardware": dict.fromkeys(("python", "cpus", "machine", "gpu"), "-"),
            "versions": {},
            "models": [],
            "stage_times": [],
            "config": "",
        },
        study=study,
        robustness=robustness_section(
            audit_from_config(
                {
                    "attribution": {"method": "eap", "granularity": "module", "loss": "own_answer"},
                    "audit": {"variants": [{"method": "eap_ig", "granularity": "module", "loss": "own_answer"}]},
                }
            ),
            [as_claimed, as_claimed.assign(relative_change=-as_claimed["relative_change"])],
            [],
            None,
            {pair: True for arm in arms for pair in arm.pairs},
            {},
            {"ig_steps": 32, "ig_baseline": "mean"},
            StudyInputs(table4_rows, arms, contrasts, ("table1.csv", "eap_ig/table1.csv"), "table4.csv"),
        ),
    )
    html = render(inputs, Path(__file__).parents[1] / "report")
    assert "<td>the task</td>" in html and "<td>these selected questions</td>" in html
    robustness = html.split('<section id="robustness">')[1].split("</section>")[0]
    assert "The study's hypotheses under each attribution choice" in robustness
    assert robustness.count('<td class="verdict supported">supported<br>') == 5  # the circuit metrics only
    assert robustness.count('<td class="verdict contradicted">contradicted<br>') == 5
    assert "GRPO raises intensity more than CONTROL (RL vs more training)”: supported under the paper" in robustness
    assert "RL vs more training: the intensity verdict survives: raw and scale-free intensity both read" in html
    lines = study_intensity(
        pd.DataFrame(
            {
                "contrast": ["c", "c"],
                "metric": ["intensity", "scale_free_intensity"],
                "verdict": ["supported", "inconclusive"],
            }
        )
    )
    assert lines == [
        "c: the intensity verdict does not survive: raw intensity reads “supported”, scale-free intensity "
        "“inconclusive” (what moved raw intensity may be the scale of gradients or activations, not the shape of "
        "the circuit)."
    ]
