"""One-factor batches for DC-IGN: batches in which a single generative factor varies.

DC-IGN trains on minibatches in which all generative factors but one are held
fixed (Kulkarni et al. 2015, Sec. 3.1). Two sources of such batches:

- the built-in rendered `shapes` (offline, default): its `Source` carries
  `zoo.data.shapes.factor_batches`, which renders them directly, drawing one
  shared value for every factor and redrawing the active one per example;
- TFDS sets whose `factors` are known (`dsprites`, `shapes3d`, `smallnorb`,
  loaded by `zoo.data.tfds_source`): `tfds_factor_batches` groups the
  examples of a split by the values of all other factors (`OneFactorGroups`)
  and draws each batch from one group.

How a TFDS batch is drawn: the active factor f is drawn with probability
proportional to its weight; an anchor example is drawn uniformly among the
examples that share all other factors with at least one other example, and
the batch is `batch_size` members of the anchor's group (drawn without
replacement when the group is large enough, else with replacement). This
needs no particular order or completeness of the data: TFDS shuffles the
examples when it writes them, and our "train" split of dsprites and shapes3d
is the first 90% of their full factor grids, so their groups hold about 90%
of each grid line (e.g. ~36 of dsprites' 40 orientations). On a full grid it
is what index arithmetic over the grid gives.

Memory: the split is read once into memory as uint8 at the model's image
size (dsprites' 663,552 training images take 2.7 GB at 64x64, 0.7 GB at
32x32; shapes3d's 432,000 take 5.3 GB at 64x64x3), as disentanglement_lib
does for these sets.

Every batch is a dict: `image` (uint8 [B, H, W, C]), `factors` (float32
[B, F]) and `active_factor` (int32 scalar: index into the source's
`factor_names`); `train_data` puts M of them in a global
batch (interleaved, see `zoo.DCIGN`), encodes the images for the likelihood
and repeats `active_factor` per example so that a strategy can split the
batch over its replicas.

References:
    Kulkarni et al. (2015), Deep Convolutional Inverse Graphics Network.
    Locatello et al. (2019), disentanglement_lib's ground-truth data sets.
"""

import numpy as np
import tensorflow as tf

from zoo import random as zoo_random
from zoo.data import pipeline

__all__ = ["OneFactorGroups", "load_arrays", "tfds_factor_batches", "draw_weights",
           "require_whole_minibatches", "train_data"]


class OneFactorGroups:
    """For each factor, the examples grouped by the values of all the others.

    Args:
        factors: [N, F] factor values (TFDS label indices, or floats).

    Attributes:
        num_examples: N.
        num_factors: F.
    """

    def __init__(self, factors):
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[0] == 0:
            raise ValueError(
                f"factors must be a non-empty [N, F] array; got shape {factors.shape}.")
        self.num_examples, self.num_factors = factors.shape
        self._order, self._starts, self._sizes, self._varying = [], [], [], []
        for factor in range(self.num_factors):
            others = np.delete(factors, factor, axis=1)
            if others.shape[1]:
                _, group = np.unique(others, axis=0, return_inverse=True)
                group = group.reshape(-1)
            else:
                group = np.zeros(self.num_examples, np.int64)
            sizes = np.bincount(group)
            self._order.append(np.argsort(group, kind="stable"))
            self._starts.append(np.concatenate([[0], np.cumsum(sizes)[:-1]]))
            self._sizes.append(sizes)
            self._varying.append(np.flatnonzero(sizes >= 2))

    def can_vary(self, factor):
        """Whether some examples differ in `factor` alone."""
        return self._varying[factor].size > 0

    def group_size(self, factor):
        """Sizes of `factor`'s groups (examples sharing all other factors)."""
        return self._sizes[factor]

    def sample(self, factor, batch_size, rng):
        """Indices of `batch_size` examples that differ in `factor` alone.

        The group is that of an anchor drawn uniformly among the examples of
        groups with at least two members (so larger groups are drawn more).
        """
        varying = self._varying[factor]
        if varying.size == 0:
            raise ValueError(f"No two examples differ in factor {factor} alone.")
        sizes = self._sizes[factor][varying]
        group = varying[rng.choice(varying.size, p=sizes / sizes.sum())]
        start, size = self._starts[factor][group], self._sizes[factor][group]
        members = self._order[factor][start:start + size]
        return rng.choice(members, batch_size, replace=size < batch_size)


def load_arrays(source, image_size=None, channels=None, batch_size=4096):
    """A whole split in memory: (uint8 images [N, H, W, C], float32 factors [N, F]).

    Images are resized and converted by the pipeline's own code
    (`zoo.data.pipeline.make_dataset` with the exact "discrete" encoding,
    turned back into uint8).
    """
    if "factors" not in source.dataset.element_spec:
        raise ValueError(
            f"Dataset {source.name!r} has no known generative factors; one-factor batches "
            "need shapes, dsprites, shapes3d or smallnorb.")
    dataset = pipeline.make_dataset(source, batch_size, "discrete", training=False,
                                    image_size=image_size, channels=channels,
                                    keys=("image", "factors"), cache=False)
    images, factors = [], []
    for batch in dataset:
        images.append(tf.cast(tf.round(batch["image"] * 255.0), tf.uint8).numpy())
        factors.append(batch["factors"].numpy())
    if not images:
        raise ValueError(f"Dataset {source.name!r} is empty.")
    return np.concatenate(images), np.concatenate(factors).astype(np.float32)


def _probabilities(factor_names, factor_weights):
    weights = dict(factor_weights or {})
    unknown = sorted(set(weights) - set(factor_names))
    if unknown:
        raise ValueError(f"Unknown factors {unknown}; expected names from {list(factor_names)}.")
    values = np.array([float(weights.get(name, 0.0 if weights else 1.0))
                       for name in factor_names])
    if np.any(values < 0) or values.sum() <= 0:
        raise ValueError(f"factor_weights must be >= 0 with some positive; got {weights}.")
    return values / values.sum()


def tfds_factor_batches(source, batch_size, factor_weights=None, seed=0, image_size=None,
                        channels=None):
    """An infinite stream of one-factor batches from a source with `factors`.

    Args:
        source: a `zoo.data.source.Source` whose examples carry `factors`
            (e.g. `zoo.data.tfds_source.load("dsprites")`).
        batch_size: examples per (global) batch.
        factor_weights: {factor name: weight} of drawing each factor as the
            varying one; default equal; factors left out are never drawn.
        seed: seed of the draws (the stream is the same for the same seed).
        image_size, channels: resize / convert the images (None keeps them).

    Returns:
        A dataset of dicts `image` uint8 [B, H, W, C], `factors` [B, F],
        `active_factor` int32 scalar (index into `source.factor_names`).

    Raises:
        ValueError: no factors, unknown names, or a drawn factor that never
            varies alone in this split.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive; got {batch_size}.")
    names = source.factor_names
    if not names:
        raise ValueError(
            f"Dataset {source.name!r} has no known generative factors; one-factor batches "
            "need shapes, dsprites, shapes3d or smallnorb.")
    probabilities = _probabilities(names, factor_weights)
    images, factors = load_arrays(source, image_size, channels)
    groups = OneFactorGroups(factors)
    fixed = [names[f] for f in np.flatnonzero(probabilities) if not groups.can_vary(f)]
    if fixed:
        raise ValueError(
            f"In {source.name!r}, no two examples differ in {fixed} alone, so no batch can "
            "vary them; give them no weight.")

    def generate():
        rng = np.random.default_rng(seed)
        while True:
            factor = int(rng.choice(len(names), p=probabilities))
            index = np.sort(groups.sample(factor, batch_size, rng))
            yield {"image": images[index], "factors": factors[index],
                   "active_factor": np.int32(factor)}

    shape = images.shape[1:]
    return tf.data.Dataset.from_generator(generate, output_signature={
        "image": tf.TensorSpec([batch_size, *shape], tf.uint8),
        "factors": tf.TensorSpec([batch_size, len(names)], tf.float32),
        "active_factor": tf.TensorSpec([], tf.int32)})


def draw_weights(factor_names, named_factors, intrinsic_ratio):
    """{data factor: how often its one-factor batches are drawn}.

    Each named factor (one with a DC-IGN group of its own) weighs 1; the
    others, the intrinsic factors, share `intrinsic_ratio` equally, so that
    intrinsic batches are drawn `intrinsic_ratio` times as often as one named
    factor's (Kulkarni et al. 2015: about 10 to 1 for faces).
    """
    intrinsic = [name for name in factor_names if name not in named_factors]
    share = intrinsic_ratio / max(1, len(intrinsic))
    return {name: (share if name in intrinsic else 1.0) for name in factor_names}


def require_whole_minibatches(global_batch_size, minibatches, replicas=1):
    """Fails unless every replica's share of the batch is whole rows of M minibatches.

    `zoo.DCIGN` reshapes a replica's batch to [rows, M]: row r holds the r-th
    example of each of the M interleaved one-factor minibatches.
    """
    if global_batch_size % (minibatches * replicas):
        raise ValueError(
            f"global batch size {global_batch_size} must be a multiple of minibatches × "
            f"replicas = {minibatches} × {replicas} = {minibatches * replicas}, so that every "
            "replica's share holds whole rows of the interleaved one-factor minibatches.")


def train_data(source, global_batch_size, minibatches, factor_weights, encoding, image_size,
               channels, seed=0, replicas=1):
    """DC-IGN's training stream: encoded one-factor global batches, forever.

    A global batch holds M = `minibatches` one-factor minibatches of
    global_batch_size / M examples (M = 1: the batch is one, the paper's
    procedure), drawn independently: in each a single factor varies, drawn
    at random with `factor_weights` (see `draw_weights`). Their rows are
    interleaved, row i * M + m being example i of minibatch m, so that a
    strategy splitting the batch into contiguous parts gives every replica
    rows of every minibatch (`zoo.DCIGN.clamp_encoder_outputs`). The
    minibatches are rendered by the source's own `factor_batches` where it
    has one (the built-in shapes), else drawn from its examples by
    `tfds_factor_batches`.

    Args:
        source: the train split's `Source`.
        global_batch_size: examples per global batch.
        minibatches: M, one-factor minibatches per global batch.
        factor_weights: {factor name: weight} of drawing each factor.
        encoding: the likelihood's pipeline encoding.
        image_size, channels: the model's image side and channels.
        seed: seed of the draws and of the encoding's noise.
        replicas: replicas the global batch is split over.

    Returns:
        A dataset of dicts: `image` float32 [B, H, W, C], `factors` [B, F]
        and `active_factor` int32 [B] (each row's minibatch's factor, per
        example so that a strategy can split the batch over its replicas).

    Raises:
        ValueError: the global batch is not a multiple of M × replicas.
    """
    require_whole_minibatches(global_batch_size, minibatches, replicas)
    batch_size, count = global_batch_size, minibatches
    minibatch_size = batch_size // count
    if source.factor_batches is not None:
        stream = source.factor_batches(minibatch_size, image_size, seed=seed,
                                       factor_weights=factor_weights)
    else:
        stream = tfds_factor_batches(source, minibatch_size, factor_weights, seed=seed,
                                     image_size=image_size, channels=channels)
    stream = stream.map(lambda batch: {key: batch[key] for key in (
        "image", "factors", "active_factor")})

    def interleave(values):
        """[M, b, ...] -> [b * M, ...], row i * M + m = example i of minibatch m."""
        order = [1, 0] + list(range(2, values.shape.rank))
        return tf.reshape(tf.transpose(values, order), [batch_size, *values.shape[2:]])

    def encode(batch, index):
        image = interleave(batch["image"])
        if image.shape[-1] != channels:
            image = (tf.image.grayscale_to_rgb(image) if channels == 3 else tf.cast(
                tf.round(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))), tf.uint8))
        active = tf.tile(tf.cast(batch["active_factor"], tf.int32), [minibatch_size])
        return {"image": pipeline.encode_images(image, encoding,
                                                zoo_random.step_seed(seed, index, 1)),
                "factors": interleave(batch["factors"]), "active_factor": active}

    batches = stream.batch(count, drop_remainder=True)
    return tf.data.Dataset.zip((batches, tf.data.Dataset.counter())).map(
        encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
