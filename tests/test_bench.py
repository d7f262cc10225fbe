"""make bench's measurement functions run (the timing itself is a benchmark, never asserted)."""

from experiments import bench, timing


def test_bench_measures_positive_rates():
    assert bench.runner_rate(seeds=2, steps=3, data_stream="independent") > 0
    assert bench.runner_rate(seeds=2, steps=3, data_stream="independent", ops=("add", "mul")) > 0
    assert timing.rng_rate(seeds=2, steps=3) > 0
    assert bench.recurrent_rate(2, 3, bench.FORMER_RECURRENT_POINT, 8) > 0
    assert bench.recurrent_rate(2, 3, bench.RECURRENT_POINT, 8, ops=("add", "sub")) > 0
    assert timing.fit_rate(bench.POINT, steps=3, repeats=1) > 0
    rate, members = bench.configured_recurrent_rate(2, jit_compile=True, profile="smoke", units=("nac",))
    assert rate > 0 and members == 2 * 2  # the smoke grid: add and mul, 2 seeds


def test_bench_projects_a_profile_from_its_stacks():
    hours, stacks, members = timing.projected_hours(bench.MADSEN_CONFIG, "smoke", steps=2)
    assert hours > 0 and stacks == 1 and members == 4 * 2 * 2  # 4 units x 2 ops x 2 seeds, seed-major
    _, stacks, members = timing.projected_hours(bench.MADSEN_CONFIG, "smoke", steps=2, seed_major=False)
    assert stacks == 4 and members == 4 * 2 * 2  # the former design: a stack per unit


def test_bench_breaks_a_step_into_its_parts():
    members, timings = timing.step_breakdown(bench.MADSEN_CONFIG, profile="smoke", steps=2)
    assert members == 2 * 2 and len(timings) == 6 and all(value > 0 for value in timings.values())


def test_bench_breaks_each_units_step_into_its_parts():
    rows = timing.unit_breakdown(bench.MADSEN_CONFIG, "smoke", steps=2, units=("inalu",))
    # The iNALU's stack alone, of the smoke grid's 2 ops x 2 seeds.
    assert [(unit, members) for unit, members, _ in rows] == [("inalu", 2 * 2)]
    assert all(len(parts) == 5 and all(value > 0 for value in parts.values()) for _, _, parts in rows)


def test_bench_trains_stacks_side_by_side_and_lays_them_out_on_lanes():
    rate, members = bench.configured_recurrent_rate(  # uncompiled: the lanes are what is checked here
        2, jit_compile=False, profile="smoke", units=("nac", "nalu"), workers=2
    )
    assert rate > 0 and members == 2 * 2 * 2  # two units, each a stack of 2 ops x 2 seeds
    hours, stacks, members = timing.projected_hours(bench.MADSEN_CONFIG, "smoke", steps=2, workers=2)
    assert hours > 0 and stacks == 2 and members == 4 * 2 * 2  # the units dealt into one stack per lane
    # Jobs start on the first lane to come free, in order.
    assert timing.makespan([3.0, 1.0, 1.0, 1.0], 2) == 3.0
    assert timing.makespan([1.0, 1.0, 3.0], 2) == 4.0
    assert timing.makespan([1.0, 2.0], 1) == 3.0


def test_bench_measures_the_grid_worlds_environment_steps():
    rate, members, horizon = timing.agent_rate(bench.GRID_CONFIG, 1, profile="smoke")
    assert rate > 0 and members == 2 and horizon == 24  # 1 agent x 2 seeds; T up to 12, timeout 2T


def test_the_projection_takes_each_stacks_least_step_time_and_the_former_design_is_uncompiled(monkeypatch):
    from experiments.config import load

    paper = load(bench.MADSEN_CONFIG, "paper", bench.uncompiled(bench.MADSEN_CONFIG, "paper"))
    assert not any(paper.training_for(point).jit_compile for point in paper.points())
    measured = iter([0.003, 0.001, 0.002])  # seconds per step of the one smoke stack, three measurements
    monkeypatch.setattr(timing, "side_by_side", lambda trainers, steps, workers: (0.0, [next(measured)]))
    monkeypatch.setattr(timing, "evaluation_seconds", lambda trainer: 0.0)
    hours, stacks, _ = timing.projected_hours(bench.MADSEN_CONFIG, "smoke", steps=2)
    assert stacks == 1 and abs(hours - 40 * 0.001 / 3600) < 1e-15  # the smoke profile's 40 steps at the least
