r"""The vector quantiser of the VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017).

Each D-dimensional encoder output z_e is replaced by its nearest codebook
vector e_k, k = argmin_j ||z_e - e_j||. The decoder sees the straight-through
value z_e + sg[e_k - z_e], equal to e_k forward, whose gradient passes to
z_e unchanged (the paper's Eq. 3 copies the decoder's gradient to the encoder).
The two latent terms of the loss, per example, summed over grid positions and
dimensions, are

    codebook   = ||sg[z_e] - e||^2   (moves the codes towards the encodings)
    commitment = ||z_e - sg[e]||^2   (weighted by beta, keeps z_e near its code)

Alternatively (`ema=True`, the paper's Appendix A.1) the codebook is not
trained by gradients but set to exponential moving averages of the encodings
assigned to each code:

    N_k <- gamma N_k + (1 - gamma) n_k,     m_k <- gamma m_k + (1 - gamma) sum_{i->k} z_e,i
    e_k = m_k / N~_k,   N~ the counts with Laplace smoothing (eps), as in Sonnet.

Under `tf.distribute` the batch statistics n_k and sum z_e are summed over the
replicas before the update, so a mirrored step makes the update of one device
on the global batch. With `restart_threshold` > 0 a code whose count N_k has
fallen below it ("dead": no encoding has been near it for a while) is moved to
an encoder output of the batch, drawn with a shared seed from the global
batch, which also keeps replicas identical (Dhariwal et al. 2020, Jukebox).

The running counts start at 1 and the sums at the initial codebook, so the
first updates move the codes gradually instead of dividing by zero.
"""

import keras
import tensorflow as tf

from zoo import checks
from zoo import random as zoo_random

__all__ = ["VectorQuantizer"]


def _sum_over_replicas(value):
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


@keras.saving.register_keras_serializable(package="zoo")
class VectorQuantizer(keras.layers.Layer):
    """Nearest-neighbour quantisation of [..., D] vectors to K learned codes.

    Args:
        num_codes: K, the codebook size.
        embedding_dim: D, the size of each code.
        ema: update the codebook by exponential moving averages (Appendix A.1)
            instead of by the gradient of the codebook term.
        decay: gamma of the moving averages, in [0, 1).
        epsilon: Laplace smoothing of the counts.
        restart_threshold: with `ema`, codes whose running count falls below
            this are restarted from encoder outputs (0 turns it off).
        seed: seed of the restarts' draws.
    """

    def __init__(self, num_codes, embedding_dim, ema=False, decay=0.99, epsilon=1e-5,
                 restart_threshold=0.0, seed=0, **kwargs):
        kwargs.setdefault("dtype", "float32")  # Distances and averages stay float32.
        super().__init__(**kwargs)
        self.num_codes = checks.positive_int("num_codes", num_codes)
        self.embedding_dim = checks.positive_int("embedding_dim", embedding_dim)
        self.ema = bool(ema)
        decay = checks.finite_non_negative("decay", decay)
        if decay >= 1:
            raise ValueError(f"decay={decay} must be in [0, 1): 1 would never move the codes.")
        self.decay = decay
        self.epsilon = checks.finite_positive("epsilon", epsilon)
        self.restart_threshold = checks.finite_non_negative("restart_threshold",
                                                            restart_threshold)
        self.seed = checks.integer("seed", seed)

    def build(self, input_shape):
        if input_shape[-1] != self.embedding_dim:
            raise ValueError(f"VectorQuantizer: inputs end in {input_shape[-1]} dimensions; "
                             f"the codes have embedding_dim={self.embedding_dim}.")
        shape = (self.num_codes, self.embedding_dim)
        # With EMA every replica computes the same update from all-reduced statistics.
        aggregation = "only_first_replica" if self.ema else "none"
        self.codebook = self.add_weight(
            name="codebook", shape=shape, dtype="float32", trainable=not self.ema,
            initializer=keras.initializers.VarianceScaling(distribution="uniform"),
            aggregation=aggregation)
        if self.ema:
            self.ema_counts = self.add_weight(
                name="ema_counts", shape=(self.num_codes,), dtype="float32", trainable=False,
                initializer="ones", aggregation=aggregation)
            self.ema_sums = self.add_weight(
                name="ema_sums", shape=shape, dtype="float32", trainable=False,
                initializer="zeros", aggregation=aggregation)
            with tf.init_scope():  # Once, eagerly, even if first built while tracing.
                self.ema_sums.assign(self.codebook)
            self.updates = self.add_weight(
                name="updates", shape=(), dtype="int64", trainable=False,
                initializer="zeros", aggregation=aggregation)

    def indices(self, encodings):
        """The index of the nearest code of each vector: [...] int32."""
        flat = tf.reshape(tf.cast(encodings, tf.float32), [-1, self.embedding_dim])
        codebook = tf.convert_to_tensor(self.codebook)
        distances = (tf.reduce_sum(flat ** 2, 1, keepdims=True)
                     - 2.0 * tf.matmul(flat, codebook, transpose_b=True)
                     + tf.reduce_sum(codebook ** 2, 1)[None])
        nearest = tf.argmin(distances, axis=1, output_type=tf.int32)
        return tf.reshape(nearest, tf.shape(encodings)[:-1])

    def lookup(self, indices):
        """The codes of int indices [...] -> [..., D] float32."""
        return tf.gather(tf.convert_to_tensor(self.codebook), indices)

    def call(self, encodings, training=False):
        """Quantises z_e [B, ..., D].

        Returns:
            dict: `quantized` (straight-through, [B, ..., D] float32), `indices`
            [B, ...] int32, and per example [B]: `codebook` ||sg[z_e] - e||^2
            and `commitment` ||z_e - sg[e]||^2 (in the encodings' units,
            summed over positions and dimensions).
        """
        encodings = tf.cast(encodings, tf.float32)
        indices = self.indices(encodings)
        codes = self.lookup(indices)
        axes = list(range(1, encodings.shape.rank))
        codebook = tf.reduce_sum((tf.stop_gradient(encodings) - codes) ** 2, axes)
        commitment = tf.reduce_sum((encodings - tf.stop_gradient(codes)) ** 2, axes)
        quantized = encodings + tf.stop_gradient(codes - encodings)
        if training and self.ema:  # After the codes of this step are read, as in Sonnet.
            with tf.control_dependencies([quantized, codebook]):
                self.update_codebook(encodings, indices)
        return {"quantized": quantized, "indices": indices, "codebook": codebook,
                "commitment": commitment}

    def update_codebook(self, encodings, indices):
        """One moving-average update from a batch and its codes (summed over replicas).

        Then codes whose running count fell below `restart_threshold` restart.
        """
        flat = tf.reshape(tf.stop_gradient(encodings), [-1, self.embedding_dim])
        assigned = tf.one_hot(tf.reshape(indices, [-1]), self.num_codes, dtype=tf.float32)
        counts = _sum_over_replicas(tf.reduce_sum(assigned, 0))
        sums = _sum_over_replicas(tf.matmul(assigned, flat, transpose_a=True))
        gamma = self.decay
        new_counts = gamma * self.ema_counts + (1.0 - gamma) * counts
        new_sums = gamma * self.ema_sums + (1.0 - gamma) * sums
        total = tf.reduce_sum(new_counts)
        smoothed = (new_counts + self.epsilon) / (total + self.num_codes * self.epsilon) * total
        new_codebook = new_sums / smoothed[:, None]
        if self.restart_threshold > 0:
            dead = new_counts < self.restart_threshold
            fresh = self._draw_encodings(flat)
            new_codebook = tf.where(dead[:, None], fresh, new_codebook)
            new_sums = tf.where(dead[:, None], fresh, new_sums)
            new_counts = tf.where(dead, tf.ones_like(new_counts), new_counts)
        self.ema_counts.assign(new_counts)
        self.ema_sums.assign(new_sums)
        self.codebook.assign(new_codebook)
        self.updates.assign_add(1)

    def _draw_encodings(self, flat):
        """K rows of the global batch's encodings, the same on every replica.

        Row indices are drawn with a seed shared by all replicas; each replica
        fills in the rows it holds, and a sum over replicas completes them.
        """
        offset, total = zoo_random.replica_rows(tf.shape(flat)[0])
        seed = zoo_random.step_seed(self.seed, self.updates, stream=1)
        rows = tf.random.stateless_uniform([self.num_codes], seed, 0, total, dtype=tf.int32)
        local = rows - offset
        mine = (local >= 0) & (local < tf.shape(flat)[0])
        picked = tf.gather(flat, tf.clip_by_value(local, 0, tf.shape(flat)[0] - 1))
        return _sum_over_replicas(tf.where(mine[:, None], picked, tf.zeros_like(picked)))

    @staticmethod
    def usage(indices, num_codes):
        """(perplexity, share of codes used) of a batch of indices.

        Perplexity exp(H(p)), p the codes' frequencies over every position of
        the batch: K when all codes are used equally, 1 when one code is.
        """
        frequencies = tf.reduce_sum(tf.one_hot(tf.reshape(indices, [-1]), num_codes), 0)
        frequencies /= tf.maximum(tf.reduce_sum(frequencies), 1.0)
        entropy = -tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(frequencies),
                                                         frequencies))
        used = tf.reduce_mean(tf.cast(frequencies > 0, tf.float32))
        return tf.exp(entropy), used

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes,
                "embedding_dim": self.embedding_dim, "ema": self.ema, "decay": self.decay,
                "epsilon": self.epsilon, "restart_threshold": self.restart_threshold,
                "seed": self.seed}
