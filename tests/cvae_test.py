"""The CVAE: conditional ELBO pieces, conditioning, user operations, training, saving, export."""

import os
import socket

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo import export
from zoo import random as zoo_random
from zoo.models.cvae import CVAE
from zoo.models.cvae import minimise_with_adam
from zoo.data import digits
from zoo.data import pipeline
from zoo.data import catalog
from zoo.data.source import Source
from zoo.metrics import completion as completion_metrics
from zoo.metrics import likelihood as likelihood_metrics
from zoo.tasks import cvae as cvae_task

RNG = np.random.default_rng(2)
SHAPE = (16, 16, 3)


def _batch(size=3, shape=SHAPE, attribute_dim=4):
    images = RNG.uniform(size=(size, *shape)).astype(np.float32)
    attributes = (RNG.uniform(size=(size, attribute_dim)) > 0.5).astype(np.float32)
    return images, attributes


def _model(**kwargs):
    kwargs = {"latent_dim": 5, "base_filters": 6, "encoder_hidden": 7,
              "likelihood": "gaussian", **kwargs}
    return CVAE(SHAPE, 4, **kwargs)


@pytest.mark.parametrize("network,shape", [("conv", (16, 16, 3)), ("mlp", (28, 28, 1)),
                                           ("coord", (16, 16, 3))])
def test_methods_have_the_documented_shapes(network, shape):
    model = CVAE(shape, 4, latent_dim=5, network=network, base_filters=6, encoder_hidden=7)
    x, y = _batch(3, shape)
    mean, scale = model.encode(x, y)
    assert mean.shape == (3, 5) and np.all(scale.numpy() > 0)
    assert model.reconstruct(x, y).shape == (3, *shape)
    assert model.generate(y).shape == (3, *shape)
    assert model.manipulate(x, y, 1, 1.0).shape == (3, *shape)
    assert model.progression(y, 2, [0.0, 0.5, 1.0, 1.5]).shape == (3, 4, *shape)
    assert model.log_likelihood((x, y), num_samples=4, chunk_size=3).shape == (3,)
    grids = model.summary_images({"image": x, "attributes": y})
    assert {k: tuple(v.shape) for k, v in grids.items()} == {
        "reconstructions": (6, *shape), "samples_by_attribute": (9, *shape),
        "progression": (9, *shape)}


def test_batches_without_attributes_fail_clearly():
    model = _model()
    x, y = _batch()
    with pytest.raises(ValueError, match="needs attribute labels.*'attributes'.*got keys"):
        model.unpack({"image": x, "label": np.zeros(3)})
    with pytest.raises(ValueError, match="needs attribute labels"):
        model.reconstruct(x)
    with pytest.raises(ValueError, match=r"expects attributes of shape \[batch, 4\]; got \[3, 5\]"):
        model.generate(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="needs attributes"):
        model.sample(2)
    source = Source(name="folder:x", dataset=tf.data.Dataset.from_tensors({"image": x[0]}),
                    image_shape=SHAPE)
    with pytest.raises(ValueError, match="dataset 'folder:x' has no attribute labels; use "
                                         "shapes, digits or celeb_a"):
        cvae_task.CVAETask(cvae_task.CVAEConfig(dataset="folder:x")).build_model(source)
    assert model.unpack((x, y))["attributes"].shape == (3, 4)
    assert model.unpack({"images": x, "attributes": y})["images"].shape == (3, *SHAPE)


def test_conditional_elbo_pieces_match_hand_computations():
    model = _model(beta=2.5)
    x, y = _batch()
    inputs = model.unpack((x, y))
    terms = model.elbo_terms(inputs, zoo_random.step_seed(0, 3))
    z = terms["latents"].numpy()
    # The decoder sees [z, y].
    params = model.decoder(np.concatenate([z, y], axis=1)).numpy()
    np.testing.assert_allclose(terms["params"], params, rtol=1e-5, atol=1e-6)
    loc, raw = params[..., :3], params[..., 3:]
    sigma = 1e-3 + np.log1p(np.exp(raw))
    log_px = np.sum(-0.5 * np.log(2 * np.pi * sigma ** 2) - (x - loc) ** 2 / (2 * sigma ** 2),
                    axis=(1, 2, 3))
    np.testing.assert_allclose(terms["reconstruction"], log_px, rtol=1e-4)
    # The encoder sees [x, y]: its output parameterises q(z | x, y).
    raw_posterior = model.encoder([x, y]).numpy()
    mu = raw_posterior[:, :5]
    s = 1e-3 + np.log1p(np.exp(raw_posterior[:, 5:]))
    np.testing.assert_allclose(terms["posterior"].mean(), mu, rtol=1e-5, atol=1e-6)
    kl = 0.5 * np.sum(mu ** 2 + s ** 2 - 1 - np.log(s ** 2), axis=-1)
    np.testing.assert_allclose(terms["kl"], kl, rtol=1e-4)
    np.testing.assert_allclose(terms["elbo"], log_px - kl, rtol=1e-4)
    np.testing.assert_allclose(model.per_example_loss(terms, training=False),
                               -log_px + 2.5 * kl, rtol=1e-4)
    noise = zoo_random.global_batch_normal([3, 5], zoo_random.step_seed(0, 3)).numpy()
    np.testing.assert_allclose(z, mu + s * noise, rtol=1e-5, atol=1e-6)


def test_attributes_move_the_posterior_mean_not_its_scale():
    model = _model()
    x, y = _batch()
    mean, scale = model.encode(x, y)
    other_mean, other_scale = model.encode(x, 1.0 - y)
    assert not np.allclose(mean, other_mean)
    np.testing.assert_allclose(scale, other_scale)


def test_changing_y_changes_the_output_and_the_same_y_and_z_give_the_same():
    model = _model()
    _, y = _batch()
    z = RNG.normal(size=(3, 5)).astype(np.float32)
    first = model.generate(y, z).numpy()
    np.testing.assert_array_equal(first, model.generate(y, z).numpy())
    np.testing.assert_array_equal(model.generate(y, seed=4), model.generate(y, seed=4))
    assert not np.allclose(model.generate(y, seed=4), model.generate(y, seed=5))
    changed = model.generate(CVAE.set_attribute(y, 1, 1.0 - y[:, 1]), z).numpy()
    assert np.all(np.abs(changed - first).max(axis=(1, 2, 3)) > 1e-4)


def test_manipulation_and_progression_keep_z_and_change_one_attribute():
    model = _model(attribute_names=("a", "b", "c", "d"))
    x, y = _batch()
    mean, _ = model.encode(x, y)
    target = y.copy()
    target[:, 2] = 0.75
    np.testing.assert_allclose(model.manipulate(x, y, "c", 0.75), model.decode(mean, target),
                               rtol=1e-5, atol=1e-6)
    z = RNG.normal(size=(3, 5)).astype(np.float32)
    values = np.array([0.0, 0.3, 1.0], np.float32)
    sweep = model.progression(y, 3, values, z).numpy()
    for column, value in enumerate(values):
        target = y.copy()
        target[:, 3] = value
        np.testing.assert_allclose(sweep[:, column], model.generate(target, z), rtol=1e-5,
                                   atol=1e-6)
    with pytest.raises(ValueError, match="Unknown attribute 'e'"):
        model.manipulate(x, y, "e", 1.0)


def test_a_subset_of_the_data_attributes_is_picked_by_name():
    model = _model(attribute_names=("b", "d", "e", "g"),
                   data_attribute_names=("a", "b", "c", "d", "e", "f", "g"))
    full = np.arange(14, dtype=np.float32).reshape(2, 7)
    np.testing.assert_array_equal(model.select_attributes(full), full[:, [1, 3, 4, 6]])
    np.testing.assert_array_equal(model.select_attributes(full[:, :4]), full[:, :4])
    config = cvae_task.CVAEConfig(dataset="shapes", attributes=("red", "x"))
    source = Source(name="shapes", dataset=None, image_shape=SHAPE,
                    attribute_names=("circle", "red", "large"))
    with pytest.raises(ValueError, match=r"has no attributes \['x'\]"):
        cvae_task.attribute_selection(config, source)
    config.attributes = ("large", "circle")
    assert cvae_task.attribute_selection(config, source) == ("circle", "large")


def test_completion_keeps_the_observed_pixels_and_lowers_the_energy():
    model = _model()
    x, y = _batch()
    known = np.ones((3, *SHAPE[:2], 1), np.float32)
    known[:, 4:12, 4:12] = 0.0
    inputs = model.unpack((x, y))
    prior = model.prior.distribution()

    def energy(latents):
        params = model.decode_params(latents, inputs)
        return -(model.masked_log_prob(params, x, known) + prior.log_prob(latents)).numpy()

    completed = model.complete(x, y, known, steps=30, learning_rate=0.05).numpy()
    np.testing.assert_array_equal(completed[known[..., 0] == 1], x[known[..., 0] == 1])
    filled = completed[known[..., 0] == 0]
    assert not np.allclose(filled, x[known[..., 0] == 0])
    start = model.encode(x, y)[0]
    end = minimise_with_adam(lambda z: -(model.masked_log_prob(
        model.decode_params(z, inputs), x, known) + prior.log_prob(z)), start, 30, 0.05)
    assert np.all(energy(end) < energy(start))
    np.testing.assert_allclose(
        model.masked_log_prob(model.decode_params(start, inputs), x, np.ones_like(known)),
        model.likelihood.log_prob(model.decode_params(start, inputs), x), rtol=1e-5)


class _Completes:
    """A stand-in model: completion returns the true images, reconstruction its input."""

    def __init__(self, truth):
        self.truth, self.calls = truth, []

    def complete(self, images, attributes, known_mask, steps):
        self.calls.append((np.array(images), np.array(known_mask), steps))
        return tf.constant(self.truth)

    def reconstruct(self, images, attributes):
        return tf.constant(images)


def test_completion_scores_the_hidden_centre_only():
    known = completion_metrics.centre_occlusion((16, 12, 3), 2)
    assert known.shape == (2, 16, 12, 1)
    expected = np.ones((16, 12))
    expected[4:12, 3:9] = 0
    np.testing.assert_array_equal(known[1, ..., 0], expected)
    x, y = _batch(5)
    model = _Completes(x)
    scores, panels = completion_metrics.completion_scores(model, x, y, steps=7)
    occluded, mask, steps = model.calls[0]
    assert steps == 7 and mask.shape == (5, 16, 16, 1)
    hole = mask[..., 0] == 0
    np.testing.assert_array_equal(occluded[~hole], x[~hole])
    np.testing.assert_array_equal(occluded[hole], 0.5)
    assert scores["completion_mse"] == 0.0 and scores["completion_examples"] == 5
    np.testing.assert_allclose(scores["completion_mse_reconstruction"],
                               np.mean((x[hole] - 0.5) ** 2), rtol=1e-5)
    assert panels.shape == (5, 4, *SHAPE)
    for column, expected in enumerate((occluded, occluded, x, x)):
        np.testing.assert_array_equal(panels[:, column], expected)


def test_minimise_with_adam_takes_bias_corrected_adam_steps():
    """Adam's first step moves every entry by the learning rate against its gradient's sign."""
    start = np.array([[1.0, -2.0, 0.5]], np.float32)

    def energy(value):
        return tf.reduce_sum(value ** 2 * [1.0, 3.0, 10.0], axis=-1)

    one_step = minimise_with_adam(energy, start, 1, 0.1)
    np.testing.assert_allclose(one_step, start - 0.1 * np.sign(start), rtol=1e-5)
    np.testing.assert_allclose(minimise_with_adam(energy, start, 400, 0.05), 0.0, atol=0.02)
    np.testing.assert_array_equal(minimise_with_adam(energy, start, 0, 0.1), start)


def _digit_data(split, batch):
    return pipeline.make_dataset(digits.load(split), batch, "binary",
                                 training=split == "train", keys=("image", "attributes"))


def test_short_training_improves_the_conditional_elbo_by_a_clear_margin():
    keras.utils.set_random_seed(0)
    model = CVAE((28, 28, 1), 10, latent_dim=8, base_filters=16, encoder_hidden=64,
                 likelihood="bernoulli")
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    before = likelihood_metrics.evaluate_likelihood(model, _digit_data("test", 90),
                                                    num_samples=0)
    logs = model.fit(_digit_data("train", 64), epochs=3, steps_per_epoch=25, verbose=0).history
    assert set(logs) == {"loss", "elbo", "reconstruction", "kl", "bits_per_dim"}
    after = likelihood_metrics.evaluate_likelihood(model, _digit_data("test", 90),
                                                   num_samples=10)
    assert after["elbo"] > before["elbo"] + 150, (before, after)
    assert after["log_likelihood"] >= after["elbo"]


@pytest.mark.parametrize("network", ["conv", "coord"])
def test_save_and_load_give_identical_outputs(tmp_path, network):
    model = _model(prior="learned_gaussian", beta=0.5, seed=7, attribute_names="abcd",
                   network=network)
    model.compile(optimizer=keras.optimizers.Adam())
    x, y = _batch()
    model.fit((x, y), batch_size=3, epochs=1, verbose=0)
    path = str(tmp_path / "cvae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, CVAE) and loaded.attribute_dim == 4
    assert loaded.attribute_names == ("a", "b", "c", "d") and loaded.beta == 0.5
    np.testing.assert_array_equal(loaded.reconstruct(x, y), model.reconstruct(x, y))
    np.testing.assert_array_equal(loaded.generate(y, seed=3), model.generate(y, seed=3))
    config, again = model.get_config(), CVAE.from_config(model.get_config()).get_config()
    networks = ("encoder", "decoder")  # Layer names are numbered per process.
    assert {k: v for k, v in again.items() if k not in networks} == {
        k: v for k, v in config.items() if k not in networks}


def test_export_round_trip_reproduces_every_signature(tmp_path):
    model = _model()
    x, y = _batch()
    z = RNG.normal(size=(3, 5)).astype(np.float32)
    loaded = tf.saved_model.load(export.export_saved_model(model, str(tmp_path)))
    assert set(loaded.signatures) == {"serving_default", "generate", "encode", "reconstruct"}
    mean, scale = model.encode(x, y)
    expected = {"generate": ({"attributes": y, "latents": z}, {"images": model.generate(y, z)}),
                "encode": ({"images": x, "attributes": y},
                           {"posterior_mean": mean, "posterior_scale": scale}),
                "reconstruct": ({"images": x, "attributes": y},
                                {"reconstructions": model.reconstruct(x, y)})}
    expected["serving_default"] = expected["generate"]
    for name, (inputs, outputs) in expected.items():
        served = loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
        assert set(served) == set(outputs), name
        for key, value in outputs.items():
            np.testing.assert_allclose(served[key], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}/{key}")
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        loaded.signatures["generate"](attributes=tf.zeros([2, 5]), latents=tf.zeros([2, 5]))



def _prepare_tfds_metadata(data_dir, name, splits):
    """Metadata of a prepared TFDS dataset, so that `tfds.testing.mock_data` serves it."""
    builder = tfds.builder(name, data_dir=os.fspath(data_dir))
    builder.info.set_splits(tfds.core.SplitDict([
        tfds.core.SplitInfo(name=split, shard_lengths=[size], num_bytes=0,
                            filename_template=None) for split, size in splits.items()]))
    os.makedirs(builder.data_dir, exist_ok=True)
    builder.info.write_to_directory(builder.data_dir)


def test_celeb_a_attributes_are_picked_by_name_and_mnist_has_none(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    _prepare_tfds_metadata(tmp_path, "celeb_a", {"train": 8, "validation": 2, "test": 4})
    _prepare_tfds_metadata(tmp_path, "mnist", {"train": 8, "test": 4})
    with tfds.testing.mock_data(num_examples=4, data_dir=os.fspath(tmp_path)):
        source = catalog.load("celeb_a", "train", image_size=16, data_dir=str(tmp_path))
        assert len(source.attribute_names) == 40
        config = cvae_task.CVAEConfig(
            dataset="celeb_a", image_size=16, attributes=("Smiling", "Male", "Eyeglasses"),
            latent_dim=3, base_filters=4, encoder_hidden=6, likelihood="gaussian")
        model = cvae_task.CVAETask(config).build_model(source)
        assert model.image_shape == (16, 16, 3)
        assert model.attribute_names == ("Eyeglasses", "Male", "Smiling")  # The data's order.
        batch = next(iter(pipeline.make_dataset(source, 4, "dequantized", training=False,
                                                keys=("image", "attributes"))))
        assert batch["attributes"].shape == (4, 40)
        columns = [source.attribute_names.index(name) for name in model.attribute_names]
        np.testing.assert_array_equal(model.unpack(batch)["attributes"],
                                      tf.gather(batch["attributes"], columns, axis=1))
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        logs = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0).history
        assert np.isfinite(logs["elbo"][-1])
        mnist = catalog.load("mnist", "train", data_dir=str(tmp_path))
        with pytest.raises(ValueError, match="dataset 'mnist' has no attribute labels; use "
                                             "shapes, digits or celeb_a"):
            cvae_task.CVAETask(cvae_task.CVAEConfig(dataset="mnist")).build_model(mnist)
