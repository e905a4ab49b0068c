"""The VQ-VAE: the quantiser's terms and gradients against hand values, EMA against numpy."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.data import digits
from zoo.data import pipeline
from zoo.layers.quantizer import VectorQuantizer
from zoo.metrics import codebook
from zoo.models.vqvae import VQVAE

_CODES = np.array([[0.0, 0.0], [1.0, 1.0], [-2.0, 3.0]], np.float32)
# One example, a 1x2 grid of 2-d encodings: nearest codes 0 and 1.
_ENCODINGS = np.array([[[[0.2, -0.1], [0.9, 1.3]]]], np.float32)


def _quantizer(**kwargs):
    layer = VectorQuantizer(3, 2, **kwargs)
    layer.build((None, 1, 2, 2))
    layer.codebook.assign(_CODES)
    if layer.ema:
        layer.ema_sums.assign(_CODES)
    return layer


def test_codes_codebook_and_commitment_terms_are_the_hand_values():
    out = _quantizer()(tf.constant(_ENCODINGS))
    np.testing.assert_array_equal(out["indices"].numpy(), [[[0, 1]]])
    np.testing.assert_allclose(out["quantized"].numpy(), [[[[0, 0], [1, 1]]]])
    # ||z_e - e||^2 = (0.04 + 0.01) + (0.01 + 0.09) = 0.15, for both terms.
    np.testing.assert_allclose(out["codebook"].numpy(), [0.15], rtol=1e-5)
    np.testing.assert_allclose(out["commitment"].numpy(), [0.15], rtol=1e-5)


def test_the_codebook_term_moves_only_codes_and_the_commitment_only_encodings():
    layer = _quantizer()
    encodings = tf.constant(_ENCODINGS)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(encodings)
        out = layer(encodings)
    d_code = tape.gradient(out["codebook"], [encodings, layer.codebook])
    d_commit = tape.gradient(out["commitment"], [encodings, layer.codebook])
    assert d_code[0] is None or not np.any(d_code[0].numpy())
    expected = np.zeros_like(_CODES)
    expected[0] = 2 * (_CODES[0] - _ENCODINGS[0, 0, 0])
    expected[1] = 2 * (_CODES[1] - _ENCODINGS[0, 0, 1])
    np.testing.assert_allclose(tf.convert_to_tensor(d_code[1]).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(d_commit[0].numpy(), 2 * (_ENCODINGS - [[[[0, 0], [1, 1]]]]),
                               rtol=1e-5)
    assert d_commit[1] is None or not np.any(tf.convert_to_tensor(d_commit[1]).numpy())


def test_the_straight_through_gradient_passes_the_decoders_gradient_unchanged():
    layer = _quantizer()
    encodings = tf.constant(_ENCODINGS)
    weights = tf.constant(np.random.default_rng(0).normal(size=_ENCODINGS.shape), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(encodings)
        quantized = layer(encodings)["quantized"]
        tape.watch(quantized)
        decoded = tf.reduce_sum(tf.sin(quantized) * weights)  # Any decoder loss.
    np.testing.assert_allclose(tape.gradient(decoded, encodings).numpy(),
                               tape.gradient(decoded, quantized).numpy(), rtol=1e-6)


def test_one_ema_update_matches_numpy():
    gamma, eps = 0.9, 1e-5
    layer = _quantizer(ema=True, decay=gamma, epsilon=eps)
    layer(tf.constant(_ENCODINGS), training=True)
    flat = _ENCODINGS.reshape(-1, 2)
    counts = 0.9 * np.ones(3) + 0.1 * np.array([1.0, 1.0, 0.0])
    sums = gamma * _CODES + (1 - gamma) * np.stack([flat[0], flat[1], [0, 0]])
    total = counts.sum()
    smoothed = (counts + eps) / (total + 3 * eps) * total
    np.testing.assert_allclose(layer.ema_counts.numpy(), counts, rtol=1e-6)
    np.testing.assert_allclose(layer.ema_sums.numpy(), sums, rtol=1e-6)
    np.testing.assert_allclose(layer.codebook.numpy(), sums / smoothed[:, None], rtol=1e-5)
    assert not layer.codebook.trainable


def test_a_dead_code_restarts_at_an_encoder_output_and_live_codes_do_not():
    layer = _quantizer(ema=True, decay=0.5, restart_threshold=0.75)
    layer(tf.constant(_ENCODINGS), training=True)  # Code 2 is unused: count 0.5 < 0.75.
    restarted = layer.codebook.numpy()[2]
    assert any(np.allclose(restarted, row) for row in _ENCODINGS.reshape(-1, 2))
    assert layer.ema_counts.numpy()[2] == 1.0
    assert layer.ema_counts.numpy()[0] == pytest.approx(0.5 + 0.5)


def test_usage_counts_perplexity_and_share_of_codes_used():
    assert codebook.usage([5, 5, 0, 0]) == pytest.approx({"perplexity": 2.0, "codes_used": 0.5})
    perplexity, used = VectorQuantizer.usage(tf.constant([[0, 1], [2, 3]]), 4)
    assert float(perplexity) == pytest.approx(4.0) and float(used) == 1.0
    with pytest.raises(ValueError, match="at least one"):
        codebook.usage([0, 0])


@pytest.mark.parametrize("kwargs, message", [
    ({"decay": 1.0}, "decay=1.0 must be in"), ({"num_codes": 0}, "num_codes"),
    ({"restart_threshold": -1.0}, "restart_threshold")])
def test_bad_quantizer_arguments_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VectorQuantizer(**{"num_codes": 4, "embedding_dim": 2, **kwargs})


def _tiny(**kwargs):
    return VQVAE((8, 8, 1), num_codes=6, embedding_dim=3, filters=4, residual_blocks=1,
                 **kwargs)


def test_the_uniform_prior_bound_is_reconstruction_minus_positions_times_log_k():
    model = _tiny()
    images = tf.cast(tf.random.stateless_uniform([3, 8, 8, 1], [1, 2]) > 0.5, tf.float32)
    terms = model.elbo_terms({"images": images})
    np.testing.assert_allclose(terms["kl"].numpy(), [4 * math.log(6)] * 3, rtol=1e-6)
    np.testing.assert_allclose(terms["elbo"].numpy(),
                               terms["reconstruction"].numpy() - 4 * math.log(6), rtol=1e-6)
    assert model.encode_indices(images).shape == (3, 2, 2)


@pytest.mark.parametrize("ema", [True, False])
def test_a_short_fit_lowers_the_loss_and_uses_several_codes(ema):
    keras.utils.set_random_seed(0)
    model = VQVAE((28, 28, 1), num_codes=16, embedding_dim=4, filters=16, ema=ema)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    data = pipeline.make_dataset(digits.load("train"), 32, "binary", training=True, seed=0)
    history = model.fit(data, epochs=3, steps_per_epoch=15, verbose=0).history
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert history["perplexity"][-1] > 2.0


def test_decoding_refuses_indices_outside_the_codebook():
    model = _tiny()
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be in \[0, 6\)"):
        model.decode_indices(tf.constant([[[0, 1], [2, 6]]]))


def test_save_and_load_keeps_codes_reconstructions_and_the_ema_state(tmp_path):
    model = _tiny(ema=True)
    images = tf.cast(tf.random.stateless_uniform([4, 8, 8, 1], [3, 4]) > 0.5, tf.float32)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(images, epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "vqvae.keras")
    loaded = keras.models.load_model(tmp_path / "vqvae.keras")
    np.testing.assert_array_equal(loaded.encode_indices(images), model.encode_indices(images))
    np.testing.assert_allclose(loaded.reconstruct(images), model.reconstruct(images), atol=1e-6)
    np.testing.assert_allclose(loaded.quantizer.ema_counts.numpy(),
                               model.quantizer.ema_counts.numpy())
