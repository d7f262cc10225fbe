"""The library's edges: the input each layer and cell accepts, a ramp with nothing to ramp, and the
Example section of every public class's docstring, run as written."""

import inspect
import textwrap

import keras
import numpy as np
import pytest

import nalu_tf
from nalu_tf.cells import CELLS
from nalu_tf.layers import LAYERS

PUBLIC_CLASSES = [*LAYERS.values(), *CELLS.values(), nalu_tf.RegularizationRamp]


def example_of(public_class):
    """The code of the ``Example:`` section of a class's docstring (the indented block below it)."""
    lines = inspect.getdoc(public_class).splitlines()
    assert "Example:" in lines, f"{public_class.__name__} has no Example: section"
    block = []
    for line in lines[lines.index("Example:") + 1 :]:
        if line and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip()


def test_every_public_layer_cell_and_callback_has_an_example():
    assert {cls.__name__ for cls in PUBLIC_CLASSES} >= {
        "NAC", "NALU", "NAU", "NMU", "INALU", "RealNPU",
        "NACCell", "NALUCell", "NAUCell", "NMUCell", "INALUCell", "RealNPUCell",
    }  # fmt: skip
    assert all(example_of(cls) for cls in PUBLIC_CLASSES)


@pytest.mark.parametrize("public_class", PUBLIC_CLASSES, ids=lambda cls: cls.__name__)
def test_docstring_example_runs_as_written(public_class):
    code = example_of(public_class)
    assert f"nalu_tf.{public_class.__name__}(" in code  # the example uses the class it documents
    exec(compile(code, f"<{public_class.__name__} example>", "exec"), {})


@pytest.mark.parametrize("layer_class", LAYERS.values(), ids=lambda cls: cls.__name__)
def test_a_rank_1_input_is_a_keras_error_as_for_dense(layer_class):
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        layer_class(2)(np.ones(3, "float32"))


@pytest.mark.parametrize("layer_class", LAYERS.values(), ids=lambda cls: cls.__name__)
def test_a_built_layer_rejects_another_width_naming_both(layer_class):
    layer = layer_class(2)
    layer(np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 3.*\(1, 4\)"):
        layer(np.ones((1, 4), "float32"))
    assert layer(np.ones((5, 2, 3), "float32")).shape == (5, 2, 2)  # more leading axes stay allowed


@pytest.mark.parametrize("cell_class", CELLS.values(), ids=lambda cls: cls.__name__)
def test_a_cell_on_a_rank_2_input_says_the_shape_it_expects(cell_class):
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        keras.layers.RNN(cell_class(2))(np.ones((4, 3), "float32"))
    with pytest.raises(ValueError, match=r"\(batch, time, features\).*shape \(4, 3\) and no state"):
        cell_class(2)(np.ones((4, 3), "float32"))  # called as a layer, without its state


def test_a_cell_reused_on_another_width_is_a_keras_error():
    cell = nalu_tf.NAUCell(2)
    rnn = keras.layers.RNN(cell)
    assert rnn(np.ones((1, 5, 3), "float32")).shape == (1, 2)
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        keras.layers.RNN(cell)(np.ones((1, 5, 4), "float32"))


@pytest.mark.parametrize("with_input", [True, False], ids=["functional", "built-on-first-batch"])
def test_a_ramp_with_nothing_to_ramp_names_the_units_that_have_a_regulariser(with_input):
    head = [keras.Input((2,))] if with_input else []
    model = keras.Sequential([*head, nalu_tf.NAC(2), nalu_tf.NALU(1)])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    with pytest.raises(
        ValueError, match="no layer or cell of the model has a regulariser.*NAU, NMU and INALU"
    ):
        model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0, callbacks=[nalu_tf.RegularizationRamp(1.0)])


def test_a_ramp_sees_the_regulariser_of_a_model_built_on_its_first_batch():
    model = keras.Sequential([nalu_tf.NAC(2), nalu_tf.NAU(1)])  # no Input: built when fit starts
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    ramp = nalu_tf.RegularizationRamp(2.0)
    model.fit(np.ones((4, 2)), np.ones((4, 1)), batch_size=2, verbose=0, callbacks=[ramp])
    assert [float(weight.numpy()) for weight in ramp.regularization_weights()] == [2.0]
