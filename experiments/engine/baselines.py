"""The baseline layers the experiments compare the arithmetic units against.

The library (``nalu_tf``) holds the arithmetic units alone; the dense, convolution, pooling, LSTM and GRU
maths here serve only the experiments (the baselines and the MNIST tasks' CNN). They follow the same
conventions as ``nalu_tf.maths`` (shapes, stacked parameters along a leading seed axis, ``Unit`` and
``Cell`` records), so the engine treats every layer alike: ``registry.py`` holds the library's records
plus these.
"""

from __future__ import annotations

from keras import activations, ops

from nalu_tf import maths
from nalu_tf.maths import Cell, Parameter, Split, Unit


def prelu(x, alpha):
    """Parametric ReLU (He et al. 2015) with a learned slope per unit."""
    # f(x) = max(0, x) + alpha * min(0, x)
    return ops.maximum(x, 0.0) + alpha * ops.minimum(x, 0.0)


def dense(x, kernel, bias=None, activation=None, alpha=None):
    """Affine map followed by an activation: the baseline layers (linear, ReLU6, ...).

    ``activation`` is any name ``keras.activations.get`` knows, or ``"prelu"`` with its slope ``alpha``.
    """
    return dense_output(ops.matmul(x, kernel), bias, activation, alpha)


def dense_output(y, bias=None, activation=None, alpha=None):
    """A dense layer's output from its sum ``x K`` (split so that a recurrent cell can add x and h parts)."""
    # y = f(x K + b)
    if bias is not None:
        y = y + bias
    if activation == "prelu":
        return prelu(y, alpha)
    return activations.get(activation)(y)


def conv2d(x, kernel, bias=None, activation=None, stride=1):
    """2-D convolution, no padding, ``stride`` pixels between windows (1: every position).

    ``x`` is ``(..., height, width, channels)`` with any leading axes; ``kernel`` is
    ``(kh, kw, channels, filters)``, or stacked per seed ``(seeds, kh, kw, channels, filters)`` against
    ``x`` of shape ``(seeds or 1, count, height, width, channels)``: then each seed's images meet its own
    kernel in a convolution of their own (one per seed: a stack's image encoder has few seeds, and the
    backend's convolution is faster here than patches times a matrix: a 5-seed reader of two strided
    layers, 160 images, forward and backward, uncompiled, one thread, 128 -> 22 ms, 2026-12-05).
    """
    # y[i, j] = f(sum_{u, v, c} x[s i + u, s j + v, c] K[u, v, c] + b),  s = stride
    height, width, channels = x.shape[-3:]
    if len(kernel.shape) == 4:  # one kernel: an ordinary batched conv
        y = ops.conv(ops.reshape(x, (-1, height, width, channels)), kernel, strides=stride, padding="valid")
        y = ops.reshape(y, (*ops.shape(x)[:-3], *y.shape[1:]))
    else:  # seed s's images (or the shared ones) with seed s's kernel
        # unstacked, not indexed: an index's gradient is a full-size tensor per seed (2.8x the step)
        images = ops.unstack(ops.reshape(x, (x.shape[0], -1, height, width, channels)), axis=0)
        kernels = ops.unstack(kernel, axis=0)
        y = ops.stack(
            [
                ops.conv(images[0 if len(images) == 1 else seed], own, strides=stride, padding="valid")
                for seed, own in enumerate(kernels)
            ]
        )
        y = ops.reshape(y, (kernel.shape[0], *ops.shape(x)[1:-3], *y.shape[-3:]))
    if bias is not None:  # (filters,), or per seed (seeds, 1, filters)
        y = y + (
            bias
            if len(bias.shape) == 1
            else ops.reshape(bias, (bias.shape[0], *[1] * (len(y.shape) - 2), -1))
        )
    return activations.get(activation)(y)


def max_pool(x, size):
    """Non-overlapping max pooling over the last three axes ``(height, width, channels)``."""
    height, width, channels = x.shape[-3:]
    pooled = ops.max_pool(ops.reshape(x, (-1, height, width, channels)), size, strides=size, padding="valid")
    return ops.reshape(pooled, (*ops.shape(x)[:-3], height // size, width // size, channels))


def flatten(x):
    """Join the last three axes ``(height, width, channels)`` into one feature axis."""
    height, width, channels = x.shape[-3:]
    return ops.reshape(x, (*ops.shape(x)[:-3], height * width * channels))


def lstm_update(z, c):
    """The LSTM's new (h, c) from its gate pre-activations ``z = [x_t, h_{t-1}] K + b`` (order i, f, g, o)."""
    i, f, g, o = ops.split(z, 4, axis=-1)
    # c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g);  h_t = sigmoid(o) * tanh(c_t)
    c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(c), c


def gru_update(x_part, h, recurrent_kernel):
    """The GRU's new h from its input part ``x_t K + b`` and the previous h."""
    x_z, x_r, x_n = ops.split(x_part, 3, axis=-1)
    # [z, r, n]_h = h_{t-1} U
    h_z, h_r, h_n = ops.split(ops.matmul(h, recurrent_kernel), 3, axis=-1)
    z = ops.sigmoid(x_z + h_z)
    r = ops.sigmoid(x_r + h_r)
    # n = tanh(x_n + r * h_n);  h_t = z * h_{t-1} + (1 - z) * n
    n = ops.tanh(x_n + r * h_n)
    return z * h + (1.0 - z) * n


def _conv_parameters(in_features, units, kernel_size=3, **_):
    return {
        "kernel": Parameter((kernel_size, kernel_size, in_features, units), "glorot_uniform"),
        "bias": Parameter((units,), "zeros"),
    }


def _dense_parameters(in_features, units, use_bias=True, activation=None, **_):
    parameters = {"kernel": Parameter((in_features, units), "glorot_uniform")}
    if use_bias:
        parameters["bias"] = Parameter((units,), "zeros")
    if activation == "prelu":
        parameters["alpha"] = Parameter((units,), "zeros")  # Keras PReLU's default slope initialiser
    return parameters


BASELINE_UNITS: dict[str, Unit] = {
    "conv2d": Unit(  # an image encoder's layers (the MNIST tasks' CNN)
        parameters=_conv_parameters,
        forward=lambda x, p, kernel_size=3, activation=None, stride=1: conv2d(
            x, p["kernel"], p["bias"], activation, stride
        ),
        weights=lambda p: [],
        output_shape=lambda in_shape, units, kernel_size=3, stride=1, **_: (
            (in_shape[0] - kernel_size) // stride + 1,
            (in_shape[1] - kernel_size) // stride + 1,
            units,
        ),
    ),
    "max_pool": Unit(
        parameters=lambda in_features, units, **_: {},
        forward=lambda x, p, size=2: max_pool(x, size),
        weights=lambda p: [],
        output_shape=lambda in_shape, units, size=2, **_: (
            in_shape[0] // size,
            in_shape[1] // size,
            in_shape[2],
        ),
    ),
    "flatten": Unit(
        parameters=lambda in_features, units, **_: {},
        forward=lambda x, p: flatten(x),
        weights=lambda p: [],
        output_shape=lambda in_shape, units, **_: (in_shape[0] * in_shape[1] * in_shape[2],),
    ),
    "expected_digit": Unit(  # the MNIST reader's value: class probabilities (.., 10) -> sum_k k p_k
        parameters=lambda in_features, units, **_: {},
        forward=lambda x, p: ops.matmul(x, ops.reshape(ops.arange(10, dtype=x.dtype), (10, 1))),
        weights=lambda p: [],
        output_shape=lambda in_shape, units, **_: (1,),
    ),
    "dense": Unit(
        parameters=_dense_parameters,
        forward=lambda x, p, activation=None, use_bias=True: dense(
            x, p["kernel"], p.get("bias"), activation, p.get("alpha")
        ),
        weights=lambda p: [p["kernel"]],
        split=Split(
            matrices=lambda p: (p["kernel"],),
            sums=lambda x, m, **_: (ops.matmul(x, m[0]),),
            output=lambda sums, p, activation=None, use_bias=True: dense_output(
                sums[0], p.get("bias"), activation, p.get("alpha")
            ),
        ),
    ),
}


def _lstm_project(x, params):
    rows = x.shape[-1]
    return (ops.matmul(x, params["kernel"][..., :rows, :]),)


def _lstm_advance(parts, states, params):
    h, c = states
    # z = [x_t, h_{t-1}] K + b = x_t K_x + h_{t-1} K_h + b
    z = parts[0] + ops.matmul(h, params["kernel"][..., -h.shape[-1] :, :]) + params["bias"]
    h, c = lstm_update(z, c)
    return h, (h, c)


def _gru_advance(parts, states, params):
    h = gru_update(parts[0], states[0], params["recurrent_kernel"])
    return h, (h,)


BASELINE_CELLS: dict[str, Cell] = {
    "dense": maths.unit_cell(BASELINE_UNITS["dense"]),  # a simple RNN: h_t = f([x_t, h_{t-1}] K + b)
    "gru": Cell(
        parameters=lambda in_features, units, **_: {
            "kernel": Parameter((in_features, 3 * units), "glorot_uniform"),
            "recurrent_kernel": Parameter((units, 3 * units), "orthogonal"),
            "bias": Parameter((3 * units,), "zeros"),
        },
        project=lambda x, p: (ops.matmul(x, p["kernel"]) + p["bias"],),
        advance=_gru_advance,
        weights=lambda p: [p["kernel"]],
    ),
    "lstm": Cell(
        parameters=lambda in_features, units, **_: {
            "kernel": Parameter((in_features + units, 4 * units), "glorot_uniform"),
            "bias": Parameter((4 * units,), "zeros"),
        },
        project=_lstm_project,
        advance=_lstm_advance,
        weights=lambda p: [p["kernel"]],
        state_count=2,
    ),
}
