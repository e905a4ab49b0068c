r"""Free bits: the KL of each latent group floored at lambda nats (Kingma et al. 2016).

Appendix C.8 of the IAF paper divides the latents into groups j and replaces
the KL term of the objective by

    sum_j max(lambda, E_x[KL(q(z_j | x) || p(z_j))]),

the expectation taken over the minibatch: a group whose average KL is below
lambda gets no gradient pulling it towards the prior, so it is free to carry
lambda nats of information before it pays for them. It fights posterior
collapse (inactive latents) and is an option of the objective only: the ELBO
a model reports stays the true one.

`floored_kl` writes that in the per-example form the models' steps average
(`tf.nn.compute_average_loss`): example i's value is sum_j of KL_ij where the
group's batch mean exceeds lambda, else lambda. Its average over the batch is
the sum above, and its gradient is the KL's on the active groups and zero on
the others. Under `tf.distribute` the batch mean is the GLOBAL batch's (one
all-reduce), so a mirrored step equals a one-device step.
"""

import tensorflow as tf

__all__ = ["group_kl", "floored_kl"]


def group_kl(kl_dims, group_sizes):
    """[B, G] per-example KL of each group from its per-dimension values [B, D]."""
    parts = tf.split(kl_dims, list(group_sizes), axis=-1)
    return tf.stack([tf.reduce_sum(part, axis=-1) for part in parts], axis=-1)


def _global_batch_mean(values):
    """Column means [G] of `values` [B, G] over the global batch (all replicas)."""
    sums = tf.reduce_sum(values, axis=0)
    count = tf.cast(tf.shape(values)[0], values.dtype)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        sums, count = context.all_reduce(tf.distribute.ReduceOp.SUM, [sums, count])
    return tf.math.divide_no_nan(sums, count)


def floored_kl(kl_dims, group_sizes, threshold):
    """Per-example KL [B] whose batch average is sum_j max(threshold, mean KL_j).

    Args:
        kl_dims: [B, D] KL per example and latent dimension, in nats.
        group_sizes: sizes of the groups, in latent order, summing to D.
        threshold: lambda, in nats per group.
    """
    groups = group_kl(tf.cast(kl_dims, tf.float32), group_sizes)
    active = _global_batch_mean(tf.stop_gradient(groups)) > threshold
    return tf.reduce_sum(tf.where(active, groups, tf.cast(threshold, tf.float32)), axis=-1)
