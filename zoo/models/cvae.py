"""The conditional VAE of Attribute2Image: images generated from visual attributes.

An attribute vector y (binary attributes and/or one-hot classes) conditions
every part of the model:

    p_theta(x | y, z),   q_phi(z | x, y),   p(z) = N(0, I) (or a learned Gaussian),

    ELBO(x | y) = E_q(z|x,y)[log p(x | y, z)] - KL(q(z | x, y) || p(z))  <=  log p(x | y)

(Yan et al. 2016; Sohn et al. 2015). Per example, summed over dimensions, in
nats, exactly as the `zoo.VAE` it extends: `CVAE` overrides the VAE's hooks
(`unpack`, `encoder_inputs`, `decoder_inputs`, `build_encoder`,
`build_decoder`), not its training step, so the loss, the
five metrics (`loss`, `elbo`, `reconstruction`, `kl`, `bits_per_dim`), KL
warm-up, the importance-weighted bound and every strategy work unchanged.

Networks. The encoder is a functional Keras model with two inputs: the VAE's
convolutional (or MLP) trunk turns the image into features h(x); the mean
head sees [h(x), y] through one hidden layer and the raw-scale head sees h(x)
only, as in the paper's encoder ("the mean head sees image and attribute
features, the log-variance head the image features only"). The decoder reads
the concatenation [z, y]: the VAE's DCGAN-shaped decoder, with y also tiled
over the feature maps of every resolution (`conditional_decoder`).

What users call: `generate` (attributes, sampled or given z), `manipulate`
(encode with the image's own y, decode with one attribute changed),
`progression` (sweep one attribute, keep z), `reconstruct`, `encode` and
`complete` (attribute-conditioned completion of an occluded region by
gradient descent on the latents, Yan et al. 2016, posterior inference by
optimisation).

References:
    Yan, X., Yang, J., Sohn, K. and Lee, H. (2016). Attribute2Image:
    Conditional Image Generation from Visual Attributes. ECCV.
    Sohn, K., Lee, H. and Yan, X. (2015). Learning Structured Output
    Representation using Deep Conditional Generative Models. NeurIPS.
    Kingma, D. P. and Welling, M. (2014). Auto-Encoding Variational Bayes.
"""

import keras
import tensorflow as tf

from zoo import checks
from zoo import images as zoo_images
from zoo import networks
from zoo import random as zoo_random
from zoo.models import vae as zoo_vae

__all__ = ["CVAE", "conditional_encoder", "conditional_decoder", "unpack_attributes",
           "minimise_with_adam"]

_ATTRIBUTE_KEYS = ("attributes", "attribute")
_MASK_KEYS = ("mask", "masks")


def unpack_attributes(data, model_name="CVAE"):
    """(images, attributes, masks or None) of a batch given as a dict or tuple.

    Args:
        data: a dict with `image` (or `images`) and `attributes` (and
            optionally `mask`), or a tuple (images, attributes).
        model_name: named in the error message.

    Raises:
        ValueError: the batch carries no attributes.
    """
    if isinstance(data, dict):
        images = zoo_images.unpack_images(data)
        attributes = next((data[key] for key in _ATTRIBUTE_KEYS if key in data), None)
        masks = next((data[key] for key in _MASK_KEYS if key in data), None)
        if attributes is None:
            raise ValueError(
                f"{model_name} needs attribute labels: a batch dict with an 'attributes' "
                f"entry or an (images, attributes) tuple; got keys {sorted(data)}.")
        return images, attributes, masks
    if isinstance(data, (tuple, list)):
        if len(data) >= 2 and data[1] is not None:
            return data[0], data[1], None
        if len(data) >= 1 and isinstance(data[0], (tuple, list, dict)):
            return unpack_attributes(data[0], model_name)  # Keras's (x,) for fit(x).
    raise ValueError(
        f"{model_name} needs attribute labels: pass (images, attributes) or a dict with "
        f"'image' and 'attributes'; got {type(data).__name__} without attributes.")


def conditional_encoder(network, image_shape, conditions, latent_dim, base_filters=32,
                        hidden=256, context_dim=0, name="encoder"):
    """q(z | x, c) parameters from an image and conditioning vectors.

    The trunk h(x) is the VAE's encoder network with `hidden` outputs; the
    mean head sees [h(x), c_1, ..., c_k] through one hidden layer, the
    raw-scale head sees h(x) only, as in Yan et al. (2016)'s encoder.

    Args:
        network: "conv", "coord" or "mlp" (`zoo.networks`).
        image_shape: (H, W, C).
        conditions: [(input name, size)] of the conditioning vectors, e.g.
            [("attributes", A)].
        latent_dim: D, the size of z.
        base_filters: width of the first convolution (not for "mlp").
        hidden: width of the image features and of the mean head's hidden layer.
        context_dim: size of an IAF's context h, a third head on the mean
            head's hidden layer (0: none).
        name: the model's name.

    Returns:
        A functional `keras.Model` with inputs [images, *conditions] and output
        [B, 2 * D + context_dim] (means, then raw scales, as
        `zoo.distributions.diagonal_gaussian` reads them, then h).
    """
    kwargs = {"base_filters": base_filters} if network != "mlp" else {}
    trunk = networks.make_encoder(network, image_shape, hidden, name=f"{name}_trunk", **kwargs)
    images = keras.Input(shape=tuple(image_shape), name="images")
    inputs = [keras.Input(shape=(int(size),), name=input_name)
              for input_name, size in conditions]
    features = keras.layers.LeakyReLU(0.2)(trunk(images))
    joint = keras.layers.Concatenate()([features, *inputs])
    joint = keras.layers.Dense(hidden)(joint)
    joint = keras.layers.LeakyReLU(0.2)(joint)
    loc = keras.layers.Dense(latent_dim, dtype="float32", name="loc")(joint)
    raw_scale = keras.layers.Dense(latent_dim, dtype="float32", name="raw_scale")(features)
    heads = [loc, raw_scale]
    if context_dim:
        heads.append(keras.layers.Dense(context_dim, dtype="float32", name="context")(joint))
    outputs = keras.layers.Concatenate(dtype="float32")(heads)
    return keras.Model([images, *inputs], outputs, name=name)


def conditional_decoder(network, latent_dim, attribute_dim, image_shape, output_channels,
                        base_filters=32, name="decoder"):
    """p(x | y, z) parameters from the concatenation [z, y].

    "conv" and "coord": the VAE's decoder (`zoo.networks.conv_decoder`,
    `zoo.networks.coord_decoder`) with `tiled_inputs=A`: y is also tiled over
    the feature maps and concatenated to the input of every convolution, so
    that every resolution sees the attributes directly (y at the input alone
    is easily ignored when z can carry the same information). "mlp":
    `zoo.networks.mlp_decoder` on [z, y].

    Args:
        network: "conv", "coord" or "mlp".
        latent_dim: D, the size of z.
        attribute_dim: A, the size of y.
        image_shape: (H, W, C).
        output_channels: C * p, the likelihood's raw parameters per pixel.
        base_filters: width of the last convolution (not for "mlp").
        name: the model's name.

    Returns:
        A functional `keras.Model` [B, D + A] -> [B, H, W, output_channels].
    """
    kwargs = ({} if network == "mlp"
              else {"base_filters": base_filters, "tiled_inputs": attribute_dim})
    return networks.make_decoder(network, latent_dim + attribute_dim, image_shape,
                                 output_channels, name=name, **kwargs)


def minimise_with_adam(energy, start, steps, learning_rate, beta_1=0.9, beta_2=0.999,
                       epsilon=1e-8):
    """Minimises sum(energy(v)) over v from `start` with Adam; returns v.

    `keras.optimizers.Adam` (Kingma & Ba 2015) on a `tf.Variable` holding v.

    Args:
        energy: v [B, D] -> per-example energies [B] (differentiable).
        start: the initial value [B, D].
        steps: number of Adam steps.
        learning_rate: Adam's step size.
        beta_1, beta_2, epsilon: Adam's constants.
    """
    value = tf.Variable(tf.convert_to_tensor(start, tf.float32))
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2,
                                      epsilon=epsilon)
    for _ in range(int(steps)):
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(energy(value))
        optimizer.apply_gradients([(tape.gradient(total, value), value)])
    return tf.convert_to_tensor(value)


@keras.saving.register_keras_serializable(package="zoo")
class CVAE(zoo_vae.VAE):
    """A conditional VAE p(x | y, z), q(z | x, y), p(z) (Yan et al. 2016).

    Batches are dicts with `image` and `attributes` (as the zoo's pipelines
    and TFDS give them) or tuples (images, attributes).

    Args:
        image_shape: (height, width, channels) of the images.
        attribute_dim: A, the size of the attribute vector y.
        attribute_names: optional names of y's A entries (for `manipulate`
            by name and for reports).
        data_attribute_names: optional names of the attribute vectors the
            training data carries, when y is a subset of them: a batch whose
            attribute vector has this width has y's columns picked out by
            name (`select_attributes`). Must differ from `attribute_names`
            in length when given.
        encoder_hidden: width of the encoder's image features and mean head.
        encoder: optional Keras model [images, attributes] -> [B, posterior_width].
        decoder: optional Keras model [B, latent_dim + A] -> [B, H, W, C * p].
        **kwargs: every other `zoo.VAE` argument (latent_dim, likelihood,
            network, base_filters, prior, beta, kl_warmup_steps, seed,
            posterior, flow_steps, flow_hidden, free_bits, name).

    Raises:
        ValueError: a non-positive attribute_dim, names that do not match it,
            or a selection that names attributes the data does not have.
    """

    def __init__(self, image_shape, attribute_dim, attribute_names=None,
                 data_attribute_names=None, encoder_hidden=256, **kwargs):
        attribute_dim = checks.positive_int("attribute_dim", attribute_dim)
        if attribute_names is not None:
            attribute_names = tuple(str(name) for name in attribute_names)
            if len(attribute_names) != attribute_dim:
                raise ValueError(
                    f"attribute_names has {len(attribute_names)} names for "
                    f"attribute_dim={attribute_dim}.")
        if data_attribute_names is not None:
            data_attribute_names = tuple(str(name) for name in data_attribute_names)
            if attribute_names is None:
                raise ValueError("data_attribute_names needs attribute_names (the selection).")
            missing = [name for name in attribute_names if name not in data_attribute_names]
            if missing:
                raise ValueError(f"Attributes {missing} are not in the data's attributes "
                                 f"{list(data_attribute_names)}.")
            if data_attribute_names == attribute_names:
                data_attribute_names = None
            elif len(data_attribute_names) == attribute_dim:
                raise ValueError(
                    "attribute_names must be the data's attributes in the data's order "
                    "when it selects all of them.")
        encoder_hidden = checks.positive_int("encoder_hidden", encoder_hidden)
        # Set before the VAE builds the networks, which read them.
        self.attribute_dim = attribute_dim
        self.attribute_names = attribute_names
        self.data_attribute_names = data_attribute_names
        self.encoder_hidden = encoder_hidden
        super().__init__(image_shape, **kwargs)

    # -- Parts -----------------------------------------------------------------

    def build_encoder(self):
        """q(z | x, y): [images, attributes] -> [B, 2 * latent_dim]."""
        return conditional_encoder(
            self.network, self.image_shape, [("attributes", self.attribute_dim)],
            self.latent_dim, base_filters=self.base_filters, hidden=self.encoder_hidden,
            context_dim=self.context_dim, name="encoder")

    def build_decoder(self):
        """p(x | y, z): [B, latent_dim + A] -> [B, H, W, C * p] (`conditional_decoder`)."""
        return conditional_decoder(self.network, self.latent_dim, self.attribute_dim,
                                   self.image_shape, self.output_channels,
                                   base_filters=self.base_filters)

    # -- Hooks -------------------------------------------------------------------

    def unpack(self, data):
        """{"images", "attributes"} (and "masks" where the batch has them).

        Raises:
            ValueError: the batch has no attributes, or they have the wrong width.
        """
        images, attributes, masks = unpack_attributes(data, type(self).__name__)
        inputs = {"images": self.check_images(images),
                  "attributes": self.select_attributes(attributes)}
        if masks is not None:
            inputs["masks"] = tf.cast(masks, tf.float32)
        return inputs

    def encoder_inputs(self, inputs):
        return [inputs["images"], inputs["attributes"]]

    def decoder_inputs(self, latents, inputs):
        return tf.concat([latents, self._attributes_of(inputs)], axis=-1)

    # -- Attributes --------------------------------------------------------------

    def select_attributes(self, attributes):
        """y [B, A] float32 from a batch's attribute vectors.

        Vectors of the data's full width (`data_attribute_names`) have the
        model's attributes picked out by name; vectors of width A pass.

        Raises:
            ValueError: the vectors have neither width.
        """
        attributes = tf.cast(tf.convert_to_tensor(attributes), tf.float32)
        width = attributes.shape[-1]
        if (self.data_attribute_names is not None and attributes.shape.rank == 2
                and width == len(self.data_attribute_names)):
            columns = [self.data_attribute_names.index(name) for name in self.attribute_names]
            attributes = tf.gather(attributes, columns, axis=-1)
        return self.check_attributes(attributes)

    def check_attributes(self, attributes):
        """Attributes as float32 [B, A], with a clear error for a wrong shape."""
        attributes = tf.cast(tf.convert_to_tensor(attributes), tf.float32)
        if attributes.shape.rank != 2 or attributes.shape[-1] != self.attribute_dim:
            raise ValueError(
                f"{type(self).__name__} expects attributes of shape [batch, "
                f"{self.attribute_dim}]; got {attributes.shape.as_list()}.")
        return attributes

    def attribute_index(self, attribute):
        """The column of an attribute given by index or by name."""
        if isinstance(attribute, str):
            if self.attribute_names is None or attribute not in self.attribute_names:
                raise ValueError(f"Unknown attribute {attribute!r}; the model's attributes "
                                 f"are {list(self.attribute_names or [])}.")
            return self.attribute_names.index(attribute)
        index = int(attribute)
        if not 0 <= index < self.attribute_dim:
            raise ValueError(f"Attribute index {index} is outside [0, {self.attribute_dim}).")
        return index

    def _attributes_of(self, inputs):
        if inputs is None:
            raise ValueError(f"{type(self).__name__} needs attributes to decode.")
        if isinstance(inputs, dict):
            return self.check_attributes(inputs["attributes"])
        return self.check_attributes(inputs)

    @staticmethod
    def set_attribute(attributes, index, value):
        """y with column `index` set to `value` (a scalar or [B])."""
        attributes = tf.convert_to_tensor(attributes, tf.float32)
        value = tf.broadcast_to(tf.cast(value, tf.float32), tf.shape(attributes)[:1])
        column = tf.one_hot(index, tf.shape(attributes)[-1], dtype=tf.float32)
        return attributes * (1.0 - column) + value[:, None] * column

    # -- What users call ---------------------------------------------------------

    def _pack(self, images, attributes):
        return self.unpack(images if attributes is None else (images, attributes))

    def encode(self, images, attributes=None):
        """Mean and standard deviation of q_0(z | x, y), each [B, latent_dim].

        The posterior's own for the diagonal Gaussian, the flow's base for the IAF.

        Args:
            images: [B, H, W, C], or a whole batch (dict or tuple) when
                `attributes` is None.
            attributes: y [B, A].
        """
        base = self.base_posterior(self._pack(images, attributes))
        return base.mean(), base.stddev()

    def decode(self, latents, attributes=None):
        """The expected image in [0, 1] for latents [B, D] and attributes [B, A].

        `attributes` may also be a dict of model inputs with "attributes".
        """
        latents = tf.cast(latents, tf.float32)
        return self.likelihood.mean_image(self.decode_params(latents, attributes))

    def reconstruct(self, images, attributes=None):
        """Decodes the `posterior_code` of q(z | x, y): a deterministic reconstruction."""
        inputs = self._pack(images, attributes)
        return self.decode(self.posterior_code(inputs), inputs)

    def call(self, inputs, training=False):
        del training  # Reconstructions are deterministic.
        return self.reconstruct(inputs)

    def prior_latents(self, num_samples, seed=0):
        """[num_samples, latent_dim] draws from p(z), from a seed."""
        noise = tf.random.stateless_normal([num_samples, self.latent_dim],
                                           zoo_random.step_seed(seed, 0))
        return self.prior.latents_from_noise(noise)

    def generate(self, attributes, latents=None, seed=0):
        """Images [B, H, W, C] for attributes y [B, A].

        Args:
            attributes: y [B, A].
            latents: z [B, latent_dim]; None draws them from the prior.
            seed: seed of the draw when `latents` is None.
        """
        attributes = self.check_attributes(attributes)
        if latents is None:
            latents = self.prior_latents(tf.shape(attributes)[0], seed)
        return self.decode(latents, attributes)

    def sample(self, num_samples, seed=0, inputs=None):
        """`num_samples` images from prior draws, for the attributes in `inputs`."""
        if inputs is None:
            raise ValueError(f"{type(self).__name__}.sample needs attributes; "
                             "use generate(attributes).")
        attributes = self._attributes_of(inputs)[:num_samples]
        return self.generate(attributes, seed=seed)

    def manipulate(self, images, attributes, index, value):
        """Encodes with the images' own attributes, decodes with one changed.

        z is the `posterior_code` of q(z | x, y) (its mean without a flow);
        the output is the decoded image for (y with attribute `index` set to
        `value`, z) (Yan et al. 2016: attribute-conditioned editing).

        Args:
            images: [B, H, W, C].
            attributes: y [B, A], the images' own attributes.
            index: the attribute's column or name.
            value: its new value (scalar or [B]).
        """
        inputs = self._pack(images, attributes)
        latents = self.posterior_code(inputs)
        changed = self.set_attribute(inputs["attributes"], self.attribute_index(index), value)
        return self.decode(latents, changed)

    def progression(self, attributes, index, values, latents=None, seed=0):
        """Images [B, V, H, W, C]: attribute `index` swept over `values`, z fixed.

        Row b keeps y_b and z_b and sets the attribute to each of the V
        values (Yan et al. 2016: attribute progression).

        Args:
            attributes: y [B, A].
            index: the attribute's column or name.
            values: [V] values of the attribute.
            latents: z [B, latent_dim]; None draws them from the prior.
            seed: seed of that draw.
        """
        attributes = self.check_attributes(attributes)
        values = tf.reshape(tf.cast(values, tf.float32), [-1])
        batch, count = tf.shape(attributes)[0], tf.shape(values)[0]
        if latents is None:
            latents = self.prior_latents(batch, seed)
        latents = tf.cast(latents, tf.float32)
        tiled_attributes = tf.repeat(attributes, count, axis=0)
        tiled_values = tf.tile(values, [batch])
        swept = self.set_attribute(tiled_attributes, self.attribute_index(index), tiled_values)
        images = self.decode(tf.repeat(latents, count, axis=0), swept)
        return tf.reshape(images, [batch, count, *self.image_shape])

    def masked_log_prob(self, params, images, known_mask):
        """sum over observed pixels of log p(x_j | params), per example, in nats.

        Args:
            params: decoder output [B, H, W, C * p].
            images: [B, H, W, C] in [0, 1].
            known_mask: 1 on observed pixels, [B, H, W, 1] or [B, H, W, C].
        """
        pixels = self.likelihood.distribution(params).distribution.log_prob(
            self.likelihood.to_event(images))
        known = tf.broadcast_to(tf.cast(known_mask, tf.float32), tf.shape(pixels))
        return tf.reduce_sum(known * pixels, axis=[1, 2, 3])

    def complete(self, images, attributes, known_mask, steps=100, learning_rate=0.05):
        """Attribute-conditioned completion of an occluded region.

        Finds z* = argmin_z -log p(x_known | y, z) - log p(z), the likelihood
        taken over the observed pixels only, by `steps` of Adam started at
        the `posterior_code` of q(z | x, y), and fills the occluded pixels with
        the decoded image's (Yan et al. 2016: posterior inference of the
        latents by gradient-based energy minimisation, then generation).

        Args:
            images: [B, H, W, C] in [0, 1]; the occluded pixels may hold anything.
            attributes: y [B, A].
            known_mask: 1 on observed pixels, 0 on the occluded ones,
                [B, H, W, 1] or [B, H, W, C].
            steps: Adam steps on z.
            learning_rate: Adam's step size.

        Returns:
            [B, H, W, C]: the observed pixels, and the decoder's mean image elsewhere.
        """
        inputs = self._pack(images, attributes)
        known = tf.broadcast_to(tf.cast(known_mask, tf.float32), tf.shape(inputs["images"]))
        prior = self.prior.distribution()

        def energy(latents):
            params = self.decode_params(latents, inputs)
            return -(self.masked_log_prob(params, inputs["images"], known)
                     + prior.log_prob(latents))

        latents = minimise_with_adam(energy, self.posterior_code(inputs), steps,
                                     learning_rate)
        filled = self.decode(latents, inputs)
        return known * inputs["images"] + (1.0 - known) * filled

    # -- Summaries and export ------------------------------------------------------

    def _grid_inputs(self, batch, count):
        inputs = self.unpack(batch)
        size = min(count, int(inputs["images"].shape[0]))
        return {key: value[:size] for key, value in inputs.items()}, size

    def summary_images(self, batch, num_images=32, seed=0):
        """Named image batches for sample grids and TensorBoard.

        `reconstructions`: input, output pairs. `samples_by_attribute`: an
        n x n grid whose row r uses the attributes of the batch's r-th
        example and whose column c uses prior draw z_c. `progression`: row r
        sweeps attribute r mod A from 0 to 1 with y and z of the r-th example
        fixed.
        """
        inputs, size = self._grid_inputs(batch, num_images)
        images, attributes = inputs["images"], inputs["attributes"]
        pairs = tf.reshape(tf.stack([images, self.reconstruct(inputs)], 1),
                           [-1, *self.image_shape])
        grid_size = min(size, 8)
        rows = attributes[:grid_size]
        latents = self.prior_latents(grid_size, seed)
        samples = self.generate(tf.repeat(rows, grid_size, axis=0),
                                tf.tile(latents, [grid_size, 1]))
        progressions = [
            self.progression(rows[r:r + 1], r % self.attribute_dim,
                             tf.linspace(0.0, 1.0, grid_size), latents[r:r + 1])[0]
            for r in range(grid_size)]
        return {"reconstructions": pairs, "samples_by_attribute": samples,
                "progression": tf.reshape(tf.stack(progressions), [-1, *self.image_shape])}

    def _serving_specs(self):
        return {"images": tf.TensorSpec([None, *self.image_shape], tf.float32, name="images"),
                "attributes": tf.TensorSpec([None, self.attribute_dim], tf.float32,
                                            name="attributes"),
                "latents": tf.TensorSpec([None, self.latent_dim], tf.float32, name="latents")}

    def serving_endpoints(self):
        """`generate` (also serving_default), `encode` and `reconstruct`."""
        specs = self._serving_specs()

        def generate(attributes, latents):
            return {"images": self.generate(attributes, latents)}

        def encode(images, attributes):
            return self.encoding_outputs(self._pack(images, attributes))

        def reconstruct(images, attributes):
            return {"reconstructions": self.reconstruct(images, attributes)}

        return {"generate": (generate, [specs["attributes"], specs["latents"]]),
                "encode": (encode, [specs["images"], specs["attributes"]]),
                "reconstruct": (reconstruct, [specs["images"], specs["attributes"]])}

    # -- Serialization -----------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            attribute_dim=self.attribute_dim,
            attribute_names=None if self.attribute_names is None else list(self.attribute_names),
            data_attribute_names=(None if self.data_attribute_names is None
                                  else list(self.data_attribute_names)),
            encoder_hidden=self.encoder_hidden)
        return config
