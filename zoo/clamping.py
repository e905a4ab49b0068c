"""DC-IGN's clamped minibatch: one factor varies, the other latents are held fixed.

The Deep Convolutional Inverse Graphics Network (Kulkarni et al. 2015) is
trained on minibatches in which a single generative factor changes (say the
azimuth of a face) while all others (elevation, light, identity) are fixed.
Fig. 3 of the paper describes one training step on such a batch:

- Forward: "the output from each component z_i != z_1 of the encoder is
  altered to be the same for each sample in the batch", so the latents of
  the varying factor (here z_1) must explain all the variation in the batch.
- Backward: "z_1 is the only neuron which receives a gradient signal from the
  attempted reconstruction, and all z_i != z_1 receive a signal which nudges
  them to be closer to their respective averages over the batch."

`clamp_latents` is that operation, as one `tf.custom_gradient`. Which latents
are "z_1" is given by a mask over the latent columns; `group_mask` builds it
from named latent groups (e.g. azimuth, elevation, light, intrinsic).

The paper and the authors' Torch code differ, and both are available:

    clamp_to="mean", invariance_strength > 0    the paper: clamp to the batch
        mean; the clamped outputs are pulled toward it.
    clamp_to="first", invariance_strength=0     the original code's default:
        clamp to the batch's first sample (SelectiveOutputClamp); the clamped
        units get no gradient at all (SelectiveGradientFilter, whose
        invariance option is off by default).

Under `tf.distribute` a one-factor batch may be split across replicas; the
batch statistic is then that of the GLOBAL batch (see `clamp_latents`), so
every replica clamps to the same value, as a single device would.

References:
    Kulkarni, Whitney, Kohli & Tenenbaum (2015), Deep Convolutional Inverse
    Graphics Network, NeurIPS, Sec. 3.1 and Fig. 3 (arXiv 1503.03167).
"""

import numbers

import tensorflow as tf

__all__ = ["CLAMP_TARGETS", "clamp_latents", "group_items", "group_mask", "validate_clamp_to"]

CLAMP_TARGETS = ("mean", "first")


def validate_clamp_to(clamp_to):
    """Returns `clamp_to` if it names a batch statistic to clamp to.

    Args:
        clamp_to: "mean" (the paper) or "first" (the authors' Torch code).

    Returns:
        `clamp_to`, unchanged.

    Raises:
        ValueError: naming the bad value and the allowed ones.
    """
    if not isinstance(clamp_to, str) or clamp_to not in CLAMP_TARGETS:
        raise ValueError(f"Unknown clamp_to {clamp_to!r}; expected one of {CLAMP_TARGETS}.")
    return clamp_to


def group_items(group_sizes, kind="latent group"):
    """[(name, size), ...] from a dict or a sequence of pairs, validated.

    Args:
        group_sizes: dict {name: size} (insertion order) or a sequence of
            (name, size) pairs.
        kind: what a group is called in the error messages.

    Raises:
        ValueError: no groups, a malformed pair, a size that is not a
            positive integer, or a name used twice.
    """
    items = list(group_sizes.items()) if isinstance(group_sizes, dict) else list(
        group_sizes or ())
    if not items:
        raise ValueError(f"Needs at least one {kind}: a (name, size) pair, e.g. ('scale', 1).")
    groups = []
    for item in items:
        if isinstance(item, str) or len(item) != 2:
            raise ValueError(f"A {kind} is a (name, size) pair; got {item!r}.")
        name, size = item
        if not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"{kind.capitalize()} {name!r} needs a positive integer size; "
                             f"got {size!r}.")
        groups.append((str(name), int(size)))
    names = [name for name, _ in groups]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{kind.capitalize()}s named more than once: {repeated}.")
    return groups


def group_mask(group_sizes, active_group):
    """bool [D]: True on the latent columns of the active group.

    The latent vector is the concatenation of the groups, in order, e.g.
    `[("azimuth", 1), ("elevation", 1), ("light", 1), ("intrinsic", 197)]`
    is DC-IGN's 200-d face code (z_1, z_2, z_3, z_4...z_200).

    Args:
        group_sizes: dict {name: size} (insertion order) or a sequence of
            (name, size) pairs.
        active_group: the group whose factor varies in the batch: its name,
            or its position as a Python int or an integer scalar tensor (a
            batch's factor index inside `tf.function`; an out-of-range
            tensor index fails a runtime assertion).

    Returns:
        A bool tensor [D], D = sum of the sizes, the `active` argument of
        `clamp_latents`.

    Raises:
        ValueError: malformed or repeated groups, an unknown name, or an
            out-of-range Python index.
    """
    groups = group_items(group_sizes)
    names = [name for name, _ in groups]
    column_group = tf.repeat(tf.range(len(groups), dtype=tf.int32),
                             [size for _, size in groups])
    if isinstance(active_group, str):
        if active_group not in names:
            raise ValueError(f"Unknown latent group {active_group!r}; the groups are {names}.")
        return tf.equal(column_group, names.index(active_group))
    if isinstance(active_group, numbers.Integral):
        if not 0 <= active_group < len(groups):
            raise ValueError(f"Latent group index {active_group} is out of range for the "
                             f"{len(groups)} groups {names}.")
        return tf.equal(column_group, int(active_group))
    index = tf.cast(active_group, tf.int32)
    tf.debugging.assert_rank(index, 0, message="active_group must be a scalar index.")
    checks = [tf.debugging.assert_non_negative(index, message="active_group index < 0"),
              tf.debugging.assert_less(index, len(groups),
                                       message=f"active_group index >= {len(groups)} groups")]
    with tf.control_dependencies(checks):
        return tf.equal(column_group, index)


def _statistic_dtype(dtype):
    """Reductions of half-precision latents run in float32."""
    return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype


def _global_batch_statistic(values, clamp_to):
    """(statistic [D], global batch size N) of the batch `values` [B, D].

    In a replica context with R > 1 replicas, `values` holds this replica's
    rows of the global batch, and the statistic is the global one, through
    one all-reduce (SUM) per call:

        "mean": the per-replica column sums and row counts are summed, and
            the mean is sum / N (0 for an empty global batch).
        "first": each replica writes its first row (zeros if it has none)
            into its own row of an [R, D] matrix, and a 0/1 flag for "has
            rows" into an [R] vector; after the sum, the statistic is the row
            of the first replica with rows. That is replica 0's first
            example, or, if replica 0 got no rows (a short final batch), the
            next replica's: the global batch's first example in replica order,
            which is the order in which a distributed dataset splits a batch.

    Outside a replica context (cross-replica context) or with one replica,
    the statistic is that of `values`.
    """
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    count = tf.cast(tf.shape(values)[0], values.dtype)
    if clamp_to == "mean":
        sums = tf.reduce_sum(values, axis=0)
        if replicas > 1:
            sums, count = context.all_reduce(tf.distribute.ReduceOp.SUM, [sums, count])
        return tf.math.divide_no_nan(sums, count), count
    first = tf.reduce_sum(values[:1], axis=0)  # Row 0, or zeros for an empty batch.
    if replicas == 1:
        return first, count
    slot = tf.one_hot(context.replica_id_in_sync_group, replicas, dtype=values.dtype)
    firsts, has_rows, count = context.all_reduce(
        tf.distribute.ReduceOp.SUM,
        [slot[:, None] * first[None, :], slot * tf.minimum(count, 1.0), count])
    replica = tf.reduce_min(tf.where(has_rows > 0, tf.range(replicas), replicas))
    return tf.gather(firsts, tf.minimum(replica, replicas - 1)), count


def clamp_latents(z, active, clamp_to="mean", invariance_strength=1.0, *, gradient_scale=1.0):
    """DC-IGN's clamp of the latents of a one-factor batch (Kulkarni et al. 2015, Fig. 3).

    Forward, for example i and latent column d of a batch of N examples:

        out[i, d] = z[i, d]   if active[d]
                    s[d]      otherwise,
        s = (1/N) sum_i z_i   clamp_to="mean": the batch mean (the paper), or
            z_1               clamp_to="first": the batch's first example (the
                              authors' Torch code).

    Backward, with g = dL/d(out) the upstream gradient and
    lambda = invariance_strength:

        dL/dz[i, d] = g[i, d]                         if active[d]
                      lambda * (z[i, d] - s[d]) / N   otherwise.

    The clamped columns get nothing of g: only the active latents are
    trained by the reconstruction (and whatever else is computed from the
    output). Their signal is instead the gradient of the invariance penalty

        P = (lambda / N) * sum_i 0.5 * sum_{d inactive} (z[i, d] - s[d])^2,

    i.e. the per-example penalty 0.5 * lambda * ||z_i - s||^2 on the clamped
    columns, averaged over the batch, with s held constant: the paper's
    "signal which nudges them to be closer to their respective averages over
    the batch". For "mean" the result is also the exact gradient of P with s
    differentiated (sum_i (z_i - s) = 0), i.e. of lambda / 2 times the summed
    (biased) batch variances of the clamped columns; for "first" z_1 gets 0.
    Why 1/N: a per-example loss averaged over the global batch (as
    `tf.nn.compute_average_loss` does) reaches each example with a factor
    1/N, so with the same factor lambda weighs the penalty against the
    reconstruction in the same units (nats per example), independently of
    the batch size and of the number of replicas. lambda = 0 reproduces the
    original code's default: no gradient at all to the clamped units. No
    gradient flows through s.

    Distribution: in a replica context with several replicas (inside
    `strategy.run`), z is this replica's share of the global batch and s
    and N are those of the GLOBAL batch: one all-reduce (SUM) of the column
    sums and row counts for "mean"; for "first", the first example of
    replica 0 (of the first replica holding any rows, if replica 0 has
    none), shared by the same all-reduce. A one-factor batch split over the
    replicas therefore clamps to one value everywhere, and the replicas'
    gradients, summed by the strategy, are those of one device.

    Args:
        z: float [B, D]: per-example latent values (e.g. the posterior means,
            or samples); B may be 0.
        active: bool or 0/1 [D] (or anything broadcastable to [B, D]): True
            on the columns of the factor that varies in this batch (see
            `group_mask`).
        clamp_to: "mean" or "first".
        invariance_strength: lambda >= 0, a float or a scalar tensor.
        gradient_scale: a float or scalar tensor multiplying the invariance
            gradient only. Under loss scaling (mixed precision) pass the loss
            scale: the upstream gradient carries it, the invariance term would
            not, and would be divided by it when the optimizer unscales. When
            z is one of M minibatches of the batch the loss is averaged over,
            pass 1 / M as well (times the loss scale), so that the pull is per
            example of that whole batch (`zoo.DCIGN.clamp_encoder_outputs`).

    Returns:
        The clamped latents, [B, D], with z's dtype (half-precision
        statistics are computed in float32).

    Raises:
        ValueError: an unknown `clamp_to`, a negative Python
            `invariance_strength`, a z that is not of rank 2, or a mask whose
            length differs from D.

    References:
        Kulkarni, Whitney, Kohli & Tenenbaum (2015), Deep Convolutional
        Inverse Graphics Network, NeurIPS, Sec. 3.1 and Fig. 3.
    """
    validate_clamp_to(clamp_to)
    if isinstance(invariance_strength, numbers.Real) and invariance_strength < 0:
        raise ValueError(f"invariance_strength must be >= 0; got {invariance_strength}.")
    z = tf.convert_to_tensor(z)
    if z.shape.rank is not None and z.shape.rank != 2:
        raise ValueError(f"z must be [batch, latents]; got shape {z.shape}.")
    active = tf.cast(active, tf.bool)
    if (active.shape.rank == 1 and active.shape[0] is not None and z.shape.rank == 2
            and z.shape[1] is not None and active.shape[0] != z.shape[1]):
        raise ValueError(f"active has {active.shape[0]} entries for {z.shape[1]} latents.")
    compute_dtype = _statistic_dtype(z.dtype)
    strength = (tf.cast(invariance_strength, compute_dtype)
                * tf.cast(gradient_scale, compute_dtype))

    @tf.custom_gradient
    def clamp(values):
        wide = tf.cast(values, compute_dtype)
        statistic, count = _global_batch_statistic(wide, clamp_to)
        clamped = tf.where(active, values, tf.cast(statistic, values.dtype))

        def gradient(upstream):
            pull = strength * tf.math.divide_no_nan(wide - statistic, count)
            return tf.where(active, upstream, tf.cast(pull, upstream.dtype))

        return clamped, gradient

    return clamp(z)
