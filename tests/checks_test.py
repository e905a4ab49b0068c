"""zoo.checks and the models' constructors: bad values are refused in one clear line."""

import logging
import math
import re

import numpy as np
import pytest
import tensorflow as tf

from zoo import checks
from zoo import distributions
from zoo.models.cvae import CVAE
from zoo.data import shapes
from zoo.models.gan import DCGAN
from zoo.models.dcign import DCIGN
from zoo.models.discvae import DisCVAE
from zoo.models.vae import VAE


@pytest.mark.parametrize("check,value,error,message", [
    (checks.integer, 2.5, TypeError, r"^n must be an int; got 2\.5 \(float\)\.$"),
    (checks.integer, 2.0, TypeError, r"^n must be an int; got 2\.0 \(float\)\.$"),
    (checks.integer, True, TypeError, r"^n must be an int; got True \(bool\)\.$"),
    (checks.integer, "3", TypeError, r"^n must be an int; got '3' \(str\)\.$"),
    (checks.positive_int, 0, ValueError, r"^n must be a positive int; got 0\.$"),
    (checks.positive_int, np.bool_(True), TypeError, r"^n must be an int"),
    (checks.non_negative_int, -1, ValueError, r"^n must be an int >= 0; got -1\.$"),
    (checks.non_negative_int, 1e3, TypeError, r"^n must be an int; got 1000\.0"),
    (checks.finite_number, math.inf, ValueError, r"^n must be a finite number; got inf\.$"),
    (checks.finite_number, None, TypeError, r"^n must be a number; got None \(NoneType\)\.$"),
    (checks.finite_non_negative, math.nan, ValueError,
     r"^n must be a finite number >= 0; got nan\.$"),
    (checks.finite_non_negative, -math.inf, ValueError, r">= 0; got -inf\.$"),
    (checks.finite_non_negative, -0.5, ValueError, r">= 0; got -0\.5\.$"),
    (checks.finite_non_negative, False, TypeError, r"^n must be a number; got False \(bool\)"),
    (checks.finite_positive, 0.0, ValueError, r"^n must be a finite number > 0; got 0\.0\.$"),
    (checks.finite_positive, math.inf, ValueError, r"> 0; got inf\.$"),
])
def test_scalar_checks_refuse_in_one_line(check, value, error, message):
    with pytest.raises(error, match=message):
        check("n", value)


def test_scalar_checks_return_python_values():
    assert checks.positive_int("n", np.int64(3)) == 3
    assert type(checks.integer("n", np.int32(-2))) is int
    assert checks.non_negative_int("n", 0) == 0
    assert checks.finite_non_negative("x", np.float32(0.25)) == 0.25
    assert type(checks.finite_positive("x", 2)) is float
    assert checks.image_shape([28, np.int64(32), 1]) == (28, 32, 1)
    for bad in [(28, 28), (28, 28.5, 1), (28, 0, 1), (28, True, 1)]:
        with pytest.raises(ValueError, match=r"^image_shape must be \(height, width, channels\) "
                                             r"of positive ints; got "):
            checks.image_shape(bad)


def test_unit_float_images_scale_uint8_and_pass_floats_in_range():
    np.testing.assert_allclose(checks.unit_float_images(np.uint8([[0, 51, 255]]), "M"),
                               [[0.0, 0.2, 1.0]], rtol=1e-6)
    x = np.float64([[0.0, 0.5, 1.0]])
    np.testing.assert_array_equal(checks.unit_float_images(x, "M"), x)
    assert checks.unit_float_images(x, "M").dtype == tf.float32
    with pytest.raises(TypeError, match="float in \\[0, 1\\] or uint8; got int32"):
        checks.unit_float_images(np.int32([[0, 1]]), "M")


@pytest.mark.parametrize("values,found", [
    ([0.0, 17.0, 255.0], "0 and 255"), ([-0.5, 0.5], "-0.5 and 0.5"),
    ([0.0, np.nan, 0.5], "nan and nan|0 and 0.5"), ([0.0, np.inf], "0 and inf")])
def test_float_images_outside_the_unit_range_are_refused_eagerly(values, found):
    with pytest.raises(ValueError, match=rf"^VAE: float images must be finite and in \[0, 1\] "
                                         rf"\(divide 8-bit values by 255, or pass uint8 "
                                         rf"images\); their min and max are ({found})\.$"):
        checks.unit_float_images(np.float32([values]), "VAE")


@pytest.mark.parametrize("values,found", [([0.0, 255.0], r"\[0\] \[255\]"),
                                          ([np.nan, 0.5], r"\[\S+\] \[\S+\]")])
def test_in_a_tf_function_the_assertion_fails_in_one_clear_line(values, found):
    step = tf.function(lambda images: checks.unit_float_images(images, "DCGAN"))
    np.testing.assert_array_equal(step(np.float32([[0.0, 1.0]])), [[0.0, 1.0]])
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        step(np.float32([values]))
    lines = [line for line in str(error.value).splitlines() if "assertion failed" in line]
    assert len(lines) == 1, str(error.value)
    assert re.search(r"assertion failed: \[DCGAN: float images must be finite and in \[0, 1\] "
                     r"\(divide 8-bit values by 255, or pass uint8 images\); their min and max "
                     rf"are\] {found}", lines[0]), lines[0]


def test_fit_data_that_is_empty_is_refused_and_a_large_batch_warned_about(caplog):
    with pytest.raises(ValueError, match=r"^VAE\.fit got no training data: x has 0 examples\.$"):
        checks.check_fit_data("VAE", np.zeros((0, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="x has 0 examples"):
        checks.check_fit_data("VAE", {"image": np.zeros((0, 4, 4, 1))})
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 2), np.float32)).batch(4)
    with pytest.raises(ValueError, match=r"^DCGAN\.fit got no training data: x has 0 batches\.$"):
        checks.check_fit_data("DCGAN", empty)
    with caplog.at_level(logging.WARNING):
        checks.check_fit_data("VAE", np.zeros((10, 2)), batch_size=10)
        checks.check_fit_data("VAE", tf.data.Dataset.range(3).batch(100))
        checks.check_fit_data("VAE", iter([]))  # Unknown size: not read.
        assert not caplog.records
        checks.check_fit_data("VAE", (np.zeros((10, 2)), np.zeros(10)), batch_size=64)
        checks.check_fit_data("VAE", np.zeros((10, 2)))
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "VAE.fit: batch_size=64 is larger than the 10 examples of x, so every epoch is one "
        "batch of 10.",
        "VAE.fit: batch_size=32 (Keras' default) is larger than the 10 examples of x, so every "
        "epoch is one batch of 10."]


_GROUPS = [("shape", 1), ("scale", 1)]
_CONSTRUCTORS = {
    "VAE": lambda **kw: VAE((16, 16, 1), **{"latent_dim": 2, "base_filters": 4, **kw}),
    "CVAE": lambda **kw: CVAE((16, 16, 1), kw.pop("attribute_dim", 2),
                              **{"latent_dim": 2, "base_filters": 4, **kw}),
    "DisCVAE": lambda **kw: DisCVAE((16, 16, 1), 2, **{"base_filters": 4, **kw}),
    "DCIGN": lambda **kw: DCIGN((16, 16, 1), _GROUPS,
                                **{"dataset_factor_names": shapes.FACTOR_NAMES,
                                   "base_filters": 4, **kw}),
    "DCGAN": lambda **kw: DCGAN((16, 16, 1), **{"latent_dim": 2, "base_filters": 4, **kw}),
}


@pytest.mark.parametrize("model,argument,value,error,message", [
    ("VAE", "latent_dim", 2.5, TypeError, r"^latent_dim must be an int; got 2\.5 \(float\)\.$"),
    ("VAE", "latent_dim", True, TypeError, r"^latent_dim must be an int; got True"),
    ("VAE", "latent_dim", 0, ValueError, r"^latent_dim must be a positive int; got 0\.$"),
    ("VAE", "beta", math.nan, ValueError, r"^beta must be a finite number >= 0; got nan\.$"),
    ("VAE", "beta", math.inf, ValueError, r"^beta must be a finite number >= 0; got inf\.$"),
    ("VAE", "kl_warmup_steps", -1, ValueError, r"^kl_warmup_steps must be an int >= 0"),
    ("VAE", "kl_warmup_steps", 1e3, TypeError, r"^kl_warmup_steps must be an int; got 1000\.0"),
    ("VAE", "seed", 0.5, TypeError, r"^seed must be an int; got 0\.5"),
    ("VAE", "base_filters", 4.5, TypeError, r"^base_filters must be an int"),
    ("CVAE", "attribute_dim", 2.5, TypeError, r"^attribute_dim must be an int; got 2\.5"),
    ("CVAE", "encoder_hidden", 0, ValueError, r"^encoder_hidden must be a positive int"),
    ("CVAE", "beta", math.inf, ValueError, r"^beta must be a finite number >= 0; got inf"),
    ("DisCVAE", "foreground_dim", 2.5, TypeError, r"^foreground_dim must be an int"),
    ("DisCVAE", "background_dim", 0, ValueError, r"^background_dim must be a positive int"),
    ("DisCVAE", "gate_supervision_weight", math.nan, ValueError,
     r"^gate_supervision_weight must be a finite number >= 0; got nan\.$"),
    ("DCIGN", "intrinsic_dim", 2.5, TypeError, r"^intrinsic_dim must be an int; got 2\.5"),
    ("DCIGN", "invariance_strength", math.inf, ValueError,
     r"^invariance_strength must be a finite number >= 0; got inf\.$"),
    ("DCIGN", "minibatches", 1.5, TypeError, r"^minibatches must be an int"),
    ("DCIGN", "beta", math.nan, ValueError, r"^beta must be a finite number >= 0; got nan"),
    ("DCGAN", "latent_dim", 2.5, TypeError, r"^latent_dim must be an int; got 2\.5"),
    ("DCGAN", "d_steps", 0, ValueError, r"^d_steps must be a positive int; got 0\.$"),
    ("DCGAN", "ema_decay", math.nan, ValueError, r"^ema_decay must be a finite number >= 0"),
    ("DCGAN", "ema_decay", 1.0, ValueError, r"^ema_decay must be in \[0, 1\); got 1\.0\.$"),
    ("DCGAN", "seed", True, TypeError, r"^seed must be an int; got True"),
    ("DCGAN", "base_filters", 0, ValueError, r"^base_filters must be a positive int"),
])
def test_model_constructors_refuse_bad_arguments_by_name(model, argument, value, error, message):
    with pytest.raises(error, match=message):
        _CONSTRUCTORS[model](**{argument: value})


@pytest.mark.parametrize("scale", [math.inf, math.nan, 0.0, -1.0])
def test_a_fixed_variance_gaussian_needs_a_finite_positive_scale(scale):
    with pytest.raises(ValueError, match=r"^scale must be a finite number > 0; got "):
        distributions.FixedVarianceGaussian(scale)
    with pytest.raises(ValueError, match=r"^min_scale must be a finite number >= 0"):
        distributions.Gaussian(min_scale=math.inf)


@pytest.mark.parametrize("model", ["VAE", "CVAE", "DisCVAE", "DCIGN"])
@pytest.mark.parametrize("network", ["conv", "coord"])
def test_convolutional_networks_refuse_non_square_images_by_name(model, network):
    with pytest.raises(ValueError, match=r"^The convolutional networks need square images "
                                         r"\(height == width\); got image_shape \(16, 32, 1\): "
                                         r"crop or resize to a square, or use network='mlp'\.$"):
        _non_square(model, network)


def _non_square(model, network):
    shape = (16, 32, 1)
    if model == "VAE":
        return VAE(shape, latent_dim=2, network=network, base_filters=4)
    if model == "CVAE":
        return CVAE(shape, 2, latent_dim=2, network=network, base_filters=4)
    if model == "DisCVAE":
        return DisCVAE(shape, 2, network=network, base_filters=4)
    return DCIGN(shape, _GROUPS, dataset_factor_names=shapes.FACTOR_NAMES, network=network,
                 base_filters=4)


def test_the_mlp_networks_support_non_square_images():
    model = VAE((12, 20, 1), latent_dim=2, network="mlp", likelihood="gaussian")
    x = np.random.default_rng(0).uniform(size=(3, 12, 20, 1)).astype(np.float32)
    assert model.reconstruct(x).shape == (3, 12, 20, 1)
    assert model.sample(2).shape == (2, 12, 20, 1)
    assert np.all(np.isfinite(model.log_likelihood(x, num_samples=3)))
