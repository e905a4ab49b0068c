"""DC-IGN: a VAE whose named latents learn named factors through clamped minibatches.

The latent vector is split into named groups, one per generative factor of the
data (azimuth, elevation, light; scale, position, ...), and an "intrinsic"
group for the rest (the object's shape, texture, identity):

    z = [z_scale | z_position_x | ... | z_intrinsic]

Training uses minibatches in which only one factor varies (Kulkarni et al.
2015, Sec. 3.1 and Fig. 3). On such a batch, with A the varying factor's
group (the intrinsic group for a batch of an intrinsic factor):

- Forward: the encoder outputs of every group other than A are replaced by
  their average over the batch ("altered to be the same for each sample in
  the batch"), so A alone must explain the batch's variation.
- Backward: A is the only group that receives the gradient of the
  reconstruction (and of the rest of the objective); every clamped output
  receives instead lambda * (e_i - mean) / N, the gradient of the penalty
  (lambda / 2) ||e_i - mean||^2 averaged over the batch: the signal "which
  nudges them to be closer to their respective averages over the batch".
  N is the global batch, the one the objective is averaged over, so lambda
  is in nats per example whatever the number of minibatches in it (below).

`zoo.clamping.clamp_latents` is that operation, one `tf.custom_gradient`;
this class applies it in its `posterior_params` hook, so `zoo.VAE.train_step` (one
reparameterised sample, the ELBO per example in nats,
`tf.nn.compute_average_loss`) trains DC-IGN without a copy of the step. A
batch names its factor in `active_factor`; batches without it (evaluation,
`fit` on ordinary images) are not clamped. The data pipeline
(`zoo.data.factor_batches`) draws the batches' factors at random, intrinsic
factors more often (its `intrinsic_ratio`; the paper: about 10 to 1).

What is clamped, and the KL:
    The encoder's outputs are the posterior's two heads, the mean and the raw
    (pre-softplus) scale; both are clamped, as in the authors' code (which
    clamps the mean and the variance heads). z is then drawn from the clamped
    posterior q'(z | x_i) = N(mu', sigma'^2) with per-example noise, as the
    paper samples z per image. The KL is KL(q'(z | x_i) || p(z)), the KL of
    the distribution z was drawn from, so every example's objective remains
    a lower bound on log p(x_i); its gradient, like the reconstruction's,
    reaches the clamped outputs only through the clamp (that is: not at
    all), as in the authors' code (KLDCriterion after SelectiveOutputClamp,
    back-propagated through SelectiveGradientFilter).

Several minibatches per step (`minibatches`, M):
    The paper takes one optimizer step per one-factor minibatch (20 images).
    A batch may instead hold M independent one-factor minibatches,
    interleaved (row i * M + m belongs to minibatch m), each clamped to its
    own statistic; one step then averages the gradients of M of the paper's
    steps and sees M scenes instead of one. The pull stays per example of
    the global batch of M * b rows (b per minibatch): lambda (e_i - mean_m)
    / (M * b), like the objective's gradient, not / b, which would make it
    M times stronger than the reconstruction. On the rendered shapes this is
    what makes a few minutes of CPU enough: in a one-factor batch the active
    group is the reconstruction's only way into the encoder, and with one
    scene per step the groups learn slowly (measured in docs/dcign.md).

Paper and code (`clamp_to`, `invariance_strength`):
    clamp_to="mean", invariance_strength > 0: the paper (the default).
    clamp_to="first", invariance_strength=0: the original Torch code's
    default (the batch's first sample; no gradient to clamped units).

Under `tf.distribute`, a one-factor batch split over replicas is clamped to
the statistic of the GLOBAL batch (`zoo.clamping`), so a mirrored step
equals a one-device step.

References:
    Kulkarni, Whitney, Kohli & Tenenbaum (2015), Deep Convolutional Inverse
    Graphics Network, NeurIPS, Sec. 3.1 and Fig. 3 (arXiv 1503.03167).
    Kingma & Welling (2014), Auto-Encoding Variational Bayes.
"""

import inspect
import re
import warnings

import keras
import numpy as np
import tensorflow as tf

from zoo import checks
from zoo import clamping
from zoo import images as zoo_images
from zoo.models import vae as zoo_vae

__all__ = ["DCIGN", "INTRINSIC", "CLAMP_TARGETS"]

INTRINSIC = "intrinsic"
CLAMP_TARGETS = clamping.CLAMP_TARGETS
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _parse_groups(factor_groups):
    """((name, size), ...) from a list of pairs or a dict, validated."""
    groups = clamping.group_items(factor_groups, kind="factor group")
    for name, _ in groups:
        if not _NAME.match(name) or name == INTRINSIC:
            raise ValueError(
                f"Factor group name {name!r} must be an identifier (letters, digits, _) "
                f"other than {INTRINSIC!r}.")
    return tuple(groups)


@keras.saving.register_keras_serializable(package="zoo")
class DCIGN(zoo_vae.VAE):
    """A Deep Convolutional Inverse Graphics Network (Kulkarni et al. 2015).

    A `zoo.VAE` (TFP posterior, prior and likelihood) whose latent vector is
    the concatenation of named factor groups and an intrinsic group, trained
    on one-factor batches whose other groups are clamped (module docstring).

    A batch is a dict with `image` and, for clamped training,
    `active_factor`: an int scalar, or an int [B] vector (what a strategy
    can split) with one value per one-factor minibatch (see `minibatches`),
    indexing `dataset_factor_names` (or, when that is None, `group_names`).
    A data factor without a group of its own is intrinsic: its batches leave
    only the intrinsic group free.
    `active_factor = -1`, or none, clamps nothing.

    Args:
        image_shape: (height, width, channels).
        factor_groups: ordered (name, size) pairs, e.g.
            [("scale", 1), ("position_x", 1)], or a dict.
        intrinsic_dim: size of the intrinsic group.
        clamp: False trains on the same batches without clamping (ablation).
        clamp_to: "mean" (paper) or "first" (authors' code).
        invariance_strength: lambda >= 0 of the pull of clamped outputs
            toward their minibatch's statistic, in nats per example of the
            global batch, as the objective (0: the code's default, no
            gradient to clamped units).
        minibatches: M, the number of one-factor minibatches in a batch
            (1: the whole batch is one, as in the paper). With M > 1, row
            i * M + m of a batch belongs to minibatch m (interleaved, as
            `zoo.data.factor_batches.train_data` lays them out), and each
            minibatch is clamped to its own statistic: one step then
            averages the gradients of M of the paper's minibatches, which
            see M scenes instead of one. Interleaving keeps a minibatch's
            rows on every replica when a strategy splits the batch into
            contiguous parts, so each is clamped to its global statistic
            (each replica's share must be a multiple of M).
        dataset_factor_names: the data's factor names, in the order
            `active_factor` indexes them (e.g. `zoo.data.shapes.FACTOR_NAMES`).
            Every group must name one of them.
        latent_dim: optional; must equal the sum of the group sizes and
            `intrinsic_dim`.
        **kwargs: `zoo.VAE` arguments (likelihood, network, base_filters,
            prior, beta, kl_warmup_steps, free_bits, seed, encoder, decoder,
            ...). Free bits floors each named group's KL (and the intrinsic
            group's) as one group. `posterior` must be "diagonal": an IAF
            mixes every group into every other and adds the per-example
            context h, so a clamped group would vary within its one-factor
            batch again, undoing the clamp.

    Raises:
        ValueError: malformed groups, a group that is not a factor of the
            data, a bad `clamp_to`, negative strengths and sizes, or
            posterior="iaf".
    """

    def __init__(self, image_shape, factor_groups, intrinsic_dim=8, clamp=True,
                 clamp_to="mean", invariance_strength=1.0, minibatches=1,
                 dataset_factor_names=None, latent_dim=None, **kwargs):
        if kwargs.get("posterior", "diagonal") != "diagonal":
            raise ValueError(
                f"DCIGN: posterior={kwargs['posterior']!r} is not allowed; expected "
                "'diagonal' (an IAF mixes the clamped groups with the free one and the "
                "per-example context, so clamping would no longer hold them fixed).")
        groups = _parse_groups(factor_groups)
        intrinsic_dim = checks.positive_int("intrinsic_dim", intrinsic_dim)
        clamping.validate_clamp_to(clamp_to)
        invariance_strength = checks.finite_non_negative("invariance_strength",
                                                         invariance_strength)
        minibatches = checks.positive_int("minibatches", minibatches)
        total = sum(size for _, size in groups) + intrinsic_dim
        if latent_dim is not None and checks.integer("latent_dim", latent_dim) != total:
            raise ValueError(
                f"latent_dim {latent_dim} differs from the factor groups' {total} "
                "(their sizes plus intrinsic_dim); leave it out.")
        if dataset_factor_names is not None:
            dataset_factor_names = tuple(str(name) for name in dataset_factor_names)
            missing = [name for name, _ in groups if name not in dataset_factor_names]
            if missing:
                raise ValueError(
                    f"Factor groups {missing} are not factors of the data; its factors "
                    f"are {list(dataset_factor_names)}.")
        super().__init__(image_shape, latent_dim=total, **kwargs)
        self.factor_groups = groups
        self.intrinsic_dim = intrinsic_dim
        self.clamp = bool(clamp)
        self.clamp_to = clamp_to
        self.invariance_strength = invariance_strength
        self.minibatches = minibatches
        self.dataset_factor_names = dataset_factor_names

    # -- Groups ------------------------------------------------------------------

    @property
    def latent_groups(self):
        """((name, size), ...) of every group in latent order, "intrinsic" last."""
        return self.factor_groups + ((INTRINSIC, self.intrinsic_dim),)

    @property
    def group_names(self):
        """The named groups, then "intrinsic", in latent order."""
        return tuple(name for name, _ in self.latent_groups)

    @property
    def group_slices(self):
        """{name: slice of the latent vector}, for every group incl. intrinsic."""
        slices, start = {}, 0
        for name, size in self.latent_groups:
            slices[name] = slice(start, start + size)
            start += size
        return slices

    def _group_of_factor(self):
        """int32 [F]: the group each `active_factor` value leaves free."""
        intrinsic = len(self.factor_groups)
        if self.dataset_factor_names is None:
            return np.arange(intrinsic + 1, dtype=np.int32)
        names = [name for name, _ in self.factor_groups]
        return np.array([names.index(f) if f in names else intrinsic
                         for f in self.dataset_factor_names], np.int32)

    def active_group(self, active_factor):
        """int32 [B]: the free group of each example's batch (-1: none clamped).

        Args:
            active_factor: int scalar or [B]: index into `dataset_factor_names`
                (or `group_names`), -1 for no clamping.
        """
        active_factor = tf.cast(active_factor, tf.int32)
        table = self._group_of_factor()
        tf.debugging.assert_less(
            active_factor, len(table),
            message=f"active_factor indexes the {len(table)} factors of the data")
        groups = tf.gather(table, tf.clip_by_value(active_factor, 0, len(table) - 1))
        return tf.where(active_factor < 0, -1, groups)

    def active_mask(self, active_group):
        """bool [D]: the latent columns left free by a batch's `active_group` [B].

        One group per batch: the batch's entries must agree (-1 or an empty
        batch: every column is free, nothing is clamped).
        """
        active_group = tf.reshape(tf.cast(active_group, tf.int32), [-1])
        group = tf.reduce_max(tf.concat([[-1], active_group], 0))
        lowest = tf.reduce_min(tf.concat([[group], active_group], 0))
        with tf.control_dependencies([tf.debugging.assert_equal(
                lowest, group, message="a DC-IGN batch varies one factor only")]):
            mask = clamping.group_mask(self.latent_groups, tf.maximum(group, 0))
            return tf.logical_or(mask, group < 0)

    def split_latents(self, latents):
        """{group name: [B, size]} from latents [B, D]."""
        return {name: latents[:, part] for name, part in self.group_slices.items()}

    def join_latents(self, factors):
        """Latents [B, D] from {group name: [B, size]} covering every group."""
        missing = [name for name in self.group_names if name not in factors]
        unknown = sorted(set(factors) - set(self.group_names))
        if missing or unknown:
            raise ValueError(
                f"render needs exactly the groups {list(self.group_names)}; "
                f"missing {missing}, unknown {unknown}.")
        return tf.concat([tf.cast(factors[name], tf.float32) for name in self.group_names],
                         axis=-1)

    # -- Hooks -------------------------------------------------------------------

    def unpack(self, data):
        """Images, plus each example's free group when the batch names its factor."""
        inputs = super().unpack(data)
        if self.clamp and isinstance(data, dict) and "active_factor" in data:
            group = self.active_group(data["active_factor"])
            inputs["active_group"] = tf.broadcast_to(group, tf.shape(inputs["images"])[:1])
        return inputs

    def free_bits_groups(self):
        """The named groups and the intrinsic group, whose KL free bits floors."""
        return [size for _, size in self.latent_groups]

    def posterior_params(self, inputs, training=False):
        """The encoder's two heads [B, 2D], clamped on a one-factor batch.

        Both heads (mean and raw scale) of every group but the batch's free
        one go through `zoo.clamping.clamp_latents`: their batch mean
        forward; backward, the pull toward it instead of the objective's
        gradient. Under loss scaling the pull is scaled like the loss.
        """
        params = tf.cast(self.encoder(self.encoder_inputs(inputs), training=training),
                         tf.float32)
        group = inputs.get("active_group") if isinstance(inputs, dict) else None
        if group is not None:
            params = self.clamp_encoder_outputs(params, group, training)
        return params

    def clamp_encoder_outputs(self, params, active_group, training=False):
        """Encoder outputs [B, 2D] with each minibatch's inactive groups clamped.

        Args:
            params: [B, 2D], the mean and raw-scale heads.
            active_group: int [B], each row's free group (`active_group`).
            training: under loss scaling, scale the pull like the loss.

        Returns:
            [B, 2D]; minibatch m (rows m, m + M, ...) clamped on its own.

        The pull is per example of the GLOBAL batch: `clamp_latents` divides
        it by its minibatch's (global) size N / M, and the factor 1 / M here
        makes that N, the global batch over which `train_step` averages the
        loss (`tf.nn.compute_average_loss`), so `invariance_strength` weighs
        the pull against the reconstruction in nats per example whatever M.
        """
        count = self.minibatches
        scale = 1.0 / count
        if training and getattr(self, "optimizer", None) is not None:
            scale = self.optimizer.scale_loss(tf.constant(scale))

        def clamp(rows, groups):
            mask = self.active_mask(groups)
            return clamping.clamp_latents(
                rows, tf.concat([mask, mask], axis=0), clamp_to=self.clamp_to,
                invariance_strength=self.invariance_strength, gradient_scale=scale)

        if count == 1:
            return clamp(params, active_group)
        width = params.shape[-1]
        with tf.control_dependencies([tf.debugging.assert_equal(
                tf.shape(params)[0] % count, 0,
                message=f"a batch (per replica) must hold whole rows of the {count} "
                        "interleaved minibatches")]):
            rows = tf.reshape(params, [-1, count, width])
        groups = tf.reshape(active_group, [-1, count])
        parts = [clamp(rows[:, m], groups[:, m]) for m in range(count)]
        return tf.reshape(tf.stack(parts, axis=1), [-1, width])

    # -- What users call ---------------------------------------------------------

    def encode_factors(self, images):
        """{group name: posterior mean [B, size]}: the image's named latents."""
        return self.split_latents(self.encode(images)[0])

    def render(self, factors):
        """Images [B, H, W, C] in [0, 1] from named latents {group name: [B, size]}."""
        return self.decode(self.join_latents(factors))

    def edit(self, images, factor, value):
        """Encodes, sets one named group to `value`, renders: an edited image.

        Args:
            images: [B, H, W, C].
            factor: a name in `group_names`.
            value: float, [size] or [B, size], broadcast to the group.

        Returns:
            [B, H, W, C] in [0, 1].
        """
        if factor not in self.group_names:
            raise ValueError(
                f"Unknown factor {factor!r}; expected one of {list(self.group_names)}.")
        factors = self.encode_factors(images)
        factors[factor] = tf.broadcast_to(tf.cast(value, tf.float32), tf.shape(factors[factor]))
        return self.render(factors)

    def traversal(self, image, values):
        """Images [R, V, H, W, C]: row r sweeps named group r over `values`.

        The image is encoded (posterior mean); in row r the first unit of the
        r-th named group takes each of the V values while every other latent
        keeps the image's: the paper's "change one latent, render" figure,
        one row per factor.

        Args:
            image: [H, W, C] or [1, H, W, C].
            values: [V] for every row, or [R, V] one sweep per row.
        """
        image = tf.convert_to_tensor(image)
        if image.shape.rank == 3:
            image = image[None]
        base = self.encode(image[:1])[0]  # [1, D]
        rows = len(self.factor_groups)
        values = tf.cast(values, tf.float32)
        count = values.shape[-1]
        values = tf.broadcast_to(values, [rows, count])
        latents = []
        for row, (name, _) in enumerate(self.factor_groups):
            start = self.group_slices[name].start
            tiled = tf.tile(base, [count, 1])
            latents.append(tf.concat(
                [tiled[:, :start], values[row][:, None], tiled[:, start + 1:]], axis=1))
        decoded = self.decode(tf.concat(latents, axis=0))
        return tf.reshape(decoded, [rows, count, *self.image_shape])

    def summary_images(self, batch, num_images=32, seed=0):
        """`reconstructions` (input, output pairs) and `traversals`.

        The traversal grid sweeps each named group over [-2, 2] (the prior's
        range) for the batch's first image: one row per factor, padded with
        blank rows to a square so that a square grid shows a factor per row.
        """
        reconstructions = super().summary_images(batch, num_images, seed)["reconstructions"]
        rows = len(self.factor_groups)
        columns = max(rows, 8)
        grid = self.traversal(zoo_images.unpack_images(batch)[:1],
                              tf.linspace(-2.0, 2.0, columns))
        blank = tf.ones([columns - rows, columns, *self.image_shape])
        grid = tf.concat([grid, blank], axis=0)
        return {"reconstructions": reconstructions,
                "traversals": tf.reshape(grid, [-1, *self.image_shape])}

    def serving_endpoints(self):
        """`reconstruct`; `encode`: an output per group; `render`: an input per group."""
        images = tf.TensorSpec([None, *self.image_shape], tf.float32, name="images")
        named = [tf.TensorSpec([None, size], tf.float32, name=name)
                 for name, size in self.latent_groups]
        names = self.group_names

        def reconstruct(images):
            return {"reconstructions": self.reconstruct(images)}

        def encode(images):
            return self.encode_factors(images)

        def render(*latents, **named_latents):
            return {"images": self.render({**dict(zip(names, latents)), **named_latents})}

        # One parameter per group, so that the signature's inputs carry the names.
        render.__signature__ = inspect.Signature([inspect.Parameter(
            name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in names])

        return {"reconstruct": (reconstruct, [images]),
                "encode": (encode, [images]),
                "render": (render, named)}

    # -- Serialization -----------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            factor_groups=[[name, size] for name, size in self.factor_groups],
            intrinsic_dim=self.intrinsic_dim, clamp=self.clamp, clamp_to=self.clamp_to,
            invariance_strength=self.invariance_strength,
            minibatches=self.minibatches,
            dataset_factor_names=(None if self.dataset_factor_names is None
                                  else list(self.dataset_factor_names)))
        return config

    @classmethod
    def from_config(cls, config):
        """The model of `get_config`; drops the `intrinsic_ratio` of older configs.

        How often intrinsic batches are drawn is a setting of the data
        (`zoo.data.factor_batches.draw_weights`), not of the model.
        """
        if "intrinsic_ratio" in config:
            warnings.warn("DCIGN no longer takes intrinsic_ratio (a setting of the data: "
                          "zoo.data.factor_batches.draw_weights); ignoring it.",
                          DeprecationWarning, stacklevel=2)
            config = {key: value for key, value in config.items() if key != "intrinsic_ratio"}
        return super().from_config(config)
