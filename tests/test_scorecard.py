"""The scorecard: verdicts counted from a small findings table, the paper's order of the experiments, and the
project README's marked block."""

import json
import random

import numpy as np
import pandas as pd
import pytest

from experiments.report import build, scorecard
from experiments.report.verdicts import Finding


def finding(experiment, verdict, outcome="success", unit="nac"):
    return Finding(experiment, f"{unit} claim", "p", "o", verdict, "", outcome, unit)


# Eight claims: five of the paper (two about the NALU), two of follow-ups, one with no published number.
FINDINGS = [
    finding("static_arithmetic", "reproduced"),
    finding("static_arithmetic", "refuted as published", unit="nalu"),
    finding("static_arithmetic", "reproduced", outcome="failure", unit="relu6"),
    finding("mnist_counting", "not judged", outcome="failure", unit="lstm"),
    finding("mnist_counting", "not reproduced", unit="nalu"),
    finding("mnist_addition", "reproduced", unit="nau"),  # a later unit in a paper's experiment
    finding("static_arithmetic_madsen", "beyond this budget", unit="nalu"),
    finding("single_module_benchmark", "no verdict", outcome=None, unit="inalu"),
]


def test_the_verdicts_are_counted_per_group():
    counts = scorecard.tally(FINDINGS)
    assert list(counts) == list(scorecard.VERDICTS)
    assert counts == {
        "reproduced": 3,
        "refuted as published": 1,
        "beyond this budget": 1,
        "not reproduced": 1,
        "not judged": 1,
        "no verdict": 1,
    }
    assert [f.claim for f in FINDINGS if scorecard.is_paper_claim(f)] == [
        "nac claim",
        "nalu claim",
        "relu6 claim",
        "lstm claim",
        "nalu claim",
    ]
    assert sum(scorecard.is_paper_nalu_claim(f) for f in FINDINGS) == 2  # not the follow-up's NALU
    with pytest.raises(ValueError, match="'maybe'"):
        scorecard.tally([finding("static_arithmetic", "maybe")])


def test_the_summary_sentence_counts_the_papers_claims_its_nalu_claims_and_the_followups():
    assert scorecard.summary_sentence(FINDINGS) == (
        "Of the 5 claims of Trask et al. (2018) tested here, 2 are reproduced, 1 refuted as published, "
        "1 not reproduced and 1 not judged; of its 2 claims about the NALU, 0 are reproduced; "
        "of 2 claims of follow-up studies, 1 is reproduced."
    )


def test_the_scorecard_table_counts_success_and_failure_apart_per_experiment_and_in_all():
    lines = scorecard.scorecard_markdown(FINDINGS)
    assert lines[0] == "## Scorecard" and lines[2] == scorecard.summary_sentence(FINDINGS)
    assert (
        "**The paper's claims about the NALU**: 2, of which 0 reproduced, 1 refuted as published and "
        "1 not reproduced." in lines
    )
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| experiment")]
    assert rows == [
        "| [static_arithmetic](#static-arithmetic) | Table 1, static | success | 2 | 1 | 1 | · | · | · | · |",
        "|  |  | failure | 1 | 1 | · | · | · | · | · |",
        "| [mnist_counting](#mnist-counting) | Table 2 | success | 1 | · | · | · | 1 | · | · |",
        "|  |  | failure | 1 | · | · | · | · | 1 | · |",
        "| [mnist_addition](#mnist-addition) | Table 2 | success | 1 | 1 | · | · | · | · | · |",
        "| [static_arithmetic_madsen](#static-arithmetic-madsen) | follow-up: Madsen & Johansen 2020 | success "
        "| 1 | · | · | 1 | · | · | · |",
        "| [single_module_benchmark](#single-module-benchmark) | follow-up: Mistry et al. | none known "
        "| 1 | · | · | · | · | · | 1 |",
        "| **all** |  | success | 5 | 2 | 1 | 1 | 1 | · | · |",
        "| **all** |  | failure | 2 | 1 | · | · | · | 1 | · |",
        "| **all** |  | none known | 1 | · | · | · | · | · | 1 |",
        "| **all** |  | any | 8 | 3 | 1 | 1 | 1 | 1 | 1 |",
        "| **the paper's claims** |  | any | 5 | 2 | 1 | · | 1 | 1 | · |",
        "| **the paper's claims about the NALU** |  | any | 2 | · | 1 | · | 1 | · | · |",
    ]


def test_experiments_follow_the_paper_then_the_followups_then_unknown_ones_alphabetically():
    names = [place.experiment for place in scorecard.EXPERIMENT_ORDER] + ["zeta_task", "alpha_task"]
    shuffled = random.Random(0).sample(names, len(names))
    assert sorted(shuffled, key=scorecard.experiment_rank) == names[:-2] + ["alpha_task", "zeta_task"]
    assert [place.experiment for place in scorecard.EXPERIMENT_ORDER][:4] == [
        "identity_extrapolation",
        "static_arithmetic",
        "recurrent_arithmetic",
        "mnist_counting",
    ]
    assert [place.experiment for place in scorecard.EXPERIMENT_ORDER if not place.paper] == [
        "static_arithmetic_madsen",
        "single_module_benchmark",
    ]


def _experiment(root, name, claim):
    """A results folder with what collect_findings reads: provenance, runs and history (one cell, 4 seeds)."""
    directory = root / name
    directory.mkdir()
    config = {
        "name": name,
        "training": {"steps": 100},
        "report": {"findings": [{"claim": claim, "cell": {"unit": "nac"}, "published": 1.0}]},
    }
    (directory / "provenance.json").write_text(json.dumps({"config": config}))
    runs = pd.DataFrame(
        {"unit": "nac", "seed": range(4), "success": True, "solved_at": 10.0, "extrapolation_score": 0.0}
    )
    runs.to_csv(directory / "runs.csv", index=False)
    history = pd.DataFrame({"unit": "nac", "seed": range(4), "step": 100, "extrapolation_mse": np.zeros(4)})
    history.to_csv(directory / "history.csv", index=False)
    return directory


def test_the_findings_of_a_results_folder_come_in_the_papers_order(tmp_path):
    names = ["alpha_task", "mnist_parity", "single_module_benchmark", "identity_extrapolation"]
    directories = [_experiment(tmp_path, name, f"claim of {name}") for name in sorted(names)]
    findings = build.collect_findings(directories)
    assert [row.experiment for row in findings] == [
        "identity_extrapolation",
        "mnist_parity",
        "single_module_benchmark",
        "alpha_task",
    ]
    assert {row.verdict for row in findings} == {"reproduced"}


README = "# project\n\nFirst paragraph.\n\n<!-- scorecard -->\nold line\n<!-- /scorecard -->\n\n## Map\n"


def test_the_readme_block_is_replaced_and_nothing_else():
    text = scorecard.with_readme_block(README, FINDINGS)
    assert text == README.replace("old line", scorecard.readme_block(FINDINGS))
    assert scorecard.with_readme_block(text, FINDINGS) == text  # regenerated, the same
    assert "](results/README.md#scorecard)" in scorecard.readme_block(FINDINGS)
    assert scorecard.summary_sentence(FINDINGS) in scorecard.readme_block(FINDINGS)
    with pytest.raises(ValueError, match="<!-- scorecard -->"):
        scorecard.with_readme_block("# project\n", FINDINGS)


def test_results_without_a_nalu_claim_say_so_rather_than_count_zero():
    findings = [finding("identity_extrapolation", "reproduced", outcome="failure", unit="tanh")]
    assert scorecard.summary_sentence(findings) == (
        "Of the 1 claim of Trask et al. (2018) tested here, 1 is reproduced."
    )
    lines = scorecard.scorecard_markdown(findings)
    assert "**The paper's claims about the NALU**: none in these results." in lines
    assert not [line for line in lines if line.startswith("| **the paper's claims about the NALU**")]


def test_the_report_of_the_repositorys_own_results_alone_rewrites_the_readme_block(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "REPOSITORY", tmp_path)
    monkeypatch.setattr(build, "index_markdown", lambda directories, findings: "index\n")
    (tmp_path / "README.md").write_text(README)
    for root in (tmp_path / "elsewhere", tmp_path / "results"):
        root.mkdir()
        _experiment(root, "identity_extrapolation", "the NAC keeps the identity")
    build.write_index(tmp_path / "elsewhere")  # a smoke run's folder, say: the README stays as it is
    assert (tmp_path / "README.md").read_text() == README
    build.write_index(tmp_path / "results")
    text = (tmp_path / "README.md").read_text()
    assert (
        "old line" not in text
        and "Of the 1 claim of Trask et al. (2018) tested here, 1 is reproduced." in text
    )
