"""The scorecard at the top of results/README.md, and the order of its experiments.

How many published claims each verdict holds, per experiment in the paper's order and in all, the claims of
success (a model extrapolates, learns, translates, counts, does better) apart from the claims of failure
(:func:`experiments.report.verdicts.claimed_outcome`), with one sentence a reader can quote; ``make
report`` also writes that sentence into the project README between :data:`BEGIN` and :data:`END`. Every
number is counted from the :class:`~experiments.report.verdicts.Finding` rows the findings table shows.
"""

from __future__ import annotations

import collections
import dataclasses

from experiments.report.verdicts import VERDICTS


@dataclasses.dataclass(frozen=True)
class Place:
    """Where an experiment stands: in Trask et al. (2018) (``where`` names its figure, table or section), or
    in a follow-up study (``paper`` false; ``where`` names the study)."""

    experiment: str
    where: str
    paper: bool = True


# The paper's order, then the follow-ups: the findings and the experiments of results/README.md follow it,
# and an experiment not named here comes after them, in alphabetical order.
EXPERIMENT_ORDER = (
    Place("identity_extrapolation", "Figure 1"),
    Place("static_arithmetic", "Table 1, static"),
    Place("recurrent_arithmetic", "Table 1, recurrent"),
    Place("mnist_counting", "Table 2"),
    Place("mnist_addition", "Table 2"),
    Place("number_words", "Table 3"),
    Place("program_evaluation", "Section 4.4"),
    Place("program_evaluation_programs", "Section 4.4"),
    Place("grid_world", "Section 4.5"),
    Place("mnist_parity", "Section 4.6"),
    Place("static_arithmetic_madsen", "follow-up: Madsen & Johansen 2020", paper=False),
    Place("single_module_benchmark", "follow-up: Mistry et al.", paper=False),
)
PLACES = {place.experiment: place for place in EXPERIMENT_ORDER}
# Units published after the paper: a claim about one of them is a follow-up's, in whatever experiment.
LATER_UNITS = ("nau", "nmu", "inalu", "real_npu")
OUTCOME_NAMES = {"success": "success", "failure": "failure", None: "none known"}
BEGIN, END = "<!-- scorecard -->", "<!-- /scorecard -->"
ANCHOR = "results/README.md#scorecard"


def experiment_rank(name):
    """Sort key of an experiment's name: its place in :data:`EXPERIMENT_ORDER`; unknown ones after, by name."""
    names = list(PLACES)
    return (names.index(name), "") if name in PLACES else (len(names), name)


def is_paper_claim(finding):
    """Whether a finding is a claim of Trask et al. (2018): in one of its experiments, about a unit it
    studies (not one of :data:`LATER_UNITS`), with a published outcome."""
    place = PLACES.get(finding.experiment)
    return (
        place is not None and place.paper and finding.unit not in LATER_UNITS and finding.outcome is not None
    )


def is_paper_nalu_claim(finding):
    """Whether a finding is one of the paper's own claims about the NALU."""
    return is_paper_claim(finding) and finding.unit == "nalu"


def tally(findings):
    """How many of ``findings`` each verdict holds: a dict over :data:`VERDICTS`, in its order."""
    counts = collections.Counter(finding.verdict for finding in findings)
    unknown = set(counts) - set(VERDICTS)
    if unknown:
        raise ValueError(f"verdicts {sorted(unknown)} are not among {VERDICTS}")
    return {verdict: counts[verdict] for verdict in VERDICTS}


def counts_text(findings, with_verb=False):
    """``N reproduced, N refuted as published, ... and N not judged``: the reproduced count always, every
    other verdict where it holds a claim, in the order of :data:`VERDICTS`; ``with_verb``: "N are reproduced, ..."."""
    counts = tally(findings)
    parts = [f"{count} {verdict}" for verdict, count in counts.items() if verdict == "reproduced" or count]
    if with_verb:
        parts[0] = _reproduced(findings)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def summary_sentence(findings):
    """The one sentence a reader can quote: the paper's claims by verdict, how many of its claims about the
    NALU are reproduced, and those of the follow-ups' claims (with a published outcome, not the paper's)."""
    paper = [finding for finding in findings if is_paper_claim(finding)]
    nalu = [finding for finding in paper if is_paper_nalu_claim(finding)]
    followups = [
        finding for finding in findings if finding.outcome is not None and not is_paper_claim(finding)
    ]
    parts = []
    if paper:
        parts.append(
            f"Of the {_claims(paper)} of Trask et al. (2018) tested here, {counts_text(paper, with_verb=True)}"
        )
    if nalu:
        parts.append(f"of its {_claims(nalu)} about the NALU, {_reproduced(nalu)}")
    if followups:
        parts.append(f"of {_claims(followups)} of follow-up studies, {_reproduced(followups)}")
    if not parts:
        return "No claim with a published outcome is tested here."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def _claims(findings):
    return f"{len(findings)} claim{'' if len(findings) == 1 else 's'}"


def _reproduced(findings):
    count = tally(findings)["reproduced"]
    return f"{count} {'is' if count == 1 else 'are'} reproduced"


def anchor(name):
    """The address of an experiment's section in results/README.md (its heading is the name)."""
    return f"#{name.replace('_', '-')}"


def scorecard_markdown(findings):
    """The scorecard section of results/README.md (its lines), from the findings table's rows."""
    nalu = [finding for finding in findings if is_paper_nalu_claim(finding)]
    lines = [
        "## Scorecard",
        "",
        summary_sentence(findings),
        "",
        f"**The paper's claims about the NALU**: {len(nalu)}, of which {counts_text(nalu)}."
        if nalu
        else "**The paper's claims about the NALU**: none in these results.",
        "",
        "Counted by `make report` from the rows of the findings table below (experiments/report/scorecard.py), "
        "per experiment in the paper's order: the claims that a model succeeds (extrapolates, learns, translates, "
        "counts, does better than another) apart from the claims that it fails (or succeeds in fewer than half "
        "its seeds), and the claims with no published number (none known). A claim of the paper is one in its "
        f"experiments, about a unit it studies ({', '.join(LATER_UNITS)} came later), with a published outcome. "
        "· = none.",
        "",
        "| experiment | where | published outcome | claims | " + " | ".join(VERDICTS) + " |",
        "|---|---|---|---|" + "---|" * len(VERDICTS),
    ]
    by_experiment = collections.defaultdict(list)
    for finding in findings:
        by_experiment[finding.experiment].append(finding)
    for name in sorted(by_experiment, key=experiment_rank):
        place = PLACES[name].where if name in PLACES else ""
        for index, (outcome, group) in enumerate(_by_outcome(by_experiment[name])):
            label = f"[{name}]({anchor(name)})" if index == 0 else ""
            lines.append(_row(label, place if index == 0 else "", OUTCOME_NAMES[outcome], group))
    for outcome, group in _by_outcome(findings):
        lines.append(_row("**all**", "", OUTCOME_NAMES[outcome], group))
    lines.append(_row("**all**", "", "any", findings))
    paper = [finding for finding in findings if is_paper_claim(finding)]
    for label, group in (("**the paper's claims**", paper), ("**the paper's claims about the NALU**", nalu)):
        lines += [_row(label, "", "any", group)] if group else []
    return lines


def _by_outcome(findings):
    """(outcome, its findings) for every outcome some of ``findings`` have: success, failure, none known."""
    return [
        (outcome, group)
        for outcome in OUTCOME_NAMES
        if (group := [finding for finding in findings if finding.outcome == outcome])
    ]


def _row(label, place, outcome, findings):
    counts = [str(count) if count else "·" for count in tally(findings).values()]
    return f"| {label} | {place} | {outcome} | {len(findings)} | " + " | ".join(counts) + " |"


def readme_block(findings):
    """What stands between the project README's markers: the summary sentence and a link to the scorecard."""
    return f"**Results at a glance** (`make report`): {summary_sentence(findings)} See the [scorecard]({ANCHOR})."


def with_readme_block(text, findings):
    """``text`` (the project README) with what stands between :data:`BEGIN` and :data:`END` replaced by
    :func:`readme_block`; everything else kept. A README without the two markers is a ValueError."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {BEGIN} ... {END} block for the scorecard's summary")
    return text[: start + len(BEGIN)] + "\n" + readme_block(findings) + "\n" + text[end:]
