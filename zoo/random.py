"""Seeded, stateless noise that is the same per example on any number of replicas.

Every stochastic step of the zoo draws its noise from a seed built out of the
model's integer seed and a step counter (`step_seed`), never from an unseeded
global op. `global_batch_normal` draws the noise of the *global* batch and keeps
this replica's rows, so a run on N replicas sees exactly the noise a run on one
device sees for the same example: the two give the same updates.
"""

import tensorflow as tf

__all__ = ["step_seed", "replica_rows", "global_batch_normal", "global_batch_uniform",
           "fingerprint_normal"]


def step_seed(seed, counter, stream=0):
    """Returns a shape-[2] int64 stateless seed for one draw.

    Args:
        seed: the model's integer seed.
        counter: an integer scalar (tensor) that changes every step, e.g.
            `optimizer.iterations`.
        stream: an integer telling apart independent draws of the same step.
    """
    base = tf.stack([tf.cast(seed, tf.int64), tf.cast(counter, tf.int64)])
    return tf.random.experimental.stateless_fold_in(base, stream)


def replica_rows(local_batch):
    """(offset, global batch): where this replica's examples sit in the global batch.

    Replicas need not hold equal batches: `tf.distribute` splits the uneven
    last batch of a finite dataset into leading, larger parts (5 examples on 2
    replicas: rows 0-2 and 3-4; 1 example: 1 and 0). So every replica's local
    batch is gathered; the global batch is their sum, and replica r's rows
    start after those of replicas 0..r-1.

    Args:
        local_batch: this replica's batch size, an integer scalar (tensor).
    """
    local_batch = tf.cast(local_batch, tf.int32)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.constant(0, tf.int32), local_batch
    batches = context.all_gather(tf.reshape(local_batch, [1]), axis=0)
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    return tf.reduce_sum(batches[:replica]), tf.reduce_sum(batches)


def _replica_slice(draw, local_shape, seed, batch_axis):
    """Draws for the global batch and keeps this replica's slice along batch_axis."""
    local_shape = tf.convert_to_tensor(local_shape, tf.int32)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return draw(local_shape, seed)
    offset, global_batch = replica_rows(local_shape[batch_axis])
    global_shape = tf.tensor_scatter_nd_update(local_shape, [[batch_axis]], [global_batch])
    noise = draw(global_shape, seed)
    begin = tf.one_hot(batch_axis, tf.size(local_shape), dtype=tf.int32) * offset
    return tf.slice(noise, begin, local_shape)


def global_batch_normal(local_shape, seed, batch_axis=0):
    """Standard-normal float32 noise of `local_shape` for this replica's examples.

    Args:
        local_shape: the shape this replica needs (its batch dimension is the
            per-replica batch).
        seed: a shape-[2] integer stateless seed (see `step_seed`).
        batch_axis: which dimension of `local_shape` runs over examples.
    """
    return _replica_slice(
        lambda shape, s: tf.random.stateless_normal(shape, s), local_shape, seed,
        batch_axis)


def global_batch_uniform(local_shape, seed, batch_axis=0):
    """Uniform [0, 1) float32 noise, replica-consistent like `global_batch_normal`."""
    return _replica_slice(
        lambda shape, s: tf.random.stateless_uniform(shape, s), local_shape, seed,
        batch_axis)


def fingerprint_normal(values, size):
    """[B, size] standard-normal noise, row b seeded by the fingerprint of values[b].

    For exports that must be pure functions of their inputs yet draw noise
    (a served posterior sample): the same row always gets the same noise,
    different rows independent noise, whatever else is in the batch.
    """
    fingerprints = tf.reshape(tf.fingerprint(values), [-1, 2, 4])
    seeds = tf.bitcast(fingerprints, tf.int32)
    return tf.map_fn(lambda seed: tf.random.stateless_normal([size], seed), seeds,
                     fn_output_signature=tf.float32)
