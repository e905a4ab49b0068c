"""The latent-space tools of every VAE: interpolations, traversals, attribute vectors."""

import keras
import numpy as np
import pytest

from zoo import networks
from zoo.data import shapes
from zoo.metrics import attributes as attribute_metrics
from zoo.models import latent_tools
from zoo.models.cvae import CVAE
from zoo.models.vae import VAE

RNG = np.random.default_rng(7)
SHAPE = (16, 16, 1)


def _images(count, shape=SHAPE):
    return RNG.uniform(size=(count, *shape)).astype(np.float32)


def _vae(latent_dim=3, **kwargs):
    return VAE(SHAPE, latent_dim=latent_dim, base_filters=4, likelihood="gaussian_fixed",
               **kwargs)


def test_linear_midpoint_is_the_mean_and_slerp_matches_the_formula():
    z_a = np.array([[3.0, 0.0, 0.0], [1.0, 2.0, -1.0]], np.float32)
    z_b = np.array([[0.0, 3.0, 0.0], [-2.0, 0.5, 1.0]], np.float32)
    linear = latent_tools.interpolation_codes(z_a, z_b, steps=3, method="linear")
    assert linear.shape == (2, 3, 3)
    np.testing.assert_allclose(linear[:, 1], (z_a + z_b) / 2, rtol=1e-6)
    spherical = latent_tools.interpolation_codes(z_a, z_b, steps=3, method="spherical")
    # Orthogonal codes of norm 3: the midpoint stays on the sphere, at 45 degrees.
    np.testing.assert_allclose(spherical[0, 1], [3 / np.sqrt(2), 3 / np.sqrt(2), 0], rtol=1e-6)
    assert np.linalg.norm(linear[0, 1]) == pytest.approx(3 / np.sqrt(2), rel=1e-6)
    # A hand slerp of the second pair at t = 0.5.
    a, b = z_a[1].astype(np.float64), z_b[1].astype(np.float64)
    theta = np.arccos(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    hand = (np.sin(theta / 2) * a + np.sin(theta / 2) * b) / np.sin(theta)
    np.testing.assert_allclose(spherical[1, 1], hand, rtol=1e-5)
    for path in (linear, spherical):  # The ends are the codes themselves, exactly.
        np.testing.assert_array_equal(path[:, 0], z_a)
        np.testing.assert_array_equal(path[:, -1], z_b)


def test_slerp_of_parallel_or_zero_codes_falls_back_to_linear():
    z_a = np.array([[1.0, 2.0], [0.0, 0.0]], np.float32)
    z_b = np.array([[2.0, 4.0], [1.0, 1.0]], np.float32)
    np.testing.assert_allclose(
        latent_tools.interpolation_codes(z_a, z_b, 5, "spherical"),
        latent_tools.interpolation_codes(z_a, z_b, 5, "linear"), rtol=1e-6)


@pytest.mark.parametrize("steps,method,message", [
    (8, "cubic", "method='cubic' is not allowed; expected one of linear, spherical"),
    (1, "linear", "steps=1 is not allowed; expected an int >= 2"),
    (2.5, "linear", "steps=2.5 is not allowed; expected an int >= 2"),
])
def test_bad_interpolations_name_the_value_and_what_is_allowed(steps, method, message):
    with pytest.raises(ValueError, match=message):
        latent_tools.interpolation_codes(np.zeros((1, 2)), np.ones((1, 2)), steps, method)
    with pytest.raises(ValueError, match=message):
        _vae().interpolate(_images(1), _images(1), steps, method)


@pytest.mark.parametrize("method", latent_tools.INTERPOLATIONS)
def test_interpolation_ends_are_the_two_reconstructions(method):
    model = _vae(latent_dim=4)
    x_a, x_b = _images(3), _images(3)
    images = model.interpolate(x_a, x_b, steps=5, method=method)
    assert images.shape == (3, 5, *SHAPE)
    np.testing.assert_allclose(images[:, 0], model.reconstruct(x_a), atol=1e-5)
    np.testing.assert_allclose(images[:, -1], model.reconstruct(x_b), atol=1e-5)
    assert np.abs(images[:, 2] - images[:, 0]).max() > 1e-4  # The middle is elsewhere.


def test_cvae_interpolates_with_the_first_inputs_attributes():
    model = CVAE(SHAPE, attribute_dim=2, latent_dim=3, base_filters=4, encoder_hidden=8)
    x_a, x_b = _images(3), _images(3)
    y_a = np.eye(2, dtype=np.float32)[[0, 1, 0]]
    y_b = 1.0 - y_a
    images = model.interpolate((x_a, y_a), {"image": x_b, "attributes": y_b}, steps=4,
                               method="spherical")
    np.testing.assert_allclose(images[:, 0], model.reconstruct(x_a, y_a), atol=1e-5)
    end = model.decode(model.posterior_code(model.unpack((x_b, y_b))), y_a)
    np.testing.assert_allclose(images[:, -1], end, atol=1e-5)


def test_traversal_codes_change_only_the_chosen_dimension():
    code = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
    codes = latent_tools.traversal_codes(code, [2, 0], [-1.0, 0.0, 3.0])
    assert codes.shape == (2, 3, 4)
    for row, dim in enumerate([2, 0]):
        np.testing.assert_array_equal(codes[row, :, dim], [-1.0, 0.0, 3.0])
        others = np.delete(codes[row], dim, axis=1)
        np.testing.assert_array_equal(others, np.broadcast_to(np.delete(code, dim), (3, 3)))
    with pytest.raises(ValueError, match=r"dims must be latent dimensions in \[0, 4\)"):
        latent_tools.traversal_codes(code, [4], [0.0])


def _controlled_vae(mean_bias):
    """A VAE whose posterior means are mean_bias plus a small image term, scales ~0.3-1."""
    latent_dim = len(mean_bias)
    encoder = networks.mlp_encoder(SHAPE, 2 * latent_dim, hidden=())
    kernel = RNG.normal(scale=0.01, size=(np.prod(SHAPE), 2 * latent_dim))
    raw_scale = np.linspace(-1.0, 0.5, latent_dim)
    encoder.layers[-1].set_weights([kernel, np.concatenate([mean_bias, raw_scale])])
    return _vae(latent_dim=latent_dim, encoder=encoder, prior="learned_gaussian")


def test_kl_per_dimension_is_the_closed_form_and_ranks_the_traversal_rows():
    model = _controlled_vae(np.array([0.5, 0.0, 3.0, -1.5], np.float32))
    x = _images(6)
    mean, scale = (np.asarray(v, np.float64) for v in model.encode(x))
    hand = np.mean(0.5 * (scale ** 2 + mean ** 2 - 1.0) - np.log(scale), axis=0)
    kl = model.mean_kl_per_dimension(x)
    np.testing.assert_allclose(kl, hand, rtol=1e-4)
    order = [2, 3, 0, 1]
    np.testing.assert_array_equal(np.argsort(-kl), order)
    np.testing.assert_allclose(model.traverse(x), model.traverse(x, dims=order), atol=1e-6)


def test_traversal_values_are_in_prior_units_and_decode_the_traversal_codes():
    model = _controlled_vae(np.array([0.5, 0.0, 3.0], np.float32))
    model.prior.loc.assign([1.0, -2.0, 0.5])
    model.prior.raw_scale.assign([0.0, 1.0, 2.0])
    std = np.asarray(model.prior.distribution().stddev())
    x, values = _images(4), np.array([-1.0, 0.0, 2.0], np.float32)
    images = model.traverse(x, dims=[1, 2], values=values)
    assert images.shape == (2, 3, *SHAPE)
    code = np.asarray(model.posterior_code(model.unpack(x[:1])))[0]
    swept = np.stack([[-2.0, 0.5][i] + values * std[d] for i, d in enumerate([1, 2])])
    codes = latent_tools.traversal_codes(code, [1, 2], swept)
    np.testing.assert_allclose(images.reshape(6, *SHAPE), model.decode(codes.reshape(6, 3)),
                               atol=1e-6)
    assert model.traverse(x).shape == (3, 7, *SHAPE)  # All dimensions, 7 default values.


def test_attribute_vector_is_the_difference_of_mean_codes():
    model = _vae(latent_dim=3)
    x = _images(7)
    has = np.array([1, 0, 0, 1, 1, 0, 0], bool)
    codes = np.asarray(model.posterior_code(model.unpack(x)))
    vector = model.attribute_vector(x, has)
    np.testing.assert_allclose(vector, codes[has].mean(0) - codes[~has].mean(0), atol=1e-6)
    moved = model.add_attribute_vector(x[:2], vector, strengths=(0, 1.5))
    assert moved.shape == (2, 2, *SHAPE)
    np.testing.assert_allclose(moved[:, 0], model.reconstruct(x[:2]), atol=1e-5)
    np.testing.assert_allclose(moved[:, 1], model.decode(codes[:2] + 1.5 * vector), atol=1e-5)
    with pytest.raises(ValueError, match="got 0 with and 7 without"):
        model.attribute_vector(x, np.zeros(7, bool))


def test_labelled_attributes_threshold_attributes_or_one_column_per_class():
    names, has = latent_tools.labelled_attributes(
        {"attributes": np.array([[0.9, 0.2], [0.5, 0.7]])}, names=("smiling", "young"))
    assert names == ("smiling", "young")
    np.testing.assert_array_equal(has, [[True, False], [False, True]])
    names, has = latent_tools.labelled_attributes({"label": np.array([2, 0, 2])},
                                                  num_classes=4)
    assert names == ("0", "1", "2", "3")
    np.testing.assert_array_equal(has, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]])
    with pytest.raises(ValueError, match="'attributes' or 'label'"):
        latent_tools.labelled_attributes({"image": np.zeros(3)})


def _probability(classifier, images, column):
    """The classifier's mean probability of one attribute column (softmax within its group)."""
    logits = np.asarray(classifier(images))
    group = next(list(g) for g in classifier.groups if column in g)
    if len(group) == 1:
        return float(np.mean(1.0 / (1.0 + np.exp(-logits[:, column]))))
    shifted = np.exp(logits[:, group] - logits[:, group].max(axis=1, keepdims=True))
    return float(np.mean(shifted[:, group.index(column)] / shifted.sum(axis=1)))


def test_a_colour_vector_makes_the_classifier_see_that_colour_on_shapes():
    """A tiny VAE, 155 steps on 2,000 shapes at 32x32: adding the vector of a colour
    (strength 2) to shapes of the other colours makes the attribute classifier read it."""
    batch = next(iter(shapes.load("train", 32, num_examples=2000).dataset.batch(2000)))
    images = batch["image"].numpy().astype(np.float32) / 255.0
    names, has = latent_tools.labelled_attributes(
        {"attributes": batch["attributes"].numpy()}, shapes.ATTRIBUTE_NAMES)
    classifier = attribute_metrics.train_classifier(images, has.astype(np.float32), epochs=2)
    keras.utils.set_random_seed(0)
    shape, latent_dim = images.shape[1:], 8
    model = VAE(shape, latent_dim=latent_dim, likelihood="gaussian_fixed",
                encoder=networks.mlp_encoder(shape, 2 * latent_dim, hidden=(256,)),
                decoder=networks.mlp_decoder(latent_dim, shape, 3, hidden=(256,)))
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(images, epochs=5, batch_size=64, verbose=0)  # 155 steps.
    for colour in ("red", "green", "blue"):
        column = names.index(colour)
        vector = model.attribute_vector(images, has[:, column])
        others = images[~has[:, column]][:64]
        moved = model.add_attribute_vector(others, vector, strengths=(0, 2))
        before, after = (_probability(classifier, moved[:, i], column) for i in (0, 1))
        assert before < 0.4 and after > before + 0.4, (colour, before, after)
