"""Program evaluation (Section 4.4): the generator against Python's evaluator, the digit-count split, the
character features, and an arithmetic core with ideal weights."""

import re

import numpy as np
import pytest
import tensorflow as tf

from experiments.engine import MultiSeedTrainer, Training
from experiments.tasks import program_evaluation

POINT = {
    "unit": "nau",
    "grammar": "addition",
    "train_digits": 2,
    "test_digits": [2, 3, 5],
    "training_programs": 500,
    "validation_programs": 64,
    "test_programs": 64,
    "training_seed": 1,
    "validation_seed": 2,
    "test_seed": 3,
    "core_units": 4,
    "success_mae": 0.5,
    "epsilon": 1e-7,
}


def python_value(text):
    """What Python makes of the program: every statement run, the value of the last (an expression)."""
    *statements, last = text.split(";")
    namespace = {}
    exec(";".join(statements), namespace)
    return eval(last, namespace)


@pytest.mark.parametrize("grammar", program_evaluation.GRAMMARS)
@pytest.mark.parametrize("digits", [2, 3, 5])
def test_every_generated_program_gives_its_target_in_python(grammar, digits):
    programs = program_evaluation.generate(grammar, 400, digits, seed=digits)
    for text, answer in zip(programs.texts, programs.answers):
        assert python_value(text) == answer, text
    assert len(set(programs.texts)) > 300  # not one program repeated


def test_the_program_grammar_takes_both_branches_and_every_operator():
    texts = program_evaluation.generate("program", 400, 2, seed=0).texts
    held = []
    for text in texts:
        assignments, expression = text.rsplit(";", 1)
        chosen, rest = expression.split(" if ")
        comparison, other = rest.split(" else ")
        held.append(python_value(f"{assignments};{comparison}"))
        assert re.fullmatch(r"[ab][<>][ab]", comparison) and comparison[0] != comparison[2]
        assert all(re.fullmatch(r"[ab][+-]([ab]|[0-9]{1,2})", branch) for branch in (chosen, other))
    assert 0.3 < np.mean(held) < 0.7  # the if branch and the else branch both taken often
    operands = "".join(text.rsplit(";", 1)[1] for text in texts)
    assert all(symbol in operands for symbol in "+-<>")
    with pytest.raises(ValueError, match="unknown grammar"):
        program_evaluation.generate("loops", 1, 2, seed=0)


@pytest.mark.parametrize("grammar", program_evaluation.GRAMMARS)
def test_no_training_number_has_more_digits_than_allowed(grammar):
    point = {**POINT, "grammar": grammar}
    task = program_evaluation.build(point)
    pool = point["training_programs"]

    def every_row(shape, low, high):  # one pick of every training program, in order
        return tf.reshape(tf.linspace(low + 0.5, high - 0.5, shape[0]), (1, *shape))

    x, y = task.sample(every_row, pool)
    training = program_evaluation.generate(grammar, pool, 2, point["training_seed"])
    places = task.table[x.numpy().astype(int)][..., -1]  # the place value of every character read
    assert places.max() == 90  # a digit 9 in the tens' place: two digits, never more
    assert max(max(values) for values in training.literals) < 100
    np.testing.assert_array_equal(y.numpy()[0, :, 0], training.answers)  # the pool, every program once
    validation_places = task.table[task.validation[0].astype(int)][..., -1]
    assert validation_places.max() < 100
    # and every test set reaches its digit count: the sweep extrapolates
    for digits, (inputs, _) in task.sweep:
        assert task.table[inputs.astype(int)][..., -1].max() >= 10 ** (digits - 1)
    assert [digits for digits, _ in task.sweep] == [2, 3, 5]


def test_a_digit_carries_its_place_value_and_programs_pad_at_the_front():
    assert program_evaluation.lex("a=407;b=5") == [
        ("a", None),
        ("=", None),
        ("4", 2),
        ("0", 1),
        ("7", 0),
        (";", None),
        ("b", None),
        ("=", None),
        ("5", 0),
    ]
    table = program_evaluation.feature_table(3)
    rows = program_evaluation.encode(["407+5"], length=7)[0].astype(int)
    assert rows[:2].tolist() == [0, 0] and not table[0].any()
    np.testing.assert_array_equal(table[rows, -1], [0, 0, 400, 0, 7, 0, 5])
    characters = program_evaluation.CHARACTERS
    assert [characters[int(np.argmax(table[row, :-1]))] for row in rows[2:]] == list("407+5")
    with pytest.raises(ValueError, match="outside"):
        program_evaluation.lex("a*b")


def ideal_core(unit, params, features):
    """Weights (2 seeds) of exact addition: weight 1 on the place value and on h_(t-1), 0 elsewhere."""
    ideal = np.zeros((2, features + 1, 1), "float32")  # rows: the character's features, then h_(t-1)
    ideal[:, features - 1] = ideal[:, features] = 1.0
    if unit == "nau":
        params["kernel"].assign(ideal)
        return
    # W = tanh(w_hat) sigmoid(m_hat): tanh(40) and sigmoid(40) are 1 in float32, sigmoid(-40) is 0
    params["w_hat"].assign(40.0 * ideal)
    params["m_hat"].assign(np.where(ideal > 0, 40.0, -40.0).astype("float32"))
    if unit == "nalu":  # the gate fully open on the additive path
        params["gate_kernel"].assign(np.full(params["gate_kernel"].shape, 40.0, "float32"))


@pytest.mark.parametrize("unit", program_evaluation.ARITHMETIC_CORES)
def test_an_arithmetic_core_with_ideal_weights_adds_five_digit_numbers_exactly(unit):
    task = program_evaluation.build({**POINT, "unit": unit})
    trainer = MultiSeedTrainer(
        task, [0, 1], Training(steps=1, batch_size=1, learning_rate=1e-3, eval_every=1)
    )
    ideal_core(unit, trainer.model.params[0], task.table.shape[1])
    for digits, (x, y) in task.sweep:
        assert y.max() >= 10**digits // 2  # the sums reach the digit count
        data = trainer.learner.fixed_set([x], [y])
        errors = trainer.learner.errors(trainer.model, data, accuracy=True)
        np.testing.assert_array_equal(errors.accuracy.numpy(), 1.0)
        np.testing.assert_array_less(errors.mae.numpy(), 1e-3 if unit == "nalu" else 1e-12)
