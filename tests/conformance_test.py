"""One suite for every public model: save/load, export, eager and tf.function training.

Mirrored training is tested in strategy_test.py: a second MirroredStrategy in one
process can reuse collective instance keys and abort with a shape mismatch.

Each model registers how to build a tiny instance and a batch as `fit` takes
it. A public `keras.Model` in `zoo.__all__` without an entry fails the suite.
"""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo

RNG = np.random.default_rng(0)


def _images(batch=4, shape=(28, 28, 1)):
    return (RNG.uniform(size=(batch, *shape)) > 0.5).astype(np.float32)


def _vae():
    model = zoo.VAE((28, 28, 1), latent_dim=5, base_filters=4, prior="learned_gaussian")
    return model, _images()


def _dcgan():
    model = zoo.DCGAN((28, 28, 1), latent_dim=5, base_filters=4, ema_decay=0.9,
                      objective="jensen_shannon", seed=3)
    return model, _images()


def _attribute_batch(batch=4, shape=(16, 16, 3), attribute_dim=3, masks=False):
    batch_dict = {"image": RNG.uniform(size=(batch, *shape)).astype(np.float32),
                  "attributes": (RNG.uniform(size=(batch, attribute_dim)) > 0.5
                                 ).astype(np.float32)}
    if masks:
        batch_dict["mask"] = (RNG.uniform(size=(batch, *shape[:2], 1)) > 0.5).astype(np.uint8)
    return batch_dict


def _cvae():
    model = zoo.CVAE((16, 16, 3), 3, latent_dim=5, base_filters=4, encoder_hidden=6,
                     likelihood="gaussian", prior="learned_gaussian",
                     attribute_names=("a", "b", "c"))
    return model, _attribute_batch()


def _discvae():
    model = zoo.DisCVAE((16, 16, 3), 3, foreground_dim=4, background_dim=2, base_filters=4,
                        encoder_hidden=6, likelihood="discretized_logistic",
                        gate_supervision_weight=0.3)
    return model, _attribute_batch(masks=True)


def _dcign():
    """Two interleaved one-factor minibatches (rows 0, 2: scale varies; rows 1, 3: shape,
    an intrinsic factor), so fit() exercises the clamped step; render takes one named
    input per group (scale [B, 1], position_x [B, 2], intrinsic [B, 3])."""
    model = zoo.DCIGN((16, 16, 3), [("scale", 1), ("position_x", 2)], intrinsic_dim=3,
                      base_filters=4, minibatches=2,
                      dataset_factor_names=("shape", "scale", "position_x"))
    batch = {"image": _images(4, (16, 16, 3)), "active_factor": np.array([1, 0, 1, 0], np.int32)}
    return model, batch


def _vqvae():
    model = zoo.VQVAE((16, 16, 3), num_codes=5, embedding_dim=3, filters=4, residual_blocks=1,
                      likelihood="discretized_logistic")
    batch = {"image": RNG.uniform(size=(4, 16, 16, 3)).astype(np.float32),
             "indices": RNG.integers(0, 5, (4, 4, 4)).astype(np.int32)}
    return model, batch


def _pixelcnn_prior():
    model = zoo.PixelCNNPrior((3, 3), 4, filters=4, num_layers=2, num_conditions=2)
    batch = {"codes": RNG.integers(0, 4, (4, 3, 3)).astype(np.int32),
             "conditions": RNG.uniform(size=(4, 2)).astype(np.float32),
             "noise": RNG.uniform(size=(4, 3, 3)).astype(np.float32)}
    return model, batch


def _vqvae_with_prior():
    autoencoder = zoo.VQVAE((28, 28, 1), num_codes=4, embedding_dim=3, filters=4,
                            residual_blocks=0)
    model = zoo.VQVAEWithPrior(autoencoder, zoo.PixelCNNPrior((7, 7), 4, filters=4,
                                                              num_layers=1))
    batch = {"image": _images(), "indices": RNG.integers(0, 4, (4, 7, 7)).astype(np.int32),
             "noise": RNG.uniform(size=(4, 7, 7)).astype(np.float32)}
    return model, batch


def _vae_iaf():
    """The IAF posterior (its MADE weights, the context head) with free bits."""
    model = zoo.VAE((28, 28, 1), latent_dim=5, base_filters=4, posterior="iaf", flow_steps=2,
                    flow_hidden=6, free_bits=0.05)
    return model, _images()


MODELS = {"VAE": _vae, "DCGAN": _dcgan, "CVAE": _cvae, "DisCVAE": _discvae, "DCIGN": _dcign,
          "VQVAE": _vqvae, "PixelCNNPrior": _pixelcnn_prior, "VQVAEWithPrior": _vqvae_with_prior}
# Options that change what a model holds, run through the same suite.
VARIANTS = {"VAE(posterior=iaf)": _vae_iaf}
BUILDERS = {**MODELS, **VARIANTS}


def _public_models():
    return sorted(name for name in zoo.__all__ if inspect.isclass(getattr(zoo, name))
                  and issubclass(getattr(zoo, name), keras.Model))


def test_every_public_model_is_registered():
    assert _public_models() == sorted(MODELS)


def _inputs_for(signature, batch):
    """Concrete inputs for an endpoint from its TensorSpecs and the sample batch."""
    values = {}
    images = batch.get("image") if isinstance(batch, dict) else batch
    size = len(next(iter(batch.values())) if isinstance(batch, dict) else batch)
    for spec in signature:
        shape = [size if d is None else d for d in spec.shape]
        if spec.name in ("images", "image"):
            values[spec.name] = tf.constant(images, spec.dtype)
        elif isinstance(batch, dict) and spec.name in batch:
            values[spec.name] = tf.constant(batch[spec.name], spec.dtype)
        else:
            values[spec.name] = tf.constant(RNG.normal(size=shape), spec.dtype)
    return values


def _endpoint_inputs(model, batch):
    return {name: _inputs_for(signature, batch)
            for name, (_, signature) in model.serving_endpoints().items()}


def _outputs(model, inputs):
    return {name: {k: v.numpy() for k, v in function(**inputs[name]).items()}
            for name, (function, _) in model.serving_endpoints().items()}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_save_load_and_export_reproduce_every_endpoint(name, tmp_path):
    model, batch = BUILDERS[name]()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    inputs = _endpoint_inputs(model, batch)
    expected = _outputs(model, inputs)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for endpoint, outputs in _outputs(loaded, inputs).items():
        for key, value in outputs.items():
            np.testing.assert_allclose(value, expected[endpoint][key], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}.{endpoint}.{key} after load_model")
    exported = tf.saved_model.load(zoo.export_saved_model(model, str(tmp_path / "export")))
    assert "serving_default" in exported.signatures
    for endpoint in model.serving_endpoints():
        served = exported.signatures[endpoint](**inputs[endpoint])
        for key, value in expected[endpoint].items():
            np.testing.assert_allclose(served[key], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}.{endpoint}.{key} from the SavedModel")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_train_step_runs_eagerly_and_compiled(name):
    batch = BUILDERS[name]()[1]
    for run_eagerly in (True, False):
        model = BUILDERS[name]()[0]
        model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=run_eagerly)
        logs = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0).history
        assert logs and all(np.isfinite(v[-1]) for v in logs.values()), logs


# -- Mixed precision and XLA ----------------------------------------------------------

@pytest.fixture(params=["mixed_float16", "mixed_bfloat16"])
def mixed_policy(request):
    """Sets a mixed global policy for one test and always restores float32 (tests share
    processes under pytest-xdist, and every model takes its policy when built)."""
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _optimizers(model):
    """Every optimizer the model holds (DCGAN holds two)."""
    found = {id(v): v for v in vars(model).values()
             if isinstance(v, keras.optimizers.Optimizer)}
    return list(found.values())


def _loss_terms(model, batch):
    """The per-example terms a training step's loss is made of, and the raw outputs the
    log-probabilities are taken of: from the encoder (the posterior's parameters) or,
    for DCGAN, the discriminator's logits."""
    seed = zoo.random.step_seed(0, 0)
    if isinstance(model, zoo.DCGAN):
        real = model.preprocess(batch)
        fake = model.generator(model.latents(real.shape[0], seed), training=True)
        real_logits = tf.reshape(model.discriminator(real, training=True), [-1])
        fake_logits = tf.reshape(model.discriminator(fake, training=True), [-1])
        return {"real_logits": real_logits, "fake_logits": fake_logits,
                "d_loss": model.objective.discriminator_loss(real_logits, fake_logits),
                "g_loss": model.objective.generator_loss(fake_logits)}
    if isinstance(model, zoo.PixelCNNPrior):
        codes, conditions = model.unpack(batch)
        return {"logits": model(codes, conditions), "log_prob": model.log_prob(codes, conditions)}
    if isinstance(model, (zoo.VQVAE, zoo.VQVAEWithPrior)):
        inputs = model.unpack(batch)
        terms = model.elbo_terms(inputs)  # Not training: the codebook's EMA stays put.
        terms = {k: v for k, v in terms.items() if v.dtype.is_floating}
        terms["encoder_output"] = getattr(model, "vqvae", model).encoder(inputs["images"])
        return terms
    inputs = model.unpack(batch)
    terms = model.elbo_terms(inputs, seed, training=True)
    terms = {k: v for k, v in terms.items() if isinstance(v, tf.Tensor) and v.dtype.is_floating}
    terms["encoder_output"] = model.encoder(model.encoder_inputs(inputs), training=True)
    terms["loss"] = model.per_example_loss(terms)
    return terms


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_mixed_precision_terms_are_float32_and_close_to_float32(name, mixed_policy):
    """From the same weights, batch and seed the per-example terms (log-probabilities,
    KLs, GAN losses) come out float32 and each batch mean within 5% of float32's, or
    0.05 nats for terms near 0 (a float16/bfloat16 network carries 11/8 significant
    bits, ~0.05%/0.4% per rounding). Under mixed_bfloat16 a (graph-mode) step trains,
    with no loss scaling, to finite logs."""
    keras.mixed_precision.set_global_policy("float32")
    reference, batch = BUILDERS[name]()
    expected = _loss_terms(reference, batch)
    keras.mixed_precision.set_global_policy(mixed_policy)
    model = BUILDERS[name]()[0]
    assert model.dtype_policy.name == mixed_policy
    model.set_weights(reference.get_weights())
    for key, value in _loss_terms(model, batch).items():
        assert value.dtype == tf.float32, f"{name} {key} is {value.dtype} under {mixed_policy}"
        np.testing.assert_allclose(np.mean(value), np.mean(expected[key]), rtol=0.05,
                                   atol=0.05, err_msg=f"{name} {key} under {mixed_policy}")
    if mixed_policy == "mixed_bfloat16":  # mixed_float16 trains in the XLA test below.
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        assert not any(isinstance(o, keras.optimizers.LossScaleOptimizer)
                       for o in _optimizers(model))  # bfloat16 has float32's range.
        logs = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0).history
        assert logs and all(np.isfinite(v[-1]) for v in logs.values()), logs


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_mixed_float16_trains_under_xla_loss_scaled_and_exports_float32(name, tmp_path):
    """A jit-compiled step under mixed_float16 reports finite logs, every optimizer
    (DCGAN has two) is a LossScaleOptimizer whose `scale_loss` the step calls (so small
    float16 gradients do not underflow), and the exported signatures give finite
    float32 outputs. (XLA compiles a step in 10-40 s here, so mixed_bfloat16 trains
    jit-compiled only in the VAE recipe run of tests/recipes_vae_test.py.)"""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model, batch = BUILDERS[name]()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
        optimizers = _optimizers(model)
        assert len(optimizers) == (2 if name == "DCGAN" else 1), optimizers
        calls = []
        for optimizer in optimizers:
            assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer), optimizer
            optimizer.scale_loss = (lambda loss, scale_loss=optimizer.scale_loss, opt=optimizer:
                                    calls.append(opt) or scale_loss(loss))
        logs = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0).history
        assert model.jit_compile and {id(o) for o in calls} == {id(o) for o in optimizers}
        assert logs and all(np.isfinite(v[-1]) for v in logs.values()), logs
        inputs = _endpoint_inputs(model, batch)
        exported = tf.saved_model.load(zoo.export_saved_model(model, str(tmp_path)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for endpoint in model.serving_endpoints():
        for key, value in exported.signatures[endpoint](**inputs[endpoint]).items():
            assert value.dtype in (tf.float32, tf.int32), (  # Images, or code indices.
                f"{name}.{endpoint}.{key} is {value.dtype}")
            assert np.all(np.isfinite(value)), f"{name}.{endpoint}.{key}"
