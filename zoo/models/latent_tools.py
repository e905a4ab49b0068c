"""Interpreting a VAE's latent space: interpolations, traversals and attribute vectors.

Every tool works on the deterministic code of an input, z(x) =
`posterior_code` (the posterior mean; the flow at the base mean for an
IAF posterior), and shows decoded images, the likelihood's mean image of
`decode_params(z, inputs)`:

- Interpolation between two inputs along z_t, t in linspace(0, 1, steps):
  linear z_t = (1 - t) z_a + t z_b, or spherical (White 2016):

      slerp(z_a, z_b; t) = sin((1 - t) theta) / sin(theta) z_a
                           + sin(t theta) / sin(theta) z_b,
      cos(theta) = <z_a, z_b> / (|z_a| |z_b|),

  which keeps the path at the norms a Gaussian prior's samples have (in D
  dimensions they lie near the sphere of radius sqrt(D), while the linear
  midpoint of two of them falls inside it). Where sin(theta) ~ 0 (parallel
  or opposite codes, or a zero code) slerp is undefined and the path is
  linear. t = 0 and t = 1 give exactly z_a and z_b, so the ends are the two
  reconstructions.
- Traversal (Higgins et al. 2017, Fig. 7; Kingma & Welling 2014, Fig. 4):
  from one input's code, one latent dimension d at a time is set to
  prior_mean_d + v * prior_std_d for each v; the others keep the code's
  values. Dimensions are ranked by their average KL to the prior
  (`mean_kl_per_dimension`): a dimension with KL ~ 0 is inactive (the
  decoder ignores it; Burda et al. 2016, Sec. 5.2), so its row is flat.
- Attribute vectors (Hou et al. 2017, Sec. 4.3; White 2016, Sec. 2.4):
  v = mean z(x) over the examples with an attribute minus the mean over
  those without; decoding z(x) + s v adds the attribute with strength s.

For a conditional model (`zoo.CVAE`, `zoo.DisCVAE`) every decode uses the
inputs (attributes) of the example the code came from: interpolations x_a's.

References:
    White, T. (2016). Sampling Generative Networks. arXiv 1609.04468.
    Hou, X., Shen, L., Sun, K. and Qiu, G. (2017). Deep Feature Consistent
        Variational Autoencoder. WACV (arXiv 1610.00291), Sec. 4.3.
    Higgins, I. et al. (2017). beta-VAE: Learning Basic Visual Concepts with a
        Constrained Variational Framework. ICLR.
    Burda, Y., Grosse, R. and Salakhutdinov, R. (2016). Importance Weighted
        Autoencoders (active units, Sec. 5.2).
"""

import numbers

import numpy as np
import tensorflow as tf

from zoo import random as zoo_random

__all__ = ["LatentTools", "INTERPOLATIONS", "interpolation_codes", "traversal_codes",
           "labelled_attributes", "CHUNK"]

INTERPOLATIONS = ("linear", "spherical")
CHUNK = 256  # Examples encoded or decoded at once: bounds the activations' memory.
_PARALLEL = 1e-6  # |sin(theta)| below this: slerp is undefined, the path is linear.


def _check_interpolation(steps, method):
    """`steps` as an int, if it is an int >= 2 and `method` one of `INTERPOLATIONS`."""
    if method not in INTERPOLATIONS:
        raise ValueError(f"method={method!r} is not allowed; expected one of "
                         f"{', '.join(INTERPOLATIONS)}.")
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Integral) \
            or steps < 2:
        raise ValueError(f"steps={steps!r} is not allowed; expected an int >= 2 (the two "
                         "end points and what lies between).")
    return int(steps)


def interpolation_codes(z_a, z_b, steps=8, method="linear"):
    """Codes on the path from z_a to z_b, at t = linspace(0, 1, steps).

    Args:
        z_a, z_b: [B, D] codes (or [D]).
        steps: points on the path, an int >= 2 (the ends included).
        method: "linear", (1 - t) z_a + t z_b; or "spherical", slerp (White
            2016), linear where sin(theta) ~ 0.

    Returns:
        float32 numpy [B, steps, D] ([steps, D] for [D] inputs); [:, 0] is
        exactly z_a and [:, -1] exactly z_b.

    Raises:
        ValueError: an unknown method, steps that is not an int >= 2, or
            z_a and z_b of different shapes.
    """
    steps = _check_interpolation(steps, method)
    z_a = np.asarray(z_a, np.float64)
    z_b = np.asarray(z_b, np.float64)
    if z_a.shape != z_b.shape or z_a.ndim not in (1, 2):
        raise ValueError(f"z_a and z_b must both be [B, D] (or [D]); got {z_a.shape} and "
                         f"{z_b.shape}.")
    single = z_a.ndim == 1
    z_a, z_b = np.atleast_2d(z_a), np.atleast_2d(z_b)
    t = np.linspace(0.0, 1.0, steps)[None, :, None]                       # [1, S, 1]
    weight_a, weight_b = 1.0 - t, t
    if method == "spherical":
        norms = np.linalg.norm(z_a, axis=-1) * np.linalg.norm(z_b, axis=-1)
        cosine = np.sum(z_a * z_b, axis=-1) / np.where(norms > 0, norms, 1.0)
        theta = np.arccos(np.clip(cosine, -1.0, 1.0))[:, None, None]      # [B, 1, 1]
        sine = np.sin(theta)
        curved = (np.abs(sine) >= _PARALLEL) & (norms[:, None, None] > 0)
        safe = np.where(curved, sine, 1.0)
        weight_a = np.where(curved, np.sin((1.0 - t) * theta) / safe, weight_a)
        weight_b = np.where(curved, np.sin(t * theta) / safe, weight_b)
    path = weight_a * z_a[:, None] + weight_b * z_b[:, None]
    path = path.astype(np.float32)
    return path[0] if single else path


def traversal_codes(code, dims, values):
    """Copies of `code` with one dimension swept: row i sets dims[i] to values.

    Args:
        code: [D] the base code.
        dims: the latent dimensions to sweep, one row each.
        values: [V] values every row takes, or [len(dims), V] per row.

    Returns:
        float32 numpy [len(dims), V, D]: equal to `code` except entry
        [i, j, dims[i]] = values[(i,) j].

    Raises:
        ValueError: a dimension outside [0, D), or values of the wrong shape.
    """
    code = np.asarray(code, np.float32)
    if code.ndim != 1:
        raise ValueError(f"code must be one code [D]; got shape {code.shape}.")
    dims = _check_dims(dims, code.shape[0])
    values = np.asarray(values, np.float32)
    if values.ndim == 1:
        values = np.broadcast_to(values, (len(dims), values.shape[0]))
    if values.ndim != 2 or values.shape[0] != len(dims) or values.shape[1] == 0:
        raise ValueError(f"values must be [V] or [len(dims)={len(dims)}, V] with V >= 1; "
                         f"got shape {values.shape}.")
    codes = np.tile(code, (len(dims), values.shape[1], 1))
    codes[np.arange(len(dims)), :, dims] = values
    return codes


def _check_dims(dims, latent_dim):
    dims = np.asarray(dims)
    if dims.ndim != 1 or not np.issubdtype(dims.dtype, np.integer) \
            or np.any((dims < 0) | (dims >= latent_dim)):
        raise ValueError(f"dims must be latent dimensions in [0, {latent_dim}); got "
                         f"{dims.tolist()}.")
    return dims.astype(np.int64)


def labelled_attributes(batch, names=None, num_classes=None):
    """(names, has [N, A] bool) of a batch dict's attributes or class labels.

    Attributes (floats in [0, 1]) count as present above 0.5; an integer
    `label` gives one column per class, "class c vs the rest".

    Args:
        batch: a dict with `attributes` [N, A] or `label` [N].
        names: the attributes' names (default "0", "1", ...).
        num_classes: classes of `label` (default: its largest value + 1).

    Raises:
        ValueError: the batch has neither, or names of the wrong length.
    """
    if not isinstance(batch, dict) or not ({"attributes", "label"} & set(batch)):
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"labelled_attributes needs a batch dict with 'attributes' or "
                         f"'label'; got {keys}.")
    if "attributes" in batch:
        has = np.asarray(batch["attributes"], np.float32) > 0.5
        if has.ndim != 2:
            raise ValueError(f"attributes must be [N, A]; got shape {has.shape}.")
    else:
        labels = np.asarray(batch["label"]).astype(np.int64).reshape(-1)
        count = num_classes or (int(labels.max()) + 1 if labels.size else 0)
        has = labels[:, None] == np.arange(count)[None, :]
    names = tuple(str(name) for name in (names or range(has.shape[1])))
    if len(names) != has.shape[1]:
        raise ValueError(f"{len(names)} names for {has.shape[1]} attributes.")
    return names, has


def _rows(inputs, start, stop):
    return {key: value[start:stop] for key, value in inputs.items()}


class LatentTools:
    """Mixin of `zoo.VAE` (and so of every model built on it): the latent-space tools.

    The host provides `unpack`, `posterior_code`, `decode_params`,
    `likelihood.mean_image`, `elbo_terms`, `prior`, `seed`, `latent_dim` and
    `image_shape`. Data are batches as `fit` takes them (a tensor, a tuple
    or a dict); results are numpy arrays; at most `CHUNK` examples go
    through a network at once.
    """

    # -- Codes and images ------------------------------------------------------

    def latent_codes(self, data):
        """The code z(x) = `posterior_code` of every example, float32 numpy [N, D]."""
        return self._codes(self.unpack(data))

    def _codes(self, inputs):
        count = int(tf.shape(inputs["images"])[0])
        codes = [np.asarray(self.posterior_code(_rows(inputs, start, start + CHUNK)))
                 for start in range(0, count, CHUNK)]
        return np.concatenate(codes) if codes else np.zeros((0, self.latent_dim), np.float32)

    def _decode_codes(self, codes, inputs, owners):
        """Images [N, H, W, C] of codes [N, D], row n decoded with the inputs of owners[n]."""
        codes = np.asarray(codes, np.float32)
        images = []
        for start in range(0, len(codes), CHUNK):
            index = tf.constant(owners[start:start + CHUNK], tf.int32)
            rows = {key: tf.gather(value, index) for key, value in inputs.items()}
            params = self.decode_params(tf.constant(codes[start:start + CHUNK]), rows)
            images.append(np.asarray(self.likelihood.mean_image(params)))
        return np.concatenate(images)

    def _decode_grid(self, codes, inputs, owners):
        """Images [*codes.shape[:-1], H, W, C] of a grid of codes [..., D]."""
        flat = codes.reshape(-1, codes.shape[-1])
        images = self._decode_codes(flat, inputs, np.asarray(owners).reshape(-1))
        return images.reshape(*codes.shape[:-1], *images.shape[1:])

    # -- Interpolation -----------------------------------------------------------

    def interpolate(self, x_a, x_b, steps=8, method="linear"):
        """Images on the path between the codes of x_a and x_b (White 2016).

        Args:
            x_a, x_b: batches of B examples each.
            steps: images per path, an int >= 2; the first and last are the
                reconstructions of x_a and x_b.
            method: "linear" or "spherical" (`interpolation_codes`).

        Returns:
            float32 numpy [B, steps, H, W, C]; a conditional model decodes
            each path with x_a's attributes.

        Raises:
            ValueError: bad steps or method, or batches of different sizes.
        """
        _check_interpolation(steps, method)  # Before any encoding.
        inputs_a, inputs_b = self.unpack(x_a), self.unpack(x_b)
        z_a, z_b = self._codes(inputs_a), self._codes(inputs_b)
        if z_a.shape != z_b.shape:
            raise ValueError(f"x_a and x_b must hold as many examples; got {len(z_a)} and "
                             f"{len(z_b)}.")
        paths = interpolation_codes(z_a, z_b, steps, method)
        owners = np.repeat(np.arange(len(z_a)), steps).reshape(len(z_a), steps)
        return self._decode_grid(paths, inputs_a, owners)

    # -- Traversal ---------------------------------------------------------------

    def mean_kl_per_dimension(self, data):
        """The average over the batch of KL(q(z_d | x) || p(z_d)) per dimension d, numpy [D].

        In nats, from `elbo_terms(...)["kl_dims"]` (closed form for a
        diagonal posterior; one sample at the evaluation seed for a flow).
        Dimensions near 0 are inactive. (Named apart from the VAE's own
        `kl_per_dimension(params, latents, log_density)`, which it computes.)
        """
        inputs = self.unpack(data)
        seed = zoo_random.step_seed(self.seed, -1)
        count = int(tf.shape(inputs["images"])[0])
        if count == 0:
            raise ValueError("mean_kl_per_dimension needs at least one example.")
        total = np.zeros(self.latent_dim, np.float64)
        for start in range(0, count, CHUNK):
            kl = self.elbo_terms(_rows(inputs, start, start + CHUNK), seed)["kl_dims"]
            total += np.sum(np.asarray(kl, np.float64), axis=0)
        return (total / count).astype(np.float32)

    def traverse(self, x, dims=None, values=np.linspace(-2.5, 2.5, 7)):
        """Images of the first example's code with one dimension swept per row.

        Args:
            x: a batch; its first example gives the code (and the attributes
                of a conditional model), the whole batch the KL ranking.
            dims: the dimensions, one row each; None: all of them, by
                `mean_kl_per_dimension(x)`, largest first (active ones first).
            values: [V] in prior standard deviations around the prior mean:
                dimension d takes prior_mean_d + v * prior_std_d.

        Returns:
            float32 numpy [len(dims), V, H, W, C].
        """
        inputs = self.unpack(x)
        if dims is None:
            dims = np.argsort(-self.mean_kl_per_dimension(x), kind="stable")
        dims = _check_dims(dims, self.latent_dim)
        values = np.asarray(values, np.float32).reshape(-1)
        prior = self.prior.distribution()
        mean, std = np.asarray(prior.mean()), np.asarray(prior.stddev())
        swept = mean[dims, None] + values[None, :] * std[dims, None]      # [R, V]
        first = _rows(inputs, 0, 1)
        codes = traversal_codes(self._codes(first)[0], dims, swept)
        return self._decode_grid(codes, first, np.zeros(codes.shape[:-1], np.int64))

    # -- Attribute vectors -------------------------------------------------------

    def attribute_vector(self, data, has_attribute):
        """Mean code of the examples with an attribute minus that of those without, [D].

        Hou et al. (2017), Sec. 4.3; White (2016).

        Args:
            data: a batch of N examples.
            has_attribute: bool [N], which examples show the attribute.

        Raises:
            ValueError: has_attribute is not [N], or one side is empty.
        """
        codes = self.latent_codes(data)
        has = np.asarray(has_attribute).astype(bool).reshape(-1)
        if has.shape[0] != codes.shape[0]:
            raise ValueError(f"has_attribute has {has.shape[0]} entries for {codes.shape[0]} "
                             "examples.")
        if has.all() or not has.any():
            raise ValueError(f"attribute_vector needs examples with and without the attribute; "
                             f"got {int(has.sum())} with and {int((~has).sum())} without.")
        return (codes[has].mean(axis=0) - codes[~has].mean(axis=0)).astype(np.float32)

    def add_attribute_vector(self, x, vector, strengths=(0, 0.5, 1, 1.5, 2)):
        """Images of code(x) + s * vector for each strength s, [B, len(strengths), H, W, C]."""
        inputs = self.unpack(x)
        vector = np.asarray(vector, np.float32).reshape(-1)
        if vector.shape[0] != self.latent_dim:
            raise ValueError(f"vector must have latent_dim={self.latent_dim} entries; got "
                             f"{vector.shape[0]}.")
        strengths = np.asarray(strengths, np.float32).reshape(-1)
        codes = self._codes(inputs)
        moved = codes[:, None, :] + strengths[None, :, None] * vector[None, None, :]
        owners = np.repeat(np.arange(len(codes)), len(strengths)).reshape(moved.shape[:-1])
        return self._decode_grid(moved, inputs, owners)
