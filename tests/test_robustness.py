"""The robustness audit: its config and paths in the run plan, the verdicts across variants, the page."""

import copy
import json
import os
import re
import shutil
import time

import numpy as np
import pytest
import yaml

import records
import tiny_models
from rlcircuits.audit import (
    FaithfulnessRecord,
    MethodFaithfulness,
    Variant,
    audit_from_config,
    read_faithfulness,
    write_faithfulness,
)
from rlcircuits.contracts import ROLES
from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.figures import save_figure
from rlcircuits.robustness import StudyInputs, faithfulness_figure, study_rows, verdict_rows
from rlcircuits.run_plan import RunPlan
from rlcircuits.study import ACCURACY, HYPOTHESES, seed_values, verdicts
from rlcircuits.study_design import Contrast
from rlcircuits.vocabulary import CLAIM_TEXTS, CONTRADICTED, INCONCLUSIVE, SUPPORTED
from script_loader import load_script
from test_claims import _table
from test_report import run_dir  # noqa: F401 (the report's fixture run, reused)
from workflow import job_counts, outputs, paper_config, snakemake, workdir, write_config

ONLINE = {f"g{i}": ("GRPO", True) for i in range(8)}
AUDIT = {
    "variants": [
        {"method": "eap_ig", "granularity": "module", "loss": "own_answer"},
        {"method": "eap", "granularity": "head", "loss": "shared_answer"},
    ],
    "faithfulness": {"alpha": 0.5, "fractions": [0.1], "single_edge": True},
}


def _config() -> dict:
    pair = {"algorithm": "GRPO", "online": True, "template": "zoo", "max_new_tokens": 8}
    return {
        "run_name": "r",
        "pairs": {"p": {**pair, "base": {"model": "m/base"}, "rl": {"model": "m/rl"}}},
        "datasets": {"d": {"source": "local"}},
        "alphas": [0.1, 0.5],
        "attribution": {"method": "eap", "granularity": "module", "loss": "own_answer"},
        "audit": AUDIT,
    }


def test_a_base_shared_by_selection_is_attributed_once_for_all_its_pairs():
    """With selection.shared: base every pair of a base has the base's questions and T_cut (tests/test_selection.py),
    so its base graphs and their faithfulness record are the first such pair's; each tuned model keeps its own."""
    config = _config()
    pair = config["pairs"]["p"]
    config["pairs"] = {
        "p": pair,
        "q": {**pair, "rl": {"model": "m/rl2"}},
        "other": {**pair, "base": {"model": "m/base2"}, "rl": {"model": "m/rl3"}},
    }
    per_pair = RunPlan.from_config(config)
    shared = RunPlan.from_config({**config, "selection": {"shared": "base"}})
    assert [per_pair.attributed_pair(name, "base") for name in config["pairs"]] == ["p", "q", "other"]
    assert [shared.attributed_pair(name, "base") for name in config["pairs"]] == ["p", "p", "other"]
    assert [shared.attributed_pair(name, "rl") for name in config["pairs"]] == ["p", "q", "other"]
    assert len(per_pair.faithfulness_files()) == 3 * 2
    assert shared.faithfulness_files() == [
        shared.faithfulness(pair, "d", role)
        for pair, role in (("p", "base"), ("p", "rl"), ("q", "rl"), ("other", "base"), ("other", "rl"))
    ]


def test_the_default_variants_paths_are_unchanged_and_the_others_sit_apart():
    plan = RunPlan.from_config(_config())
    without = RunPlan.from_config({k: v for k, v in _config().items() if k != "audit"})
    assert without.audit is None and without.audit_files() == [] and without.faithfulness_files() == []
    default, ig, heads = plan.audit.all_variants
    assert plan.attribution_of(default, "p", "d", "0.5", "rl") == without.attribution("p", "d", "0.5", "rl")
    assert plan.table1_of(default) == without.table("table1")
    assert plan.attribution_of(ig, "p", "d", "0.5", "rl") == (
        "results/r/audit/eap_ig-module-own_answer/attribution/p/d/alpha0.5/rl.npz"
    )
    assert plan.variant_metrics_files(heads.name) == [
        f"results/r/audit/eap-head-shared_answer/metrics/p/d/alpha{a}.json" for a in ("0.1", "0.5")
    ]
    assert plan.audit.faithful_variants() == (default, ig)  # head-level graphs are not ablated
    assert plan.audit.faithfulness.fractions == (0.0, 0.1, 1.0)
    assert len(plan.audit_files()) == 2 + 2 + 2  # two Table 1s, base and rl records, the figure's two files
    assert Variant.from_name(heads.name) == heads


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["audit"]["variants"].append(dict(c["audit"]["variants"][0])), r"variants\[2\].*listed twice"),
        (
            lambda c: c["audit"]["variants"].append({"method": "eap", "granularity": "module", "loss": "own_answer"}),
            "attribution section's own choice",
        ),
        (lambda c: c["audit"]["faithfulness"].update(alpha=0.3), "0.3 is not one of alphas"),
    ],
)
def test_a_bad_audit_section_is_a_named_settings_error(change, message):
    config = copy.deepcopy(_config())
    change(config)
    with pytest.raises(SettingsError, match=message):
        audit_from_config(config)


def test_verdicts_across_variants_and_their_sentences():
    rng = np.random.default_rng(0)
    labels = ("paper", "A", "B")
    as_claimed, online = _table(ONLINE, lambda pair, metric: 0.2 * (1 if metric != "complexity" else -1), rng)
    rows = verdict_rows(
        [as_claimed, as_claimed.assign(relative_change=-as_claimed["relative_change"]), None], labels, online, {}
    )
    by_text = {row.claim: row for row in rows}
    intensity = by_text[CLAIM_TEXTS["intensity"]]
    assert intensity.verdicts[:2] == (SUPPORTED, CONTRADICTED) and intensity.verdicts[2] is None
    assert intensity.details == ("8 for, 0 against, of 8", "0 for, 8 against, of 8", "")
    assert f": {SUPPORTED} under the paper's choices; it survives no variant; it becomes {CONTRADICTED} under A" in (
        intensity.sentence
    )
    same = verdict_rows([as_claimed, as_claimed], labels[:2], online, {})
    assert all("; the same under every variant that has results (1 of 1)" in row.sentence for row in same)
    three = {pair: online[pair] for pair in list(online)[:3]}  # too few pairs for any verdict
    few = as_claimed[as_claimed["pair"].isin(three)]
    hidden = verdict_rows([few, few.assign(relative_change=-few["relative_change"])], labels[:2], three, {})
    intensity = {row.claim: row for row in hidden}[CLAIM_TEXTS["intensity"]]
    assert intensity.details == ("3 for, 0 against, of 3", "0 for, 3 against, of 3")
    assert intensity.sentence.endswith("(1 of 1). Most of its pairs point the other way under A.")
    assert not any("other way" in row.sentence for row in same)


def test_a_studys_hypotheses_are_judged_by_the_studys_own_rule_under_each_variant():
    """The first column is the study's verdicts table (same family, so the same Bonferroni level) less accuracy;
    a variant whose Table 1 reverses every change reverses every verdict; a variant without a Table 1 has none."""
    import test_study  # the study tests' synthetic seeds

    table1, table4, arms = test_study._tables(
        {"grpo": 0.3, "control": 0.0}, 3, np.random.default_rng(5), expected=HYPOTHESES
    )
    contrasts = [Contrast("RL vs more training", "grpo", "control")]
    noise = table1.assign(relative_change=np.random.default_rng(6).normal(0, 0.02, len(table1)))
    reversed_ = table1.assign(relative_change=-table1["relative_change"])
    files = ("t1.csv", "a/t1.csv", "b/t1.csv", "c/t1.csv")
    study = StudyInputs(table4, arms, contrasts, files, "t4.csv")
    rows = study_rows([table1, reversed_, noise, None], study, ("paper", "A", "B", "C"))
    own = verdicts(seed_values(table1, table4, arms), arms, contrasts, HYPOTHESES)
    circuit = own[own["metric"] != ACCURACY]
    assert own["confidence"].tolist() == pytest.approx([1 - 0.05 / len(HYPOTHESES)] * len(HYPOTHESES))
    assert [row.claim for row in rows] == circuit["hypothesis"].tolist()
    assert [row.verdicts[0] for row in rows] == circuit["verdict"].tolist() == [SUPPORTED] * len(circuit)
    assert all(row.verdicts[1:] == (CONTRADICTED, INCONCLUSIVE, None) for row in rows)
    first = circuit.iloc[0]
    assert rows[0].details[0] == (
        f"{100 * first.difference:+.2f}% [{100 * first.ci_low:+.2f}, {100 * first.ci_high:+.2f}]"
    )
    assert rows[0].details[3] == ""
    assert rows[0].sentence.endswith(
        f"it survives no variant; it becomes {CONTRADICTED} under A; {INCONCLUSIVE} under B."
    )
    no_table4 = StudyInputs(None, arms, contrasts, files[:1], "t4.csv")
    assert study_rows([table1], no_table4, ("paper",)) == ()  # no Table 4: no study rows
    without_seed = table1[table1["pair"] != "grpo_s1"]
    with pytest.raises(InputFormatError, match=r"b/t1\.csv: no rows of pair 'grpo_s1'"):
        study_rows([table1, table1, without_seed, None], study, ("paper", "A", "B", "C"))


def _record(role: str) -> FaithfulnessRecord:
    methods = tuple(
        MethodFaithfulness(name, "own_answer", ((0.0, 0.0), (0.6, 0.8), (1.0, 1.0)), (0.5, 0.7))
        for name in ("eap-module-own_answer", "eap_ig-module-own_answer")
    )
    return FaithfulnessRecord("llama_grpo", "arith", role, 0.5, 4, "m", ("a", "b"), 23, (0.0, 0.1, 1.0), methods)


def test_the_page_shows_the_robustness_section_only_with_an_audit(run_dir, tmp_path):  # noqa: F811
    root = tmp_path / "run"
    shutil.copytree(run_dir, root)
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["attribution"] = {"method": "eap", "granularity": "module", "loss": "own_answer"}
    config["attribution"].update(ig_steps=16, ig_baseline="zero")
    config["audit"] = {
        "variants": AUDIT["variants"][:1],
        "faithfulness": {"alpha": 0.5, "fractions": [0.1], "single_edge": True},
    }
    (root / "audit.yaml").write_text(yaml.safe_dump(config))
    plan = RunPlan.from_config(config)
    out = root / "results" / "unit"
    variant_table = root / plan.variant_table1("eap_ig-module-own_answer")
    variant_table.parent.mkdir(parents=True)
    shutil.copy(out / "tables" / "table1.csv", variant_table)
    records = [_record(role) for role in ("base", "rl")]
    for record in records:
        write_faithfulness(root / plan.faithfulness("llama_grpo", "arith", record.role), record)
    save_figure(faithfulness_figure(records), root / plan.figure("faithfulness", "svg").removesuffix(".svg"))
    render = load_script("render_report").main
    pages = {}
    for name in ("config.yaml", "audit.yaml"):
        page = tmp_path / f"{name}.html"
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(root)
            assert render(["--run-config", name, "--out", str(page)]) == 0
        pages[name] = page.read_text()
    assert "robustness" not in pages["config.yaml"].lower()
    html = pages["audit.yaml"]
    assert '<section id="robustness">' in html and 'href="#robustness"' in html
    assert "EAP · module · own answer (the paper&#39;s choices)" in html and "EAP-IG · module · own answer" in html
    assert "from the zero baseline, and its scores are not complete" in html  # the zero-baseline caveat
    assert re.search(r'class="verdict [a-z-]+">[a-z ]+<br><span class="small">\d+ for, \d+ against, of \d+<', html)
    assert "<td>0.70</td>" in html  # the mean recovered fraction at 10% kept, (0.6 + 0.8) / 2
    assert "+0.60 [+0.50, +0.70] (n = 4)" in html  # Spearman median and quartiles over both records' samples
    assert "data:image/png;base64," in html.split('id="robustness"')[1].split("</section>")[0]
    json.dumps([r.claim for r in verdict_rows([None], ("x",), {}, {})])  # no Table 1 at all: no rows, no error


@pytest.mark.slow
@pytest.mark.snakemake
def test_the_paper_audit_adds_its_jobs_and_keeps_the_runs_own(tmp_path):
    """config/audit_paper.yaml merged into the paper's config: every job of the paper's DAG is still
    there with its own paths, and each variant adds one attribute job per pair x role x dataset."""
    folder = workdir(tmp_path)
    done = snakemake(folder, "-n", "-p", "--configfile", "config/paper.yaml", "config/audit_paper.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    counts = job_counts(done.stdout)
    assert counts["attribute"] == 24 and counts["analyze"] == 4 * 3 * 4  # the paper's own, as without the audit
    assert counts["audit_attribute"] == 3 * 24 and counts["audit_analyze"] == 3 * 48 and counts["audit_tables"] == 3
    assert counts["faithfulness"] == 24 and counts["faithfulness_figure"] == 1
    assert len(outputs(done.stdout, r"results/paper/attribution/\S+?\.npz")) == 4 * 3 * 4 * 2
    commands = [line for line in done.stdout.splitlines() if "scripts/" in line]
    heads = [c for c in commands if "attribute.py" in c and "audit/eap-head-own_answer/attribution/mistral/math/" in c]
    assert len(heads) == 2 and all("--method eap " in c and "--granularity head" in c for c in heads)
    faithfulness = [c for c in commands if "scripts/faithfulness.py" in c]
    assert len(faithfulness) == 24 and not any("--single-edge" in c for c in faithfulness)
    assert all(c.count(".npz") == 3 for c in faithfulness)  # the run's own graph and two module-level variants


def _touch(paths, when: float) -> None:
    for path in paths:
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.utime(item, (when, when))


@pytest.mark.slow
@pytest.mark.snakemake
def test_a_real_audit_run_from_selected_samples_to_the_page(tmp_path):
    """Everything up to the selection is laid down by hand (with older times, so nothing upstream
    reruns); Snakemake then runs the run's own attribution and the audit's jobs for real on tiny
    models and renders the page with its Robustness section."""
    folder = workdir(tmp_path)
    models = {
        role: tiny_models.save(tiny_models.build("llama", seed=seed), folder / "m" / role)
        for role, seed in (("base", 0), ("rl", 1))
    }
    data = folder / "data.jsonl"
    data.write_text(json.dumps({"id": "q0", "question": "1+1", "answer": "2"}) + "\n")
    config = paper_config()
    config.update(
        run_name="audit",
        device="cpu",
        pairs={
            "toy": {
                "algorithm": "GRPO",
                "online": True,
                "template": "zoo",
                "max_new_tokens": 8,
                **{role: {"model": f"./m/{role}"} for role in ROLES},
            }
        },
        datasets={"d": {"source": "local", "format": "qa", "path": "data.jsonl"}},
        alphas=[0.5],
        figure2={"pair": "toy", "dataset": "d", "alpha": 0.5},
        attribution={"layout": "paper", "dtype": "float32", "batch_tokens": 4096, "threads": 1, "ig_steps": 4},
        metrics={**config["metrics"], "resamples": 99},
        audit={**AUDIT, "faithfulness": {"alpha": 0.5, "fractions": [0.25], "single_edge": True}},
    )
    config["audit"]["variants"] = [
        *AUDIT["variants"],
        {"method": "eap", "granularity": "module", "loss": "shared_answer"},
    ]
    path = write_config(folder, config)
    assert snakemake(folder, "results/audit/preflight.json", "--cores", "1", "--configfile", str(path)).returncode == 0
    plan = RunPlan.from_config(config)
    ids = [f"q{i}" for i in range(4)]
    samples = [
        {
            "id": i,
            **{
                role: {"prompt_token_ids": [1, 5 + k, 9], "answer_token_ids": [20 + k + 7 * (role == "rl"), 30, 31, 32]}
                for role in ROLES
            },
        }
        for k, i in enumerate(ids)
    ]
    laid = []
    for model in plan.models:
        for maker, text in ((plan.generations, "{}\n"), (plan.graded, None)):
            out = folder / maker(model, "d")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text or "".join(json.dumps(records.graded(i, True)) + "\n" for i in ids))
            laid.append(out)
    selection = folder / plan.selection("toy", "d")
    selection.parent.mkdir(parents=True)
    counts = ("questions", "base_correct", "rl_correct", "both_correct", "equal_prompt_length", "length_window")
    record = {
        "pair": "toy",
        "dataset": "d",
        "t_bar": 4.0,
        "thresholds": {"beta": 0.5, "gamma": 1.5, "delta": 0.5, "n": 4, "seed": 42},
        "counts": {**dict.fromkeys(counts, 4), "balanced": 4, "selected": 4},
        "fewer_than_n": False,
    }
    selection.write_text(json.dumps({**record, "samples": samples}))
    start = time.time() - 1000
    _touch([data, *models.values()], start)
    _touch([folder / plan.preflight], start + 100)
    _touch(laid[0::2], start + 200)
    _touch(laid[1::2], start + 300)
    _touch([selection], start + 400)
    done = snakemake(folder, plan.report, "--cores", "2", "--configfile", str(path), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    ran = job_counts(done.stdout + done.stderr)
    assert not {"generate", "grade", "select"} & set(ran), ran
    assert ran["attribute"] == 2 and ran["audit_attribute"] == 2 * 3 and ran["faithfulness"] == 2, ran
    for role in ROLES:
        faith = read_faithfulness(folder / plan.faithfulness("toy", "d", role))
        assert [m.variant for m in faith.methods] == [
            "eap-module-own_answer",
            "eap_ig-module-own_answer",
            "eap-module-shared_answer",
        ]
        assert all(m.recovered[0] == pytest.approx((0,) * 4, abs=1e-5) for m in faith.methods)
        assert all(m.spearman is not None for m in faith.methods)
    html = (folder / plan.report).read_text()
    section = html.split('<section id="robustness">')[1].split("</section>")[0]
    assert "EAP · head · shared answer" in section and "data:image/png;base64," in section
    claims = section.split("<tbody>")[1].split("</tbody>")[0].count("<tr>")
    assert claims >= 5 and section.count('class="verdict') == claims * 4  # the paper's choice and three variants
