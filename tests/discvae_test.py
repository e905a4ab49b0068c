"""disCVAE: the composition, the hierarchical posterior, gate supervision, training, export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import harness
from zoo import export
from zoo import random as zoo_random
from zoo.data import pipeline
from zoo.data import shapes
from zoo.models.discvae import DisCVAE, composite, gate_cross_entropy
from zoo.metrics import layers as layer_metrics
from zoo.metrics import likelihood as likelihood_metrics

RNG = np.random.default_rng(3)
SHAPE = (16, 16, 3)
FOREGROUND, BACKGROUND = 5, 3


def _batch(size=3, attribute_dim=4):
    images = RNG.uniform(size=(size, *SHAPE)).astype(np.float32)
    attributes = (RNG.uniform(size=(size, attribute_dim)) > 0.5).astype(np.float32)
    masks = (RNG.uniform(size=(size, *SHAPE[:2], 1)) > 0.5).astype(np.uint8)
    return images, attributes, masks


def _model(**kwargs):
    kwargs = {"foreground_dim": FOREGROUND, "background_dim": BACKGROUND, "base_filters": 6,
              "encoder_hidden": 7, "likelihood": "gaussian", **kwargs}
    return DisCVAE(SHAPE, 4, **kwargs)


def _softplus(value):
    return np.log1p(np.exp(value))


def test_composition_formula_matches_numpy():
    foreground, background = RNG.normal(size=(2, 3, 4, 4, 6))
    gate = RNG.uniform(size=(3, 4, 4, 1))
    np.testing.assert_allclose(composite(foreground, background, gate),
                               foreground * gate + background * (1 - gate), rtol=1e-6)
    model = _model()
    _, y, _ = _batch()
    z = RNG.normal(size=(3, FOREGROUND + BACKGROUND)).astype(np.float32)
    decoded = model.decode_layers(z, y)
    foreground = model.decoder(np.concatenate([z[:, :FOREGROUND], y], 1)).numpy()
    background = model.background_decoder(z[:, FOREGROUND:]).numpy()
    gate = 1 / (1 + np.exp(-foreground[..., 6:]))
    assert foreground.shape[-1] == 7 and background.shape[-1] == 6
    params = gate * foreground[..., :6] + (1 - gate) * background
    np.testing.assert_allclose(decoded["params"], params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(decoded["gate"], gate, rtol=1e-5, atol=1e-6)
    # Gaussian: the composite's mean is x_F * g + x_B * (1 - g) of the layers' means.
    layers = model.image_layers(y, z)
    mean = gate * foreground[..., :3] + (1 - gate) * background[..., :3]
    np.testing.assert_allclose(layers["image"], np.clip(mean, 0, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layers["foreground"], foreground[..., :3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layers["background"], background[..., :3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.generate(y, z), layers["image"])


def _continuous_bernoulli_mean(logits):
    logits = np.asarray(logits, np.float64)
    return 1 / -np.expm1(-logits) - 1 / logits


def _sigmoid(value):
    return 1 / (1 + np.exp(-np.asarray(value, np.float64)))


# Each likelihood's layer location by hand from its raw [..., 3 * p] parameters.
_HAND_LOCATIONS = {
    "bernoulli": _sigmoid,
    "gaussian": lambda params: params[..., :3],
    "gaussian_fixed": lambda params: params,
    "discretized_logistic": lambda params: 255 * _sigmoid(params[..., :3]) / 255,
    "continuous_bernoulli": _continuous_bernoulli_mean,
}


def _spread_outputs(model, y, z, spread=2.5):
    """Rescales both decoders' last Conv2D so each raw output channel has mean 0, std `spread`.

    At initialisation the outputs are near 0, where every link is nearly
    linear and mixing raw parameters would look right too.
    """
    for network, inputs in ((model.decoder, np.concatenate([z[:, :FOREGROUND], y], 1)),
                            (model.background_decoder, z[:, FOREGROUND:])):
        last = network.layers[-1]
        kernel, bias = last.get_weights()
        outputs = network(inputs).numpy()
        factor = spread / np.std(outputs, axis=(0, 1, 2))
        last.set_weights([kernel * factor, (bias - np.mean(outputs, axis=(0, 1, 2))) * factor])


@pytest.mark.parametrize("likelihood", sorted(_HAND_LOCATIONS))
def test_the_layers_composite_into_the_mean_image_for_every_likelihood(likelihood):
    keras.utils.set_random_seed(1)
    model = _model(likelihood=likelihood)
    _, y, _ = _batch()
    z = RNG.normal(size=(3, FOREGROUND + BACKGROUND)).astype(np.float32)
    _spread_outputs(model, y, z)
    raw_f = model.decoder(np.concatenate([z[:, :FOREGROUND], y], 1)).numpy()
    raw_b = model.background_decoder(z[:, FOREGROUND:]).numpy()
    channels = model.layer_channels
    gate = _sigmoid(raw_f[..., channels:])
    assert np.std(gate) > 0.2  # gates spread over (0, 1), not all near 1/2
    layers = {key: value.numpy() for key, value in model.image_layers(y, z).items()}
    hand = _HAND_LOCATIONS[likelihood]
    np.testing.assert_allclose(layers["foreground"], hand(raw_f[..., :channels]), rtol=1e-5,
                               atol=2e-6)
    np.testing.assert_allclose(layers["background"], hand(raw_b), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(layers["gate"], gate, rtol=1e-5, atol=1e-6)
    # The paper's composite, from the layers shown, is the composite's mean image.
    image = layers["foreground"] * layers["gate"] + layers["background"] * (1 - layers["gate"])
    params = model.decode_params(z, y)
    np.testing.assert_allclose(model.likelihood.mean_image(params), np.clip(image, 0, 1),
                               rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(layers["image"], np.clip(image, 0, 1), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(model.generate(y, z), layers["image"], rtol=1e-6, atol=1e-7)
    mixed = gate * raw_f[..., :channels] + (1 - gate) * raw_b
    if likelihood in ("gaussian", "discretized_logistic"):  # raw scales are mixed by the gate
        np.testing.assert_allclose(params[..., 3:], mixed[..., 3:], rtol=1e-5, atol=1e-5)
    if likelihood in ("bernoulli", "discretized_logistic", "continuous_bernoulli"):
        # Mixing the raw parameters, as before, gives another image.
        gap = np.abs(model.likelihood.mean_image(mixed) - image)
        assert np.max(gap) > 0.02, np.max(gap)


def test_model_layers_is_keras_list_of_sublayers():
    model = _model()
    assert isinstance(model.layers, list)
    names = [layer.name for layer in model.layers]
    for network in (model.encoder, model.decoder, model.background_encoder,
                    model.background_decoder):
        assert any(layer is network for layer in model.layers), (network.name, names)


def test_elbo_pieces_match_hand_computations():
    model = _model(beta=1.5)
    x, y, _ = _batch()
    inputs = model.unpack((x, y))
    seed = zoo_random.step_seed(0, 5)
    terms = model.elbo_terms(inputs, seed)
    noise = zoo_random.global_batch_normal([3, FOREGROUND + BACKGROUND], seed).numpy()
    raw_f = model.encoder([x, y]).numpy()
    mu_f, s_f = raw_f[:, :FOREGROUND], 1e-3 + _softplus(raw_f[:, FOREGROUND:])
    z_f = mu_f + s_f * noise[:, :FOREGROUND]
    # The background encoder sees the sampled z_F.
    raw_b = model.background_encoder([x, y, z_f]).numpy()
    mu_b, s_b = raw_b[:, :BACKGROUND], 1e-3 + _softplus(raw_b[:, BACKGROUND:])
    z_b = mu_b + s_b * noise[:, FOREGROUND:]
    np.testing.assert_allclose(terms["latents"], np.concatenate([z_f, z_b], 1), rtol=1e-4,
                               atol=1e-5)

    def kl(mu, s):
        return 0.5 * np.sum(mu ** 2 + s ** 2 - 1 - np.log(s ** 2), -1)

    np.testing.assert_allclose(terms["kl_foreground"], kl(mu_f, s_f), rtol=1e-4)
    np.testing.assert_allclose(terms["kl_background"], kl(mu_b, s_b), rtol=1e-4)
    np.testing.assert_allclose(terms["kl"], kl(mu_f, s_f) + kl(mu_b, s_b), rtol=1e-4)
    params = model.decode_params(terms["latents"], y).numpy()
    loc, sigma = params[..., :3], 1e-3 + _softplus(params[..., 3:])
    log_px = np.sum(-0.5 * np.log(2 * np.pi * sigma ** 2) - (x - loc) ** 2 / (2 * sigma ** 2),
                    axis=(1, 2, 3))
    np.testing.assert_allclose(terms["reconstruction"], log_px, rtol=1e-4)
    np.testing.assert_allclose(terms["elbo"], log_px - terms["kl"], rtol=1e-4)
    np.testing.assert_allclose(model.per_example_loss(terms, training=False),
                               -log_px + 1.5 * terms["kl"], rtol=1e-4)
    # encode: q(z_F | x, y), then q(z_B | x, y, z_F = its mean).
    mean, scale = model.encode(x, y)
    raw_b_at_mean = model.background_encoder([x, y, mu_f]).numpy()
    np.testing.assert_allclose(mean, np.concatenate([mu_f, raw_b_at_mean[:, :BACKGROUND]], 1),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(raw_b_at_mean, raw_b)
    np.testing.assert_allclose(scale[:, :FOREGROUND], s_f, rtol=1e-5)
    # The export's encode serves the same layered posterior, all latent_dim entries.
    encode = model.serving_endpoints()["encode"][0]
    served = encode(tf.constant(x), tf.constant(y))
    np.testing.assert_allclose(served["posterior_mean"], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["posterior_scale"], scale, rtol=1e-5, atol=1e-6)


def test_gate_supervision_adds_the_weighted_cross_entropy_where_masks_are_given():
    logits = RNG.normal(size=(3, 4, 4, 1)).astype(np.float32)
    masks = (RNG.uniform(size=(3, 4, 4, 1)) > 0.5).astype(np.float32)
    g = 1 / (1 + np.exp(-logits))
    hand = -np.sum(masks * np.log(g) + (1 - masks) * np.log(1 - g), axis=(1, 2, 3))
    np.testing.assert_allclose(gate_cross_entropy(logits, masks), hand, rtol=1e-5)
    x, y, m = _batch()
    model = _model(gate_supervision_weight=0.3)
    seed = zoo_random.step_seed(0, 1)
    terms = model.elbo_terms(model.unpack({"image": x, "attributes": y, "mask": m}), seed)
    bce = gate_cross_entropy(terms["gate_logits"], m).numpy()
    np.testing.assert_allclose(terms["gate_cross_entropy"], bce, rtol=1e-6)
    np.testing.assert_allclose(model.per_example_loss(terms, training=False),
                               -terms["reconstruction"] + terms["kl"] + 0.3 * bce, rtol=1e-5)
    unsupervised = model.elbo_terms(model.unpack((x, y)), seed)
    assert "gate_cross_entropy" not in unsupervised
    np.testing.assert_allclose(unsupervised["elbo"], terms["elbo"], rtol=1e-6)
    np.testing.assert_allclose(model.per_example_loss(unsupervised, training=False),
                               -terms["elbo"], rtol=1e-5)


def test_y_and_z_f_move_the_foreground_and_the_background_depends_on_z_b_only():
    model = _model()
    _, y, _ = _batch()
    z = RNG.normal(size=(3, FOREGROUND + BACKGROUND)).astype(np.float32)
    base = model.image_layers(y, z)
    again = model.image_layers(y, z)
    for key in base:
        np.testing.assert_array_equal(base[key], again[key])
    other_y = model.image_layers(1.0 - y, z)
    assert not np.allclose(other_y["image"], base["image"])
    assert not np.allclose(other_y["gate"], base["gate"])
    np.testing.assert_array_equal(other_y["background"], base["background"])
    moved = z.copy()
    moved[:, :FOREGROUND] = RNG.normal(size=(3, FOREGROUND))
    np.testing.assert_array_equal(model.image_layers(y, moved)["background"],
                                  base["background"])
    moved[:, FOREGROUND:] += 1.0
    assert not np.allclose(model.image_layers(y, moved)["background"], base["background"])


def test_importance_weighted_bound_is_above_the_elbo():
    model = _model(likelihood="bernoulli")
    x, y, _ = _batch(4)
    x = (x > 0.5).astype(np.float32)
    inputs = model.unpack((x, y))
    elbo = np.mean([model.elbo_terms(inputs, zoo_random.step_seed(0, i))["elbo"]
                    for i in range(30)], axis=0)
    bound = model.log_likelihood((x, y), num_samples=200, chunk_size=50).numpy()
    assert np.all(bound > elbo)
    np.testing.assert_allclose(np.mean(model.log_likelihood((x, y), num_samples=1)),
                               np.mean(elbo), rtol=0.03)


def test_constructor_checks_sizes():
    with pytest.raises(ValueError, match="latent_dim 9 differs from foreground_dim"):
        _model(latent_dim=9)
    with pytest.raises(ValueError, match="gate_supervision_weight must be a finite number >= 0"):
        _model(gate_supervision_weight=-1)
    with pytest.raises(ValueError, match="background_dim must be a positive int"):
        _model(background_dim=0)
    assert _model(latent_dim=8).latent_dim == 8


def test_gate_iou_is_intersection_over_union_per_image():
    gates = np.zeros((3, 2, 2, 1), np.float32)
    masks = np.zeros((3, 2, 2, 1), np.float32)
    gates[0, 0, :] = 0.9          # two predicted, one of them true, plus one missed
    masks[0, 0, 0] = masks[0, 1, 1] = 1
    gates[1] = 0.6                # all predicted, all true
    masks[1] = 1
    gates[2, 0, 0] = 0.5          # at the threshold: not foreground; nothing is: counts as 1
    np.testing.assert_allclose(layer_metrics.gate_iou(gates, masks), [1 / 3, 1.0, 1.0])
    assert layer_metrics.gate_iou(gates, masks, threshold=0.95)[1] == 0.0


class _SplitLayers:
    """A stand-in layered model whose gate is fixed by y, foreground by z_F, background by z_B."""
    foreground_dim = 2

    def prior_latents(self, count, seed):
        return tf.constant(np.random.default_rng(seed).normal(size=(count, 3)), tf.float32)

    def image_layers(self, attributes, latents):
        latents = np.asarray(latents)
        gate = np.zeros((len(latents), 4, 4, 1), np.float32)
        gate[:, :2] = np.asarray(attributes)[:, :1, None, None]  # the top half, where y_0 = 1
        foreground = np.tanh(latents[:, :1, None, None] + latents[:, 1:2, None, None])
        background = np.abs(latents[:, 2:, None, None]) * np.ones_like(gate)
        return {"image": gate * foreground + (1 - gate) * background, "gate": gate}


def test_background_change_is_zero_when_only_z_f_moves_a_cleanly_split_model():
    attributes = np.ones((300, 1), np.float32)
    changes = layer_metrics.background_change(_SplitLayers(), attributes, seed=4)
    assert changes["background_change_when_zF_changes"] == 0.0
    first, second = (np.random.default_rng(seed).normal(size=(300, 3)) for seed in (4, 5))
    foreground = np.abs(np.tanh(second[:, 0] + second[:, 1]) - np.tanh(first[:, 0] + first[:, 1]))
    np.testing.assert_allclose(changes["foreground_change_when_zF_changes"],
                               np.mean(foreground), rtol=1e-5)
    np.testing.assert_allclose(changes["background_change_when_zB_changes"],
                               np.mean(np.abs(np.abs(second[:, 2]) - np.abs(first[:, 2]))),
                               rtol=1e-5)


def _shapes_data(split, batch, count, training):
    source = shapes.load(split, image_size=16, num_examples=count)
    return pipeline.make_dataset(source, batch, "dequantized", training=training,
                                 keys=("image", "attributes", "mask"), shuffle_buffer=count)


def test_short_training_improves_the_elbo_and_teaches_the_gate_the_masks():
    keras.utils.set_random_seed(0)
    model = DisCVAE(SHAPE, 7, foreground_dim=6, background_dim=3, base_filters=16,
                    encoder_hidden=64, likelihood="gaussian", gate_supervision_weight=10.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    test = _shapes_data("test", 100, 200, training=False)
    before = likelihood_metrics.evaluate_likelihood(model, test, num_samples=0)
    real = {"image": [], "attributes": [], "mask": []}
    for batch in test:
        for key in real:
            real[key].append(batch[key].numpy())
    real = {key: np.concatenate(value) for key, value in real.items()}
    iou_before = layer_metrics.gate_scores(model, real["image"], real["attributes"],
                                           real["mask"])["gate_iou"]
    model.fit(_shapes_data("train", 32, 2000, training=True), epochs=1, steps_per_epoch=200,
              verbose=0)
    after = likelihood_metrics.evaluate_likelihood(model, test, num_samples=0)
    gate = layer_metrics.gate_scores(model, real["image"], real["attributes"], real["mask"])
    assert after["elbo"] > before["elbo"] + 500, (before, after)
    # About 0.69 here; an all-foreground gate scores 0.12.
    assert gate["gate_iou"] > max(iou_before, gate["gate_iou_all_foreground"]) + 0.3, gate


@pytest.mark.parametrize("likelihood", sorted(_HAND_LOCATIONS))
def test_training_without_masks_works(likelihood):
    model = _model(likelihood=likelihood)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y, _ = _batch(6)
    if likelihood == "bernoulli":
        x = (x > 0.5).astype(np.float32)
    logs = model.fit(x, y, batch_size=3, epochs=2, verbose=0).history
    assert logs["loss"][-1] < logs["loss"][0]
    np.testing.assert_allclose(logs["loss"], [-v for v in logs["elbo"]], rtol=1e-6)


def test_save_and_load_give_identical_outputs(tmp_path):
    model = _model(prior="learned_gaussian", seed=5, gate_supervision_weight=0.25)
    model.compile(optimizer=keras.optimizers.Adam())
    x, y, m = _batch()
    model.fit({"image": x, "attributes": y, "mask": m}, batch_size=3, epochs=1, verbose=0)
    path = str(tmp_path / "discvae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, DisCVAE) and loaded.gate_supervision_weight == 0.25
    assert (loaded.foreground_dim, loaded.background_dim) == (FOREGROUND, BACKGROUND)
    z = RNG.normal(size=(3, FOREGROUND + BACKGROUND)).astype(np.float32)
    for key, value in model.image_layers(y, z).items():
        np.testing.assert_array_equal(loaded.image_layers(y, z)[key], value, err_msg=key)
    np.testing.assert_array_equal(loaded.reconstruct(x, y), model.reconstruct(x, y))
    config = model.get_config()
    assert "latent_dim" not in config
    again = DisCVAE.from_config(config).get_config()
    networks = ("encoder", "decoder", "background_encoder", "background_decoder")
    assert {k: v for k, v in again.items() if k not in networks} == {
        k: v for k, v in config.items() if k not in networks}


def test_export_round_trip_in_a_fresh_process(tmp_path):
    model = _model()
    x, y, _ = _batch()
    z = RNG.normal(size=(3, FOREGROUND + BACKGROUND)).astype(np.float32)
    path = export.export_saved_model(model, str(tmp_path / "export"))
    served = harness.load_in_fresh_process(path, {"images": x, "attributes": y, "latents": z})
    assert sorted(served) == ["encode", "generate", "reconstruct", "serving_default"]
    layers = model.image_layers(y, z)
    mean, scale = model.encode(x, y)
    expected = {
        "generate": {"images": layers["image"], "foreground": layers["foreground"],
                     "gate": layers["gate"], "background": layers["background"]},
        "encode": {"posterior_mean": mean, "posterior_scale": scale},
        "reconstruct": {"reconstructions": model.reconstruct(x, y)}}
    expected["serving_default"] = expected["generate"]
    for name, outputs in expected.items():
        assert set(served[name]) == set(outputs), name
        for key, value in outputs.items():
            np.testing.assert_allclose(served[name][key], value, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}/{key}")

