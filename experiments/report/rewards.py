"""The reward figure of an agent task: each agent's mean episode reward against the instruction, the
median over seeds with its quartiles, the training range shaded (from curves.csv: ``reward_median``,
``reward_q25``, ``reward_q75`` and ``accuracy_mean``, written by the runner from the learner's measures)."""

from __future__ import annotations

from experiments.report.figure_parts import grid_order, legend_outside, pyplot, save
from experiments.report.summary import layout


def reward_figure(curves, provenance, path):
    """Two panels: mean episode reward (median over seeds, quartile band) and the share of episodes that
    end exactly on time (mean over seeds), against the swept value, one line per ``columns`` value (in the
    config's grid order), the legend beside the panels. Returns the figure."""
    plt = pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    _, columns, _ = layout(config)
    figure_, (reward_axis, on_time_axis) = plt.subplots(1, 2, figsize=(11.5, 4.2), layout="constrained")
    for name in grid_order(config, columns, curves[columns]):
        curve = curves[curves[columns] == name].sort_values("x")
        (line,) = reward_axis.plot(curve["x"], curve["reward_median"], marker=".", lw=1.4, label=str(name))
        reward_axis.fill_between(
            curve["x"], curve["reward_q25"], curve["reward_q75"], color=line.get_color(), alpha=0.15, lw=0
        )
        on_time_axis.plot(curve["x"], curve["accuracy_mean"], marker=".", lw=1.4, color=line.get_color())
    shade = config["task"].get(report.get("shade")) if report.get("shade") else None
    for axis in (reward_axis, on_time_axis):
        if shade:
            axis.axvspan(shade[0], shade[1], color="grey", alpha=0.15, label="training range")
        axis.set_xlabel(report.get("x_label", "x"))
        axis.grid(alpha=0.3)
    reward_axis.axhline(0.0, color="black", lw=0.8)
    reward_axis.set_ylabel("mean episode reward")
    reward_axis.set_title("reward: median over seeds, quartiles shaded", fontsize=9)
    on_time_axis.set_ylabel("share of episodes exactly on time")
    on_time_axis.set_title("on time: mean over seeds", fontsize=9)
    on_time_axis.set_ylim(-0.02, 1.02)
    legend_outside(figure_, [reward_axis], where="right upper")
    figure_.suptitle(report.get("title", config.get("experiment", "")), fontsize=10)
    return save(figure_, path)
