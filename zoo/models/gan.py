r"""Generative adversarial networks: the adversarial training step, and DCGAN.

A GAN is an implicit generative model: z ~ N(0, I), x = G(z). It has no
tractable density; a discriminator D tells real from generated examples and
the two play a game of `zoo.losses.objectives`: the minimax or
non-saturating game of `zoo.losses.adversarial`, or an f-GAN game of
`zoo.losses.f_divergences`. `GAN` holds the training step for any pair of
networks and any objective; `DCGAN` adds the convolutional networks of
Radford et al. (2016) and image handling, `MLPGAN` the small ReLU networks of
the 2-D toy (Metz et al. 2017) on points in R^2.

One `train_step` consumes one global batch of B real examples and makes

    k = d_steps discriminator updates, each on B / k real examples (every
        k-th of the batch) and as many fresh samples G(z) (Goodfellow et al.
        2014, Algorithm 1), then
    one generator update on B fresh samples,

each with its own optimizer (`compile(d_optimizer=..., g_optimizer=...)`).
Losses are per example and reduced with `tf.nn.compute_average_loss`, i.e.
divided by the *global* batch, so that the gradients that `tf.distribute`
sums over replicas are those of the global mean. Noise comes from stateless
seeds built from the model's seed and the generator step counter, drawn for
the global batch and sliced per replica (`zoo.random`), and batch
normalisation is synchronised across replicas, so a run on N replicas sees
the statistics a one-device run sees.

With `ema_decay > 0` an exponential moving average of the generator's
weights (and batch-norm statistics) is kept in `ema_generator`,

    w_ema <- d_t w_ema + (1 - d_t) w,   d_t = min(ema_decay, (1 + t) / (10 + t)),

(the warm-up of `tf.train.ExponentialMovingAverage`'s `num_updates`), and
used by `generate`, the sample grids and the export (Yazici et al. 2019).

Metrics: `d_loss`, `g_loss` (per example, averaged), `d_real` and `d_fake`
(the mean discriminator output on real and generated examples: D = sigmoid(v)
for the minimax and non-saturating games, the variational function
T = g_f(v) for f-divergences) and `loss` = d_loss + g_loss, which the runner's
NaN guard and checkpoints watch. Validation (`test_step`) runs the networks as
the training step does, on batch statistics and in `d_steps` chunks, with fixed
noise and without moving any weight or batch-norm statistic: its `d_real`,
`d_fake` and `d_loss` are those a training step on the batch would report.

References:
    Goodfellow et al. (2014), Generative Adversarial Nets, Algorithm 1.
    Radford, Metz & Chintala (2016), Unsupervised Representation Learning with
    Deep Convolutional Generative Adversarial Networks, Section 3.
    Nowozin, Cseke & Tomioka (2016), f-GAN.
    Yazici et al. (2019), The Unusual Effectiveness of Averaging in GAN Training.
    Metz, Poole, Pfau & Sohl-Dickstein (2017), Unrolled Generative
    Adversarial Networks (the MLP players of the 2-D toy).
"""

import keras
import tensorflow as tf

from zoo import checks
from zoo import images as zoo_images
from zoo import networks
from zoo import random as zoo_random
from zoo.losses import objectives
from zoo.models import means

__all__ = ["GAN", "DCGAN", "MLPGAN", "dcgan_generator", "dcgan_discriminator",
           "mlp_generator", "mlp_discriminator"]

_METRICS = ("loss", "d_loss", "g_loss", "d_real", "d_fake")
_FIXED_NOISE_STREAM = -3
_TEST_NOISE_STREAM = -1


def _initializer(seed=None):
    """N(0, 0.02), the initialisation of Radford et al. (2016), Section 4."""
    return keras.initializers.RandomNormal(0.0, 0.02, seed=seed)


def _batch_norm():
    # Synchronised: statistics of the global batch under any strategy.
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True)


def dcgan_generator(latent_dim, image_shape, base_filters=64, name="generator"):
    """z [B, latent_dim] -> images [B, H, W, C] in (-1, 1) (Radford et al. 2016, Figure 1).

    A dense projection to the smallest grid (batch norm, ReLU), then 4x4
    transposed convolutions of stride 2 with batch norm and ReLU that double
    the side and halve the filters, the last one to C channels with tanh.
    The grid follows `zoo.networks.downsampling_plan` (28: 7 -> 14 -> 28;
    32: 4 -> 8 -> 16 -> 32; 64: 4 -> ... -> 64).
    """
    steps, width = networks.downsampling_plan(image_shape[0])
    top = base_filters * 2 ** (steps - 1)
    layers = [keras.Input(shape=(latent_dim,)),
              keras.layers.Dense(width * width * top, use_bias=False,
                                 kernel_initializer=_initializer()),
              _batch_norm(), keras.layers.ReLU(),
              keras.layers.Reshape((width, width, top))]
    for level in reversed(range(1, steps)):
        layers += [keras.layers.Conv2DTranspose(base_filters * 2 ** (level - 1), 4, 2,
                                                padding="same", use_bias=False,
                                                kernel_initializer=_initializer()),
                   _batch_norm(), keras.layers.ReLU()]
    layers += [keras.layers.Conv2DTranspose(image_shape[-1], 4, 2, padding="same",
                                            kernel_initializer=_initializer()),
               keras.layers.Activation("tanh", dtype="float32")]
    return keras.Sequential(layers, name=name)


def dcgan_discriminator(image_shape, base_filters=64, name="discriminator"):
    """Images [B, H, W, C] in [-1, 1] -> logits [B, 1] (Radford et al. 2016).

    4x4 convolutions of stride 2 that halve the side and double the filters,
    LeakyReLU(0.2), batch norm on all but the first, then a dense logit.
    """
    steps, _ = networks.downsampling_plan(image_shape[0])
    layers = [keras.Input(shape=tuple(image_shape))]
    for level in range(steps):
        layers.append(keras.layers.Conv2D(base_filters * 2 ** level, 4, 2, padding="same",
                                          use_bias=level == 0,
                                          kernel_initializer=_initializer()))
        if level > 0:
            layers.append(_batch_norm())
        layers.append(keras.layers.LeakyReLU(0.2))
    layers += [keras.layers.Flatten(),
               keras.layers.Dense(1, kernel_initializer=_initializer(), dtype="float32")]
    return keras.Sequential(layers, name=name)


def _cross_replica(function, *args):
    """Runs function(strategy, *args) once in cross-replica context (merge_call if needed)."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return function(tf.distribute.get_strategy(), *args)
    return context.merge_call(function, args=args)


def _tf_variable(variable):
    return variable.value if isinstance(variable, keras.Variable) else variable


@keras.saving.register_keras_serializable(package="zoo")
class GAN(means.MeanMetrics, keras.Model):
    """A generator and a discriminator trained by an adversarial objective.

    Args:
        generator: Keras model, latents [B, latent_dim] -> examples.
        discriminator: Keras model, examples -> logits [B, 1] or [B].
        latent_dim: size of z ~ N(0, I).
        objective: a name of `zoo.losses.objectives.NAMES` ("minimax",
            "non_saturating", or an f-divergence such as "kl", "jeffrey",
            "weighted_jensen_shannon") or an `Objective`
            (`zoo.losses.objectives.Objective(name, pi=..., generator_update=...)`).
        d_steps: k, discriminator updates per generator update.
        ema_decay: decay of the generator's weight average; 0 disables it.
        seed: integer seed of every noise draw.
        **kwargs: passed to `keras.Model`.

    Raises:
        TypeError: a size, step count or seed that is not an int.
        ValueError: bad sizes, decay (nan or outside [0, 1)) or objective name.
    """

    def __init__(self, generator, discriminator, latent_dim, objective="non_saturating",
                 d_steps=1, ema_decay=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        latent_dim = checks.positive_int("latent_dim", latent_dim)
        d_steps = checks.positive_int("d_steps", d_steps)
        ema_decay = checks.finite_non_negative("ema_decay", ema_decay)
        if ema_decay >= 1.0:
            raise ValueError(f"ema_decay must be in [0, 1); got {ema_decay}.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.objective = objectives.get(objective)
        self.d_steps = d_steps
        self.ema_decay = ema_decay
        self.seed = checks.integer("seed", seed)
        self.ema_generator = self._averaged_copy(generator) if self.ema_decay > 0 else None
        self.d_optimizer = None
        self.g_optimizer = None
        self.track_means(*_METRICS)
        self.built = True

    @staticmethod
    def _averaged_copy(generator):
        """A frozen copy of the generator's architecture and weights, for the average."""
        copy = keras.models.clone_model(generator)
        copy.set_weights(generator.get_weights())
        copy.trainable = False
        return copy

    # -- Optimizers --------------------------------------------------------------

    def compile(self, d_optimizer=None, g_optimizer=None, optimizer=None,
                jit_compile=False, **kwargs):
        """Sets the discriminator's and the generator's optimizers and builds them.

        Under the `mixed_float16` policy both are wrapped in
        `keras.optimizers.LossScaleOptimizer` (Keras itself would wrap only
        `optimizer=`). `model.optimizer` is the generator's optimizer, so its
        `iterations` count training steps; both optimizers are built here on
        their own variables, and `save_weights` / `load_weights` carry the
        state of both.

        Args:
            d_optimizer: the discriminator's optimizer (default: Adam(2e-4,
                beta_1=0.5), Radford et al. 2016).
            g_optimizer: the generator's optimizer (same default).
            optimizer: accepted for Keras' `compile_from_config`; used as
                `g_optimizer` when that is None.
            jit_compile: XLA-compile the training step (slower on CPU).
            **kwargs: passed to `keras.Model.compile` (e.g. `steps_per_execution`).
        """
        d_optimizer = self._adam_or(d_optimizer)
        g_optimizer = self._adam_or(g_optimizer if g_optimizer is not None else optimizer)
        if self.dtype_policy.name == "mixed_float16":
            d_optimizer, g_optimizer = (
                o if isinstance(o, keras.optimizers.LossScaleOptimizer)
                else keras.optimizers.LossScaleOptimizer(o) for o in (d_optimizer, g_optimizer))
        super().compile(optimizer=g_optimizer, jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = self.optimizer
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @staticmethod
    def _adam_or(optimizer):
        if optimizer is None:
            return keras.optimizers.Adam(2e-4, beta_1=0.5)
        return keras.optimizers.get(optimizer)

    def get_compile_config(self):
        if self.d_optimizer is None:
            return None
        serialize = keras.saving.serialize_keras_object
        return {"d_optimizer": serialize(self._inner(self.d_optimizer)),
                "g_optimizer": serialize(self._inner(self.g_optimizer)),
                "jit_compile": bool(self.jit_compile)}

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
        self.compile(**config)

    @staticmethod
    def _inner(optimizer):
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return optimizer.inner_optimizer
        return optimizer

    # -- Parts -------------------------------------------------------------------

    def preprocess(self, data):
        """A batch as the discriminator's input; images override this."""
        return tf.cast(zoo_images.unpack_images(data), tf.float32)

    def postprocess(self, samples):
        """Generator outputs as users see them; images override this."""
        return samples

    def sampling_generator(self):
        """The network `generate` uses: the weight average if kept, else the generator."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def discriminate(self, examples, training=False):
        """Raw discriminator outputs v [B] (float32) for discriminator inputs."""
        logits = tf.cast(self.discriminator(examples, training=training), tf.float32)
        return tf.reshape(logits, [-1])

    def discriminator_outputs(self, examples):
        """The export's view of the discriminator: raw `logits` and `discriminator_output`."""
        logits = self.discriminate(self.preprocess(examples))
        return {"logits": logits,
                "discriminator_output": self.objective.discriminator_output(logits)}

    def latents(self, batch_size, seed):
        """z ~ N(0, I) [batch_size, latent_dim] for this replica, from a stateless seed."""
        return zoo_random.global_batch_normal([batch_size, self.latent_dim], seed)

    def generate(self, latents):
        """Samples for latents [N, latent_dim], from the averaged generator when kept."""
        latents = tf.cast(latents, tf.float32)
        raw = self.sampling_generator()(latents, training=False)
        return self.postprocess(tf.cast(raw, tf.float32))

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`, refusing empty data and warning of a batch larger than it."""
        checks.check_fit_data(type(self).__name__, x,
                              kwargs.get("batch_size", args[1] if len(args) > 1 else None))
        return super().fit(x, *args, **kwargs)

    def sample(self, num_samples, seed=0):
        """`num_samples` (a positive int) samples from noise seeded by `seed`."""
        num_samples = checks.positive_int("num_samples", num_samples)
        noise = tf.random.stateless_normal([num_samples, self.latent_dim],
                                           zoo_random.step_seed(seed, 0))
        return self.generate(noise)

    def call(self, latents, training=False):
        del training  # Sampling is deterministic given z.
        return self.generate(latents)

    # -- Training ----------------------------------------------------------------

    def _chunks(self, real):
        """The batch as d_steps strided chunks: chunk j holds global rows j, j + k, ...

        Strided by the row's index in the global batch, so that the replicas'
        chunks together form the one-device chunk, also when the replicas hold
        unequal batches (the uneven last batch of an evaluation).
        """
        if self.d_steps == 1:
            return [real]
        offset, _ = zoo_random.replica_rows(tf.shape(real)[0])
        return [real[(index - offset) % self.d_steps::self.d_steps]
                for index in range(self.d_steps)]

    def _fakes(self, batch, seed):
        """G(z) for the discriminator: the generator on batch statistics, as in training."""
        return tf.stop_gradient(self.generator(self.latents(batch, seed), training=True))

    def _discriminator_loss(self, real, fake):
        """Per-example discriminator loss and the logits, on batch statistics.

        Real and generated examples go through the discriminator in separate
        calls, so each batch norm normalises a real-only and a fake-only batch.
        """
        real_logits = self.discriminate(real, training=True)
        fake_logits = self.discriminate(fake, training=True)
        return (self.objective.discriminator_loss(real_logits, fake_logits), real_logits,
                fake_logits)

    def _generator_loss(self, batch, seed):
        """Per-example generator loss on `batch` fresh samples, on batch statistics."""
        fake = self.generator(self.latents(batch, seed), training=True)
        return self.objective.generator_loss(self.discriminate(fake, training=True))

    def _discriminator_update(self, real, seed):
        fake = self._fakes(tf.shape(real)[0], seed)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            per_example, real_logits, fake_logits = self._discriminator_loss(real, fake)
            loss = tf.nn.compute_average_loss(per_example)
            scaled = self.d_optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        self.d_optimizer.apply_gradients(zip(gradients, variables))
        return per_example, real_logits, fake_logits

    def _generator_update(self, batch, seed):
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            per_example = self._generator_loss(batch, seed)
            loss = tf.nn.compute_average_loss(per_example)
            scaled = self.g_optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        self.g_optimizer.apply_gradients(zip(gradients, variables))
        return per_example

    def ema_weight(self):
        """d_t = min(ema_decay, (1 + t) / (10 + t)), t the generator steps taken."""
        steps = tf.cast(self.g_optimizer.iterations, tf.float32)
        return tf.minimum(self.ema_decay, (1.0 + steps) / (10.0 + steps))

    def _update_ema(self):
        decay = self.ema_weight()
        pairs = [(_tf_variable(a), _tf_variable(w)) for a, w in
                 zip(self.ema_generator.variables, self.generator.variables)]

        def update(strategy, pairs, decay):
            for average, weight in pairs:
                strategy.extended.update(
                    average, lambda a, w, d: a.assign(d * a + (1.0 - d) * tf.cast(w, a.dtype)),
                    args=(weight, decay), group=False)

        _cross_replica(update, pairs, decay)

    def train_step(self, data):
        real = self.preprocess(data)
        step = self.g_optimizer.iterations
        batch = real.shape[0]
        if self.d_steps > 1 and batch is not None and batch % self.d_steps:
            raise ValueError(f"The per-replica batch ({batch}) must split into d_steps="
                             f"{self.d_steps} equal discriminator batches.")
        d_losses, real_logits, fake_logits = [], [], []
        for index, chunk in enumerate(self._chunks(real)):
            per_example, real_v, fake_v = self._discriminator_update(
                chunk, zoo_random.step_seed(self.seed, step, stream=index))
            d_losses.append(per_example)
            real_logits.append(real_v)
            fake_logits.append(fake_v)
        g_loss = self._generator_update(
            tf.shape(real)[0], zoo_random.step_seed(self.seed, step, stream=self.d_steps))
        if self.ema_generator is not None:
            self._update_ema()
        return self._update_metrics(tf.concat(d_losses, 0), g_loss,
                                     tf.concat(real_logits, 0), tf.concat(fake_logits, 0))

    def test_step(self, data):
        """The training step's forward passes on a batch, without any update.

        Training never runs the networks on their moving batch-norm
        statistics (those of the discriminator mix real-only and fake-only
        batches), so validation runs them as `train_step` does: the batch in
        `d_steps` strided chunks, each against as many samples, on batch
        statistics, then `g_loss` on as many fresh samples as the batch. The
        noise is fixed (the same every evaluation). A `keras.StatelessScope`
        keeps batch norm's moving statistics where they are. `d_real`, `d_fake`
        and `d_loss` are thus what the discriminator update of a training step
        on this batch would report; `g_loss` is measured before, not after,
        that update.
        """
        real = self.preprocess(data)
        d_losses, real_logits, fake_logits = [], [], []
        with keras.StatelessScope():
            for index, chunk in enumerate(self._chunks(real)):
                seed = zoo_random.step_seed(self.seed, _TEST_NOISE_STREAM, stream=index)
                per_example, real_v, fake_v = self._discriminator_loss(
                    chunk, self._fakes(tf.shape(chunk)[0], seed))
                d_losses.append(per_example)
                real_logits.append(real_v)
                fake_logits.append(fake_v)
            g_loss = self._generator_loss(
                tf.shape(real)[0],
                zoo_random.step_seed(self.seed, _TEST_NOISE_STREAM, stream=self.d_steps))
        return self._update_metrics(tf.concat(d_losses, 0), g_loss,
                                     tf.concat(real_logits, 0), tf.concat(fake_logits, 0))

    def _update_metrics(self, d_loss, g_loss, real_logits, fake_logits):
        values = {"d_loss": d_loss, "g_loss": g_loss,
                  "d_real": self.objective.discriminator_output(real_logits),
                  "d_fake": self.objective.discriminator_output(fake_logits),
                  "loss": tf.reduce_mean(d_loss) + tf.reduce_mean(g_loss)}
        return self.update_means(values)

    # -- Serialization -----------------------------------------------------------

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {"name": self.name, "trainable": self.trainable,
                "generator": serialize(self.generator),
                "discriminator": serialize(self.discriminator),
                "latent_dim": self.latent_dim, "objective": serialize(self.objective),
                "d_steps": self.d_steps, "ema_decay": self.ema_decay, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator", "objective"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="zoo")
class DCGAN(GAN):
    """The deep convolutional GAN of Radford et al. (2016) for square images.

    Images enter in [0, 1] (float, or uint8 scaled by 1/255) and are mapped to
    [-1, 1] for the discriminator; the tanh generator's outputs are mapped back
    to [0, 1]. Sides 28, 32 and 64 (anything `zoo.networks.downsampling_plan`
    accepts) work.

    Args:
        image_shape: (height, width, channels).
        latent_dim: size of z.
        objective: see `GAN` (default "non_saturating").
        base_filters: filters of the discriminator's first convolution and of
            the generator's last hidden one (they double per halving).
        d_steps, ema_decay, seed: see `GAN`.
        generator, discriminator: optional networks replacing the DCGAN ones.
        **kwargs: passed to `keras.Model`.

    Raises:
        ValueError: an unsupported image shape, or as `GAN`.
    """

    def __init__(self, image_shape, latent_dim=100, objective="non_saturating",
                 base_filters=64, d_steps=1, ema_decay=0.0, seed=0, generator=None,
                 discriminator=None, **kwargs):
        image_shape = checks.image_shape(image_shape)
        if image_shape[0] != image_shape[1]:
            raise ValueError(f"image_shape must be (size, size, channels); got {image_shape}.")
        base_filters = checks.positive_int("base_filters", base_filters)
        latent_dim = checks.positive_int("latent_dim", latent_dim)
        if generator is None:
            generator = dcgan_generator(latent_dim, image_shape, base_filters)
        if discriminator is None:
            discriminator = dcgan_discriminator(image_shape, base_filters)
        super().__init__(generator, discriminator, latent_dim, objective=objective,
                         d_steps=d_steps, ema_decay=ema_decay, seed=seed, **kwargs)
        self.image_shape = image_shape
        self.base_filters = base_filters

    def check_images(self, images):
        """Images as float32 in [0, 1] (`zoo.images.check_images`)."""
        return zoo_images.check_images(images, self.image_shape, type(self).__name__)

    def fit(self, x=None, *args, **kwargs):
        """`GAN.fit`, after checking the range of the first batch eagerly (see `check_images`).

        The training step checks every batch, but XLA (`jit_compile=True`)
        drops that assertion; this check is a `ValueError` before any step.
        """
        images = zoo_images.first_images(x)
        if images is not None and len(images):
            checks.unit_float_images(images, type(self).__name__)
        return super().fit(x, *args, **kwargs)

    def preprocess(self, data):
        """[0, 1] images -> [-1, 1], the range of the tanh generator."""
        return self.check_images(zoo_images.unpack_images(data)) * 2.0 - 1.0

    def postprocess(self, samples):
        """tanh outputs in (-1, 1) -> images in [0, 1]."""
        return tf.clip_by_value((samples + 1.0) * 0.5, 0.0, 1.0)

    def discriminator_output(self, images):
        """The discriminator's output for images in [0, 1], on moving batch-norm statistics.

        The quantity `d_real` averages, but in inference mode, as the export
        runs it; `d_real` itself is measured on batch statistics, as training
        runs the discriminator (see `test_step`).
        """
        return self.objective.discriminator_output(
            self.discriminate(self.preprocess(images)))

    def fixed_latents(self, num_images=64):
        """The same noise batch on every call: sample grids comparable across epochs."""
        return tf.random.stateless_normal(
            [num_images, self.latent_dim], zoo_random.step_seed(self.seed, _FIXED_NOISE_STREAM))

    def summary_images(self, batch, num_images=64):
        """`samples` from a fixed noise batch, and `real` images from `batch`."""
        real = self.check_images(zoo_images.unpack_images(batch))[:num_images]
        return {"samples": self.generate(self.fixed_latents(num_images)), "real": real}

    def serving_endpoints(self):
        """`generate` (latents -> images, also serving_default) and `discriminate`."""
        latents = tf.TensorSpec([None, self.latent_dim], tf.float32, name="latents")
        images = tf.TensorSpec([None, *self.image_shape], tf.float32, name="images")

        def generate(latents):
            return {"images": self.generate(latents)}

        def discriminate(images):
            return self.discriminator_outputs(images)

        return {"generate": (generate, [latents]),
                "discriminate": (discriminate, [images])}

    def get_config(self):
        config = super().get_config()
        config.update(image_shape=list(self.image_shape), base_filters=self.base_filters)
        return config


def mlp_generator(latent_dim, hidden=(128, 128), name="generator"):
    """z -> a point in R^2 through ReLU layers (Metz et al. 2017's toy generator)."""
    layers = [keras.Input(shape=(latent_dim,))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(keras.layers.Dense(2, dtype="float32"))
    return keras.Sequential(layers, name=name)


def mlp_discriminator(hidden=(128, 128), name="discriminator"):
    """A point in R^2 -> a logit, through ReLU layers."""
    layers = [keras.Input(shape=(2,))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(keras.layers.Dense(1, dtype="float32"))
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="zoo")
class MLPGAN(GAN):
    """A GAN on points in R^2 with MLP players (`mlp_generator`, `mlp_discriminator`).

    Args:
        latent_dim: size of z.
        hidden: units of each ReLU layer of both players.
        objective, d_steps, ema_decay, seed: see `GAN`.
        generator, discriminator: optional networks replacing the MLPs.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, latent_dim=2, hidden=(128, 128), objective="non_saturating",
                 d_steps=1, ema_decay=0.0, seed=0, generator=None, discriminator=None,
                 **kwargs):
        latent_dim = checks.positive_int("latent_dim", latent_dim)
        hidden = tuple(checks.positive_int("hidden", units) for units in hidden)
        if generator is None:
            generator = mlp_generator(latent_dim, hidden)
        if discriminator is None:
            discriminator = mlp_discriminator(hidden)
        super().__init__(generator, discriminator, latent_dim, objective=objective,
                         d_steps=d_steps, ema_decay=ema_decay, seed=seed, **kwargs)
        self.hidden = hidden

    def serving_endpoints(self):
        """`generate` (latents -> points, also serving_default) and `discriminate`."""
        latents = tf.TensorSpec([None, self.latent_dim], tf.float32, name="latents")
        points = tf.TensorSpec([None, 2], tf.float32, name="points")

        def generate(latents):
            return {"points": self.generate(latents)}

        def discriminate(points):
            return self.discriminator_outputs(points)

        return {"generate": (generate, [latents]),
                "discriminate": (discriminate, [points])}

    def get_config(self):
        config = super().get_config()
        config.update(hidden=list(self.hidden))
        return config
