"""Translating number words to numbers: Table 3 of Trask et al. (2018), Section 4.3.

Every integer 0-999 written in English words, one token per word ("three hundred forty two"; no
"and", so there are 29 distinct tokens: zero to nineteen, the eight tens and "hundred"). The split
follows the paper: the training set is 0-19 plus a random sample of the rest, adjusted so that every
token appears in it at least once (169 numbers), then 200 validation and 631 test numbers, all from
``split_seed``.

Model: a token embedding (a linear map of the one-hot token, no bias), an LSTM over the tokens, and a
read-out (grid axis ``unit``: a linear layer, a NAC or a NALU) applied to the LSTM's output after the
last token only, trained with MSE on the number's value. Sequences are padded at the front to the
longest (4 tokens) with a padding token whose embedding is zero. The embedding and LSTM sizes follow
what Madsen & Johansen report of the authors' setup (embedding about 256, about 10 LSTM units).

Interpolation is measured on the validation numbers (model selection), extrapolation on the test
numbers; the error on each test number is kept against its value (the curve), and the selected
model's error on the whole training set is reported too. Beyond the paper, the kept models' read-out
is also applied to the LSTM's output after every word of a few numbers (:data:`TRACED`: "seven" 7, "seven
hundred" 700, "seven hundred seventy" 770, ...), seed by seed, for the report's figure of what each
model reads part way through. A step's batch is ``batch_size`` training
numbers drawn with replacement, or, with ``batch_size`` at least the training set's size (169), the
whole training set (full-batch training). A seed succeeds when its kept model's test
MAE is below ``success_mae``.
"""

from __future__ import annotations

import numpy as np

from experiments import schema
from experiments.engine import LayerSpec, Task, Trace
from experiments.unit_options import OPTION_SCHEMA

ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
HUNDRED = "hundred"
TOKENS = (*ONES, *TENS, HUNDRED)  # 29; index + 1 is a token's row in the table (row 0: padding)
LONGEST = 4  # "three hundred forty two"
PAPER_SPLIT = (169, 200, 631)

# The numbers whose every prefix the kept models are read at (the trace): one digit's word in every
# place ("seven", "seventy", "seven hundred", ... "seven hundred seventy seven").
TRACED = (7, 70, 77, 700, 707, 777)
RECORDS_TRACE = bool(TRACED)  # every task built here carries it: a point without its trace file reruns

READOUTS = ("linear", "nac", "nalu")
AXES = {"unit": READOUTS}

TASK_SCHEMA = {
    "split_seed": schema.Integer(minimum=0),
    "embedding_size": schema.Integer(minimum=1),
    "lstm_units": schema.Integer(minimum=1),
    "success_mae": schema.Number(minimum=0, exclusive_minimum=True),
    "epsilon": OPTION_SCHEMA["epsilon"],
}


def words(number):
    """The English words of an integer 0-999, as a list of tokens."""
    if not 0 <= number <= 999 or int(number) != number:
        raise ValueError(f"{number!r} is not an integer from 0 to 999")
    number = int(number)
    if number < 20:
        return [ONES[number]]
    if number < 100:
        return [TENS[number // 10 - 2]] + ([ONES[number % 10]] if number % 10 else [])
    return [ONES[number // 100], HUNDRED] + (words(number % 100) if number % 100 else [])


def value(tokens):
    """The number that a list of tokens names (the inverse of :func:`words`)."""
    total = 0
    for token in tokens:
        if token == HUNDRED:
            total *= 100
        elif token in ONES:
            total += ONES.index(token)
        elif token in TENS:
            total += 10 * (TENS.index(token) + 2)
        else:
            raise ValueError(f"unknown token {token!r}; known: {', '.join(TOKENS)}")
    return total


def split(seed, sizes=PAPER_SPLIT):
    """(training, validation, test) numbers: 0-19 plus a random sample of 20-999 for training, with every
    token in it at least once (a missing token's first number in the rest replaces a sampled number
    that no token needs), then validation and test from the rest, in a random order fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    rest = [int(n) for n in rng.permutation(np.arange(20, 1000))]
    sampled, pool = rest[: sizes[0] - 20], rest[sizes[0] - 20 :]
    training = list(range(20)) + sampled

    def counts():
        tally = {token: 0 for token in TOKENS}
        for number in training:
            for token in set(words(number)):
                tally[token] += 1
        return tally

    for token in TOKENS:
        if counts()[token]:
            continue
        newcomer = next(n for n in pool if token in words(n))
        tally = counts()
        # the last sampled number whose every token some other training number also has
        leaving = next(n for n in reversed(sampled) if all(tally[t] > 1 for t in set(words(n))))
        sampled[sampled.index(leaving)] = newcomer
        training[training.index(leaving)] = newcomer
        pool[pool.index(newcomer)] = leaving
    validation, test = pool[: sizes[1]], pool[sizes[1] : sizes[1] + sizes[2]]
    return np.array(training), np.array(validation), np.array(test)


def encode(numbers):
    """Token rows, padded at the front with 0 to LONGEST: (len(numbers), LONGEST) float32 indices."""
    rows = np.zeros((len(numbers), LONGEST), "float32")
    for row, number in zip(rows, numbers):
        indices = [TOKENS.index(token) + 1 for token in words(number)]
        row[LONGEST - len(indices) :] = indices
    return rows


def prefix_values(number):
    """The value named after each word of ``number`` (padded at the front with NaN to LONGEST): for 770,
    [nan, 7, 700, 770]."""
    tokens = words(number)
    values = [value(tokens[: end + 1]) for end in range(len(tokens))]
    return np.array([np.nan] * (LONGEST - len(tokens)) + values, "float32")


def trace(numbers, split_sets):
    """The Trace of ``numbers``: their token rows, the value after each word, and names that say which
    set each belongs to (``split_sets``: {set name: numbers})."""

    def name(number):
        home = next((label for label, members in split_sets.items() if number in members), "unused")
        return f"{number} ({home})"

    targets = np.stack([prefix_values(n) for n in numbers])[..., None]
    return Trace(encode(numbers), targets, tuple(name(n) for n in numbers))


def token_table():
    """Row 0 (padding) all zeros, row i + 1 the one-hot code of token i: (30, 29)."""
    return np.vstack([np.zeros((1, len(TOKENS))), np.eye(len(TOKENS))]).astype("float32")


def layers(point):
    """Embedding, LSTM, read-out on the last step."""

    unit = point["unit"]
    embedding = LayerSpec("dense", point["embedding_size"], {"use_bias": False})
    lstm = LayerSpec("lstm", point["lstm_units"], recurrent=True)
    if unit == "linear":
        readout = LayerSpec("dense", 1)
    else:
        readout = LayerSpec(unit, 1)
    return [embedding, lstm, readout]


def build(point):
    """The Task of one grid point."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow

    from experiments.engine import draw_indices  # its module loads TensorFlow

    training, validation, test = split(point["split_seed"])
    training_x = encode(training)
    training_rows = tf.constant(training_x)
    training_values = tf.constant(training.astype("float32")[:, None])

    def sample(draw, batch_size):
        if batch_size >= len(training):  # full batch: every training number once, each step
            return training_rows[None], training_values[None]
        picks = draw_indices(draw, (batch_size,), len(training))
        return tf.gather(training_rows, picks), tf.gather(training_values, picks)

    def pair(numbers):
        return encode(numbers), numbers.astype("float32")[:, None]

    return Task(
        input_size=(len(TOKENS),),
        layers=layers(point),
        sample=sample,
        validation=pair(validation),
        test=pair(test),
        probe=pair(test),
        probe_x=test.astype("float64"),
        training_set=pair(training),
        table=token_table(),
        success_threshold=point["success_mae"],
        success_metric="mae",
        trace=trace(TRACED, {"training": set(training), "validation": set(validation), "test": set(test)})
        if RECORDS_TRACE
        else None,
    )
