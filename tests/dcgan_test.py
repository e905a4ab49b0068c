"""DCGAN: networks, the two-player step, EMA, save/load, resume, export, strategies, precision."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import harness
from zoo.models import gan
from zoo import export
from zoo.models.gan import DCGAN
from zoo.models.gan import dcgan_discriminator
from zoo.models.gan import dcgan_generator
from zoo.losses import objectives
from zoo.train import callbacks

RNG = np.random.default_rng(0)


def _images(batch=6, shape=(28, 28, 1)):
    return RNG.uniform(size=(batch, *shape)).astype(np.float32)


def _model(**kwargs):
    kwargs = {"latent_dim": 5, "base_filters": 4, "seed": 3, **kwargs}
    return DCGAN(kwargs.pop("image_shape", (28, 28, 1)), **kwargs)


def _compiled(**kwargs):
    model = _model(**kwargs)
    model.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    return model


def _data(batch=6, count=24, shape=(28, 28, 1)):
    images = np.random.default_rng(count).uniform(size=(count, *shape)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices({"image": images}).batch(batch, drop_remainder=True)


@pytest.mark.parametrize("size,channels,grid,top", [(28, 1, 7, 8), (32, 3, 4, 16),
                                                     (64, 3, 4, 32)])
def test_networks_follow_radford_et_al_for_each_size(size, channels, grid, top):
    generator = dcgan_generator(5, (size, size, channels), base_filters=4)
    discriminator = dcgan_discriminator((size, size, channels), base_filters=4)
    samples = generator(tf.random.normal([3, 5]) * 10.0, training=False)
    assert samples.shape == (3, size, size, channels)
    assert np.all(np.abs(samples) <= 1.0)
    assert discriminator(samples).shape == (3, 1)
    assert generator.layers[3].target_shape == (grid, grid, top)
    norms = [layer for layer in discriminator.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    convolutions = [layer for layer in discriminator.layers
                    if isinstance(layer, keras.layers.Conv2D)]
    assert len(norms) == len(convolutions) - 1, "no batch norm after the first convolution"
    assert all(n.synchronized for n in norms)
    with pytest.raises(ValueError, match="halve down"):
        _model(image_shape=(30, 30, 1))


def test_a_training_step_updates_both_players_and_reports_the_metrics():
    model = _compiled(d_steps=2, ema_decay=0.9)
    before_g = [v.numpy() for v in model.generator.trainable_variables]
    before_d = [v.numpy() for v in model.discriminator.trainable_variables]
    history = model.fit(_data(), epochs=1, verbose=0).history
    assert sorted(history) == ["d_fake", "d_loss", "d_real", "g_loss", "loss"]
    assert all(np.isfinite(v[-1]) for v in history.values())
    assert history["loss"][-1] == pytest.approx(history["d_loss"][-1] + history["g_loss"][-1],
                                                rel=1e-5)
    assert 0.0 < history["d_real"][-1] < 1.0 and 0.0 < history["d_fake"][-1] < 1.0
    assert int(model.g_optimizer.iterations) == 4 and int(model.d_optimizer.iterations) == 8
    assert model.optimizer is model.g_optimizer
    for before, variables in ((before_g, model.generator.trainable_variables),
                              (before_d, model.discriminator.trainable_variables)):
        assert all(not np.allclose(a, b.numpy()) for a, b in zip(before, variables))
    with pytest.raises(ValueError, match="must split into d_steps=2"):
        model.train_step({"image": tf.constant(_images(5))})


def test_test_step_changes_nothing():
    model = _compiled()
    weights = [v.numpy() for v in model.variables]
    results = model.evaluate(_data(), verbose=0, return_dict=True)
    assert set(results) == {"loss", "d_loss", "g_loss", "d_real", "d_fake"}
    for a, b in zip(weights, model.variables):
        np.testing.assert_array_equal(a, b.numpy())


def test_validation_sees_the_discriminator_as_the_training_step_does(monkeypatch):
    # The training step runs both networks on batch statistics; so must
    # validation, without moving any weight or batch-norm statistic. With the
    # validation noise counter set to the first training step's, validation's
    # d_real, d_fake and d_loss are those of the training step's discriminator
    # update on the same batch (its metrics come from the logits before the update).
    monkeypatch.setattr(gan, "_TEST_NOISE_STREAM", 0)
    model = _compiled()
    batch = {"image": tf.constant(_images(6))}
    moving = [v.path for v in model.variables if "moving" in v.path]
    assert any(p.startswith("generator") for p in moving)
    assert any(p.startswith("discriminator") for p in moving)
    weights = [v.numpy() for v in model.variables]
    validation = {k: float(v) for k, v in model.test_step(batch).items()}
    for a, b in zip(weights, model.variables):
        np.testing.assert_array_equal(a, b.numpy(), err_msg=b.path)
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 0
    model.reset_metrics()
    training = {k: float(v) for k, v in model.train_step(batch).items()}
    for name in ("d_real", "d_fake", "d_loss"):
        assert validation[name] == pytest.approx(training[name], rel=1e-5, abs=1e-6), name
    # The step moved the statistics that validation left alone.
    changed = {b.path for a, b in zip(weights, model.variables) if not np.allclose(a, b.numpy())}
    assert set(moving) <= changed


@pytest.mark.parametrize("objective", objectives.NAMES)
def test_every_objective_takes_finite_steps(objective):
    model = _compiled(objective=objective)
    batch = {"image": tf.constant(_images(4))}
    for _ in range(2):  # Eagerly: no graph to trace per objective.
        logs = model.train_step(batch)
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    assert all(np.all(np.isfinite(v.numpy())) for v in model.trainable_variables)
    assert model.objective.name == objective


def test_the_weight_average_is_what_samples_and_exports_use():
    model = _compiled(ema_decay=0.5)
    model.fit(_data(), epochs=2, verbose=0)
    z = tf.random.normal([4, 5])
    average = (model.ema_generator(z, training=False) + 1) / 2
    current = (model.generator(z, training=False) + 1) / 2
    assert not np.allclose(average, current)
    np.testing.assert_allclose(model.generate(z), average, rtol=1e-6, atol=1e-6)
    # d_t = min(decay, (1 + t) / (10 + t)), applied once per generator step.
    assert float(model.ema_weight()) == pytest.approx(min(0.5, 9 / 18))
    plain = _compiled()
    assert plain.ema_generator is None
    np.testing.assert_allclose(plain.generate(z),
                               (plain.generator(z, training=False) + 1) / 2, atol=1e-6)
    with pytest.raises(ValueError, match=r"ema_decay must be in \[0, 1\)"):
        _model(ema_decay=1.0)


def test_summary_images_use_a_fixed_noise_batch():
    model = _compiled()
    batch = {"image": _images(4)}
    first = model.summary_images(batch, num_images=9)
    assert set(first) == {"samples", "real"}
    assert first["samples"].shape == (9, 28, 28, 1) and first["real"].shape == (4, 28, 28, 1)
    model.fit(_data(), epochs=1, verbose=0)
    second = model.summary_images(batch, num_images=9)
    np.testing.assert_array_equal(model.fixed_latents(9), model.fixed_latents(9))
    assert not np.allclose(first["samples"], second["samples"])
    assert np.all((second["samples"] >= 0) & (second["samples"] <= 1))


def test_save_and_load_reproduce_the_model_and_both_optimizers(tmp_path):
    objective = objectives.Objective("weighted_jensen_shannon", pi=0.3,
                                     generator_update="alternative")
    model = _compiled(objective=objective, ema_decay=0.9, d_steps=2)
    model.fit(_data(), epochs=1, verbose=0)
    path = str(tmp_path / "dcgan.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    z = tf.random.normal([3, 5])
    np.testing.assert_allclose(loaded.generate(z), model.generate(z), rtol=1e-6, atol=1e-6)
    assert loaded.objective.divergence.pi == 0.3
    assert loaded.objective.divergence.generator_update == "alternative"
    assert (loaded.d_steps, loaded.ema_decay, loaded.image_shape) == (2, 0.9, (28, 28, 1))
    assert int(loaded.d_optimizer.iterations) == int(model.d_optimizer.iterations) == 8
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(2e-3)
    for a, b in zip(model.d_optimizer.variables, loaded.d_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    config = model.get_config()
    rebuilt = DCGAN.from_config(json.loads(json.dumps(config)))
    assert json.dumps(rebuilt.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)


def test_checkpoints_resume_weights_and_both_optimizer_states(tmp_path):
    model = _compiled(ema_decay=0.9)
    checkpoint = callbacks.ResumableCheckpoint(str(tmp_path / "checkpoints"))
    model.fit(_data(), epochs=2, verbose=0, callbacks=[checkpoint])
    resumed = _compiled(ema_decay=0.9)
    assert checkpoint.restore(resumed) == 2
    for a, b in zip(model.variables, resumed.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for optimizer in ("d_optimizer", "g_optimizer"):
        for a, b in zip(getattr(model, optimizer).variables,
                        getattr(resumed, optimizer).variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Training on from the checkpoint equals training on without stopping.
    model.fit(_data(), epochs=3, initial_epoch=2, verbose=0)
    resumed.fit(_data(), epochs=3, initial_epoch=2, verbose=0)
    for a, b in zip(model.trainable_variables, resumed.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_export_round_trip_in_a_fresh_process_gives_identical_images(tmp_path):
    model = _compiled(ema_decay=0.9, objective="kl")
    model.fit(_data(), epochs=1, verbose=0)
    path = export.export_saved_model(model, str(tmp_path / "export"))
    inputs = {"latents": RNG.normal(size=(3, 5)).astype(np.float32), "images": _images(3)}
    served = harness.load_in_fresh_process(path, inputs)
    assert set(served) == {"serving_default", "generate", "discriminate"}
    expected = model.generate(inputs["latents"]).numpy()
    for name in ("generate", "serving_default"):
        np.testing.assert_allclose(served[name]["images"], expected, rtol=1e-6, atol=1e-6)
    logits = model.discriminate(model.preprocess(inputs["images"]))
    np.testing.assert_allclose(served["discriminate"]["logits"], logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served["discriminate"]["discriminator_output"], logits,
                               rtol=1e-5, atol=1e-5)  # KL: g_f(v) = v.
    loaded = tf.saved_model.load(path)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        loaded.signatures["generate"](latents=tf.zeros([2, 6]))


def _train(strategy, steps=3):
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(5).uniform(size=(8 * steps, 28, 28, 1)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices({"image": images}).batch(8).repeat()
    with strategy.scope():
        model = _compiled(d_steps=2, ema_decay=0.9)
    history = model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0).history
    # 13 examples in batches of 8: the last one splits 3 + 2 on two replicas.
    validation = tf.data.Dataset.from_tensor_slices({"image": images[:13]}).batch(8)
    history.update({"val_" + k: [v] for k, v in
                    model.evaluate(validation, verbose=0, return_dict=True).items()})
    return model, history


def _compare_mirrored_with_one_device():
    """Run in a fresh process (one MirroredStrategy per process): prints the differences."""
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    one, one_history = _train(tf.distribute.OneDeviceStrategy(devices[0]))
    mirrored = tf.distribute.MirroredStrategy(devices)
    two, two_history = _train(mirrored)
    start = _compiled(d_steps=2, ema_decay=0.9)
    batch_norm = [v.path for v in two.variables if "moving" in v.path]
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync,
        "iterations": [int(two.d_optimizer.iterations.numpy()),
                       int(two.g_optimizer.iterations.numpy())],
        "history": max(float(np.max(np.abs(np.subtract(one_history[k], two_history[k]))))
                       for k in ("d_loss", "g_loss", "d_real", "d_fake")),
        "validation": max(abs(one_history[k][0] - two_history[k][0])
                          for k in ("val_d_loss", "val_g_loss", "val_d_real", "val_d_fake")),
        "weights": max(float(np.max(np.abs(a.numpy() - b.numpy())))
                       for a, b in zip(one.variables, two.variables)),
        "moved": min(float(np.max(np.abs(a.numpy() - b.numpy())))
                     for a, b in zip(start.trainable_variables, two.trainable_variables)),
        "batch_norm_variables": len(batch_norm)}))


def test_mirrored_on_two_devices_trains_like_one_device():
    # Global-batch loss scaling, replica-sliced noise and synchronised batch
    # norm: two replicas must give the one-device losses, weights, EMA and
    # batch-norm statistics, and the one-device validation metrics also for
    # an uneven last batch. In a subprocess: a second MirroredStrategy in the
    # pytest process would collide with strategy_test's on collective keys.
    report = harness.run_python_json(__file__)
    assert report["replicas"] == 2 and report["iterations"] == [6, 3]
    assert report["batch_norm_variables"] > 0
    assert report["history"] < 1e-4
    assert report["validation"] < 1e-5  # Chunks and noise by global row, batch of 5 as 3 + 2.
    assert report["weights"] < 1e-4
    assert report["moved"] > 1e-5  # Every variable trained, so the match is not trivial.


def test_mixed_float16_wraps_both_optimizers_in_loss_scaling():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _compiled()
        assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert model.optimizer is model.g_optimizer
        assert model.generate(tf.zeros([2, 5])).dtype == tf.float32
        logs = model.train_step({"image": tf.constant(_images(4))})
        assert all(np.isfinite(float(v)) for v in logs.values())
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_float_images_in_0_255_are_refused_in_one_clear_line():
    model = _compiled()
    with pytest.raises(ValueError, match=r"^DCGAN: float images must be finite and in \[0, 1\] "
                                         r"\(divide 8-bit values by 255, or pass uint8 images\); "
                                         r"their min and max are \S+ and 2\d\d\.\d*\.$"):
        model.fit(_images(6) * 255.0, batch_size=6, epochs=1, verbose=0)
    # fit checks the first batch eagerly; the training step checks every batch.
    later = np.concatenate([_images(6), _images(6) * 255.0])
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        model.fit(tf.data.Dataset.from_tensor_slices(later).batch(6), epochs=1, verbose=0)
    (line,) = [line for line in str(error.value).splitlines() if "assertion failed" in line]
    assert ("assertion failed: [DCGAN: float images must be finite and in [0, 1] (divide 8-bit "
            "values by 255, or pass uint8 images); their min and max are] [") in line, line
    with pytest.raises(ValueError, match=r"^DCGAN: float images must be finite and in \[0, 1\]"):
        model.discriminator_output(np.where(_images(2) > 0.5, np.nan, 0.0).astype(np.float32))


def test_fit_refuses_empty_data_and_sample_checks_its_count():
    model = _compiled()
    with pytest.raises(ValueError, match=r"^DCGAN\.fit got no training data: x has 0 examples"):
        model.fit(np.zeros((0, 28, 28, 1), np.float32), verbose=0)
    with pytest.raises(ValueError, match=r"^num_samples must be a positive int; got -1\.$"):
        model.sample(-1)


def test_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match="Unknown GAN loss 'hinge'"):
        _model(objective="hinge")
    with pytest.raises(ValueError, match="d_steps must be a positive int"):
        _model(d_steps=0)
    with pytest.raises(ValueError, match=r"expects images of shape \[batch, 28, 28, 1\]"):
        _model().preprocess(tf.zeros([2, 32, 32, 1]))


if __name__ == "__main__":
    _compare_mirrored_with_one_device()
