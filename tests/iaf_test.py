"""The IAF posterior (Kingma et al. 2016) and free bits, against hand computations."""

import harness
import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special
from scipy import stats

import zoo
from zoo import random as zoo_random
from zoo.layers import iaf
from zoo.layers import made
from zoo.losses import free_bits

RNG = np.random.default_rng(0)


def _randomise(layer, scale=0.5):
    """Random weights everywhere (a fresh MADE's output kernels are zero)."""
    for weight in layer.weights:
        weight.assign(RNG.normal(scale=scale, size=weight.shape).astype(np.float32))


def _images(batch=3):
    return (RNG.uniform(size=(batch, 28, 28, 1)) > 0.5).astype(np.float32)


@pytest.mark.parametrize("reverse", [False, True])
def test_made_outputs_depend_only_on_earlier_inputs_in_its_order(reverse):
    layer = made.MADE(5, hidden_units=(7, 6), context_dim=3, reverse=reverse)
    _randomise(layer)
    inputs = tf.constant(RNG.normal(size=(2, 5)), tf.float32)
    context = tf.constant(RNG.normal(size=(2, 3)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([inputs, context])
        shift, scale = layer(inputs, context)
    order = np.arange(5)[::-1] if reverse else np.arange(5)
    rank = np.argsort(order)  # rank[i]: position of input i in the order.
    for head in (shift, scale):
        jacobian = tape.batch_jacobian(head, inputs).numpy()  # [B, out, in]
        allowed = rank[None, :] < rank[:, None]  # out i may see in j iff j comes first.
        assert np.all(jacobian[:, ~allowed] == 0)
        assert np.all(np.abs(jacobian[:, allowed]) > 0)  # Random weights use every path.
        assert np.all(np.abs(tape.batch_jacobian(head, context).numpy()) > 0)


def test_made_of_one_input_depends_on_the_context_only():
    layer = made.MADE(1, hidden_units=4, context_dim=2)
    _randomise(layer)
    inputs = tf.constant([[0.3], [-2.0], [0.3]])
    context = tf.constant([[1.0, 2.0], [1.0, 2.0], [0.0, -1.0]])
    shift, scale = layer(inputs, context)
    np.testing.assert_allclose(shift[0], shift[1])
    np.testing.assert_allclose(scale[0], scale[1])
    assert not np.allclose(shift[0], shift[2]) and not np.allclose(scale[0], scale[2])


def _iaf_vae(**kwargs):
    model = zoo.VAE((28, 28, 1), latent_dim=4, base_filters=4, posterior="iaf",
                    flow_steps=2, flow_hidden=(8, 8), **kwargs)
    _randomise(model.flow)
    return model


def test_log_prob_is_the_change_of_variables_from_the_recorded_sigmas():
    model = _iaf_vae()
    inputs = {"images": tf.constant(_images())}
    params = model.posterior_params(inputs)
    noise = RNG.normal(size=(3, 4)).astype(np.float32)
    z, log_q = model.latents_from_noise(params, noise)
    # By hand: z_0 = mu + sigma * eps, then each step records sigma_t.
    mu, raw = params[:, :4].numpy(), params[:, 4:8].numpy()
    sigma = 1e-3 + np.log1p(np.exp(raw))
    context = params[:, 8:]
    latents = mu + sigma * noise
    expected = stats.norm.logpdf(latents, mu, sigma).sum(-1)
    for step in model.flow.steps:
        m, s = (t.numpy() for t in step(tf.constant(latents), context))
        sigma_t = special.expit(s)
        latents = sigma_t * latents + (1 - sigma_t) * m
        expected -= np.log(sigma_t).sum(-1)
    np.testing.assert_allclose(z, latents, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.reduce_sum(log_q, -1), expected, rtol=1e-5)
    # TFP's TransformedDistribution: a fresh tensor (no bijector cache) is inverted
    # through MaskedAutoregressiveFlow's loop, and its log_prob is the same value.
    posterior = model.posterior(inputs)
    np.testing.assert_allclose(posterior.log_prob(tf.constant(latents)), expected, rtol=1e-4)
    draws = posterior.sample(2, seed=(1, 2))
    assert draws.shape == (2, 3, 4) and np.all(np.isfinite(posterior.log_prob(draws)))


def test_an_identity_flow_gives_exactly_the_diagonal_posteriors_bounds():
    diagonal = zoo.VAE((28, 28, 1), latent_dim=4, base_filters=4)
    images = keras.Input((28, 28, 1))
    params = diagonal.encoder(images)
    encoder = keras.Model(images, keras.layers.Concatenate()(
        [params, keras.layers.Dense(4)(params)]))
    flowed = zoo.VAE((28, 28, 1), latent_dim=4, posterior="iaf", flow_steps=3,
                     flow_hidden=8, encoder=encoder, decoder=diagonal.decoder)
    _randomise(flowed.flow)
    for step in flowed.flow.steps:  # s = 40: sigma_t = 1 in float32, so z_t = z_{t-1}.
        step.kernels[-1].assign(tf.zeros_like(step.kernels[-1]))
        step.context_kernels[-1].assign(tf.zeros_like(step.context_kernels[-1]))
        step.biases[-1].assign(np.r_[RNG.normal(size=4), np.full(4, 40.0)].astype(np.float32))
    x = _images(4)
    seed = zoo_random.step_seed(0, 5)
    one, other = diagonal.elbo_terms({"images": tf.constant(x)}, seed), flowed.elbo_terms(
        {"images": tf.constant(x)}, seed)
    np.testing.assert_allclose(other["latents"], one["latents"])
    np.testing.assert_allclose(other["reconstruction"], one["reconstruction"])
    # The flow's KL is the Monte Carlo value at the sample: the diagonal one's there.
    prior = diagonal.prior.distribution()
    monte_carlo = one["posterior"].log_prob(one["latents"]) - prior.log_prob(one["latents"])
    np.testing.assert_allclose(other["kl"], monte_carlo, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(flowed.log_likelihood(x, num_samples=20),
                               diagonal.log_likelihood(x, num_samples=20), rtol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_gradients_are_finite_with_float32_log_determinants(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = _iaf_vae(free_bits=0.1)
        x = tf.constant(_images(4))
        with tf.GradientTape() as tape:
            terms = model.elbo_terms({"images": x}, zoo_random.step_seed(0, 1), training=True)
            loss = tf.reduce_mean(model.per_example_loss(terms))
        gradients = tape.gradient(loss, model.trainable_variables)
        flow_weights = {id(v) for v in model.flow.trainable_variables}
        assert flow_weights and all(
            g is not None and np.all(np.isfinite(g))
            for g, v in zip(gradients, model.trainable_variables) if id(v) in flow_weights)
        assert all(np.all(np.isfinite(g)) for g in gradients if g is not None)
        _, log_det = model.flow.forward(terms["latents"], tf.zeros([4, 4]))
        assert model.flow.steps[0].compute_dtype != "float32"
        assert log_det.dtype == tf.float32 and terms["kl_dims"].dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_cvae_takes_the_flow_and_its_export_encodes_a_posterior_sample():
    model = zoo.CVAE((16, 16, 3), 2, latent_dim=3, base_filters=4, encoder_hidden=6,
                     likelihood="gaussian", posterior="iaf", flow_steps=1, flow_hidden=5)
    images = RNG.uniform(size=(2, 16, 16, 3)).astype(np.float32)
    attributes = np.array([[1, 0], [0, 1]], np.float32)
    outputs = model.encoding_outputs(model.unpack((images, attributes)))
    assert sorted(outputs) == ["posterior_mean", "posterior_sample", "posterior_scale"]
    again = model.encoding_outputs(model.unpack((images[::-1], attributes[::-1])))
    np.testing.assert_allclose(again["posterior_sample"][::-1], outputs["posterior_sample"],
                               rtol=1e-5, atol=1e-6)  # Each image's own draw, in any batch.
    code = model.posterior_code(model.unpack((images, attributes)))
    assert not np.allclose(code, outputs["posterior_mean"])  # The flow moves the code.
    np.testing.assert_allclose(model.reconstruct(images, attributes),
                               model.decode(code, attributes), atol=1e-6)


def test_the_export_serves_the_base_gaussian_and_a_posterior_sample_without_zoo(tmp_path):
    model = _iaf_vae()
    images = _images(3)
    path = zoo.export_saved_model(model, str(tmp_path / "export"))
    served = harness.load_in_fresh_process(path, {"images": images, "latents": np.zeros(
        (3, 4), np.float32), "noise": np.zeros((3, 4), np.float32)})
    expected = model.encoding_outputs(model.unpack(images))
    assert sorted(served["encode"]) == ["posterior_mean", "posterior_sample", "posterior_scale"]
    for key, value in expected.items():
        np.testing.assert_allclose(served["encode"][key], value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["reconstruct"]["reconstructions"],
                               model.reconstruct(images), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("build", [
    lambda: zoo.DCIGN((16, 16, 3), [("scale", 1)], posterior="iaf"),
    lambda: zoo.DisCVAE((16, 16, 3), 2, posterior="iaf"),
    lambda: zoo.VAE((28, 28, 1), posterior="flow"),
])
def test_models_whose_posterior_cannot_take_the_flow_refuse_it(build):
    with pytest.raises(ValueError, match="posterior='(iaf|flow)' is not allowed"):
        build()


def test_free_bits_floors_each_groups_batch_mean_and_stops_its_gradient():
    kl_dims = tf.constant([[0.05, 1.0, 0.5], [0.15, 3.0, 0.1]])
    with tf.GradientTape() as tape:
        tape.watch(kl_dims)
        floored = free_bits.floored_kl(kl_dims, [1, 2], threshold=0.2)
    # Group 0 averages 0.1 < 0.2: lambda; group 1 averages 2.3: its own KL.
    np.testing.assert_allclose(floored, [0.2 + 1.5, 0.2 + 3.1], rtol=1e-6)
    assert np.mean(floored) == pytest.approx(max(0.2, 0.1) + max(0.2, 2.3))
    np.testing.assert_allclose(tape.gradient(floored, kl_dims), [[0, 1, 1], [0, 1, 1]])


def test_free_bits_changes_the_objective_but_not_the_reported_elbo():
    plain = zoo.VAE((28, 28, 1), latent_dim=4, base_filters=4)
    floored = zoo.VAE.from_config({**plain.get_config(), "free_bits": 5.0})
    floored.set_weights(plain.get_weights())
    inputs, seed = {"images": tf.constant(_images(4))}, zoo_random.step_seed(0, 2)
    one, other = plain.elbo_terms(inputs, seed), floored.elbo_terms(inputs, seed)
    np.testing.assert_allclose(other["elbo"], one["elbo"])
    # A fresh encoder's KL per dimension is far below 5 nats: every group is floored.
    assert np.all(np.mean(one["kl_dims"], 0) < 5.0)
    np.testing.assert_allclose(floored.per_example_loss(other),
                               -one["reconstruction"] + 4 * 5.0, rtol=1e-6)


def test_dcign_free_bits_groups_are_its_named_groups():
    model = zoo.DCIGN((16, 16, 3), [("scale", 1), ("position_x", 2)], intrinsic_dim=3)
    assert model.free_bits_groups() == [1, 2, 3]
    layer = iaf.InverseAutoregressiveFlow(3, num_steps=2, hidden_units=4)
    assert [step.reverse for step in layer.steps] == [False, True]
