"""Program evaluation: Section 4.4 of Trask et al. (2018), "NALU-enhanced networks execute computer code".

Programs in the style of Zaremba & Sutskever's "Learning to Execute", made in code from a small grammar
(the paper's grammar is not known; this one is ours), read character by character; the target is the
integer the program evaluates to. Two sub-tasks (the task setting ``grammar``), as the paper has two:

- ``addition``: ``literal "+" literal``, such as ``47+13``;
- ``program``::

      program    := "a=" literal ";b=" literal ";" branch " if " comparison " else " branch
      branch     := variable ("+" | "-") (literal | variable)
      comparison := variable ("<" | ">") variable        (the two variables differ)
      variable   := "a" | "b"

  such as ``a=47;b=13;b-5 if a<b else a+b`` (assignment, + and -, if/else on a comparison); the
  answer is the value of the last statement, an expression (Python's conditional expression).

A literal with at most ``digits`` digits is uniform on [0, 10^digits - 1]. Training programs (a fixed
pool of ``training_programs``, drawn with replacement) and the validation set have literals of at most
``train_digits`` digits; the sweep has one fixed set per entry of ``test_digits`` (at most that many
digits; the largest is the extrapolation set). Results: MSE, MAE and exact-match accuracy of the rounded
answer per digit count; a seed succeeds when its MAE on the extrapolation set is below ``success_mae``.

Input: each character is a table row of features, a one-hot code of the character and its place value:
a digit character d at position k from its literal's right end carries d * 10^k, every other character
0 (a lexer that knows where a literal ends gives it; the model still reads one character per step).
Without it a unit whose weights lie in [-1, 1] cannot form 10 * previous + digit as a recurrence, so no
arithmetic unit could read a number at all. Programs are padded at the front with a padding row of zeros.

Models (grid axis ``unit``), all reading the same character features:

- ``lstm``, ``gru``: a recurrent core of ``core_units`` and a linear read-out after the last character;
- ``nac``, ``nau``, ``nalu``: a recurrent arithmetic cell of one unit whose state is the answer,
  h_t = unit([x_t, h_(t-1)]). On ``addition`` the exact solution is weight 1 on the place value and on
  h_(t-1), 0 elsewhere, right at any digit count (a test sets it by hand). On ``program`` no weights of
  this design are exact: the sign of a literal and the branch taken depend on context, which an additive
  cell of fixed weights cannot route; the cell is there to measure how far one gets without a controller.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from experiments import schema
from experiments.engine import LayerSpec, Task
from experiments.unit_options import OPTION_SCHEMA

GRAMMARS = ("addition", "program")
STANDARD_CORES = ("lstm", "gru")
ARITHMETIC_CORES = ("nac", "nau", "nalu")  # one unit, its state the answer, no read-out
AXES = {"unit": (*STANDARD_CORES, *ARITHMETIC_CORES)}

DIGITS = "0123456789"
SYMBOLS = "ab+-<>=; ifels"  # every other character a program may hold
CHARACTERS = DIGITS + SYMBOLS
VARIABLES = ("a", "b")

TASK_SCHEMA = {
    "grammar": schema.Choice(GRAMMARS),
    "train_digits": schema.Integer(minimum=1),
    "test_digits": schema.IntegerList(minimum=1),
    "training_programs": schema.Integer(minimum=1),
    "validation_programs": schema.Integer(minimum=1),
    "test_programs": schema.Integer(minimum=1),
    "training_seed": schema.Integer(minimum=0),
    "validation_seed": schema.Integer(minimum=0),
    "test_seed": schema.Integer(minimum=0),
    "core_units": schema.Integer(minimum=1),
    "success_mae": schema.Number(minimum=0, exclusive_minimum=True),
    "epsilon": OPTION_SCHEMA["epsilon"],
}


@dataclasses.dataclass(frozen=True)
class Programs:
    """Generated programs: their text, their answers and every integer literal they hold."""

    texts: list
    answers: np.ndarray  # (count,) int64
    literals: list  # per program, its literals in the order they appear


def _literal(rng, digits):
    return int(rng.integers(0, 10**digits))


def _program(rng, digits):
    """One program of the ``program`` grammar: (text, answer, literals)."""
    values = {"a": _literal(rng, digits), "b": _literal(rng, digits)}
    literals = [values["a"], values["b"]]

    def branch():
        variable, operator = VARIABLES[rng.integers(2)], "+-"[rng.integers(2)]
        if rng.integers(2):
            operand_text = VARIABLES[rng.integers(2)]
            operand = values[operand_text]
        else:
            operand = _literal(rng, digits)
            operand_text = str(operand)
            literals.append(operand)
        result = values[variable] + operand if operator == "+" else values[variable] - operand
        return f"{variable}{operator}{operand_text}", result

    left = VARIABLES[rng.integers(2)]
    right = VARIABLES[1 - VARIABLES.index(left)]
    comparison = "<>"[rng.integers(2)]
    holds = values[left] < values[right] if comparison == "<" else values[left] > values[right]
    chosen_text, chosen = branch()
    other_text, other = branch()
    text = f"a={values['a']};b={values['b']};{chosen_text} if {left}{comparison}{right} else {other_text}"
    return text, chosen if holds else other, literals


def generate(grammar, count, digits, seed):
    """``count`` programs of ``grammar`` whose literals have at most ``digits`` digits, from ``seed``."""
    if grammar not in GRAMMARS:
        raise ValueError(f"unknown grammar {grammar!r}; known: {', '.join(GRAMMARS)}")
    rng = np.random.default_rng(seed)
    texts, answers, literals = [], [], []
    for _ in range(count):
        if grammar == "addition":
            first, second = _literal(rng, digits), _literal(rng, digits)
            text, answer, used = f"{first}+{second}", first + second, [first, second]
        else:
            text, answer, used = _program(rng, digits)
        texts.append(text)
        answers.append(answer)
        literals.append(used)
    return Programs(texts, np.array(answers, dtype=np.int64), literals)


def lex(text):
    """(character, place) per character: a digit's place is its position from its literal's right end
    (0 for units), every other character's None."""
    if set(text) - set(CHARACTERS):
        raise ValueError(f"{text!r} holds characters outside {CHARACTERS!r}")
    places, run = [None] * len(text), 0
    for index in reversed(range(len(text))):
        run = run + 1 if text[index] in DIGITS else 0
        places[index] = run - 1 if run else None
    return list(zip(text, places))


def row_of(character, place):
    """A character's row in the feature table (row 0 is padding)."""
    if character in DIGITS:
        return 1 + len(SYMBOLS) + 10 * place + DIGITS.index(character)
    return 1 + SYMBOLS.index(character)


def feature_table(places):
    """Row 0 padding (zeros), a row per symbol, then a row per digit and place below ``places``: the
    one-hot code of the character, then its place value. (rows, len(CHARACTERS) + 1) float32."""
    rows = 1 + len(SYMBOLS) + 10 * places
    table = np.zeros((rows, len(CHARACTERS) + 1), "float32")
    for symbol in SYMBOLS:
        table[row_of(symbol, None), CHARACTERS.index(symbol)] = 1.0
    for place in range(places):
        for digit in DIGITS:
            row = row_of(digit, place)
            table[row, CHARACTERS.index(digit)] = 1.0
            # the place value: d * 10^k
            table[row, -1] = int(digit) * 10**place
    return table


def encode(texts, length=None):
    """Row indices of every program's characters, padded at the front with 0 to ``length`` (default the
    longest): (count, length) float32."""
    lexed = [lex(text) for text in texts]
    length = length or max(len(characters) for characters in lexed)
    rows = np.zeros((len(texts), length), "float32")
    for row, characters in zip(rows, lexed):
        if len(characters) > length:
            raise ValueError(f"a program of {len(characters)} characters does not fit in {length}")
        row[length - len(characters) :] = [row_of(character, place) for character, place in characters]
    return rows


def fixed_set(programs):
    """A fixed set (inputs, targets) of generated programs."""
    return encode(programs.texts), programs.answers.astype("float32")[:, None]


def layers(point):
    """The model of one grid point (see the module docstring)."""
    unit = point["unit"]
    if unit in ARITHMETIC_CORES:
        return [LayerSpec(unit, 1, recurrent=True)]
    return [LayerSpec(unit, point["core_units"], recurrent=True), LayerSpec("dense", 1)]


def build(point):
    """The Task of one grid point."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow

    from experiments.engine import draw_indices  # its module loads TensorFlow

    grammar, train_digits = point["grammar"], point["train_digits"]
    training = generate(grammar, point["training_programs"], train_digits, point["training_seed"])
    training_x, training_y = fixed_set(training)
    training_rows, training_values = tf.constant(training_x), tf.constant(training_y)
    count = len(training.texts)

    def sample(draw, batch_size):
        picks = draw_indices(draw, (batch_size,), count)
        return tf.gather(training_rows, picks), tf.gather(training_values, picks)

    def test_set(digits):
        return fixed_set(
            generate(grammar, point["test_programs"], digits, point["test_seed"] + 1000 * digits)
        )

    digit_counts = sorted(point["test_digits"])
    validation = generate(grammar, point["validation_programs"], train_digits, point["validation_seed"])
    return Task(
        input_size=(len(CHARACTERS) + 1,),
        layers=layers(point),
        sample=sample,
        validation=fixed_set(validation),
        test=test_set(digit_counts[-1]),
        sweep=[(digits, test_set(digits)) for digits in digit_counts],
        table=feature_table(max(train_digits, *digit_counts)),
        accuracy=True,
        success_threshold=point["success_mae"],
        success_metric="mae",
    )
