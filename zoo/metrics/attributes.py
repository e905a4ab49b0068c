"""Do generated images show the attributes they were asked for? A classifier judges.

A small convolutional classifier is trained on *real* images of a dataset
to predict their attributes; it then reads the attributes of images a
conditional model generated for requested attributes y, and we count how
often they match:

    per-attribute accuracy_k = mean_i [ yhat_ik == y_ik ],
    exact match              = mean_i [ yhat_i == y_i (every attribute) ].

Attributes come as binary entries and one-hot groups (a digit's class; the
shapes dataset's shape and colour). A group is predicted with a softmax
(argmax within the group), a binary attribute with a sigmoid (logit > 0);
`one_hot_groups` finds the groups in the training labels. Chance is measured
the same way, with the requested attributes shuffled across images: the
score of a generator whose images ignore y but look like real data
(`chance_match`).

A conditional model (Attribute2Image's CVAE) is judged twice: on images it
generates from held-out attribute vectors with z ~ p(z) (`generation_scores`,
next to chance and the classifier's accuracy on the real images, the
ceiling), and on real images encoded with their attributes and decoded with
one attribute group changed (`manipulation_targets`, `manipulation_scores`).

References:
    Yan, X., Yang, J., Sohn, K. and Lee, H. (2016). Attribute2Image:
    Conditional Image Generation from Visual Attributes. ECCV.
"""

import os

import keras
import numpy as np
import tensorflow as tf

__all__ = ["one_hot_groups", "GroupedAttributeLoss", "attribute_loss",
           "classifier_trunk", "AttributeClassifier", "predict_attributes", "attribute_match",
           "chance_match", "train_classifier", "load_or_train_classifier", "in_batches",
           "generation_scores", "manipulation_targets", "manipulation_scores"]


def one_hot_groups(attributes):
    """Groups of attribute columns that are one-hot in every row, else singletons.

    Greedily, for each column not yet grouped, the later columns that are
    never active together with any member join its group; the group is kept
    if exactly one member is active in every row (a class, the shapes
    dataset's shape or colour). Every other column is a binary attribute,
    a group of one.

    Args:
        attributes: [N, A] array of 0/1 labels.

    Returns:
        A tuple of tuples of column indices covering range(A), in order of
        their first column.
    """
    labels = np.asarray(attributes) > 0.5
    if labels.ndim != 2:
        raise ValueError(f"attributes must be [N, A]; got shape {labels.shape}.")
    count = labels.shape[1]
    together = labels.T.astype(np.int64) @ labels.astype(np.int64)  # co-activity counts
    grouped, groups = set(), []
    for first in range(count):
        if first in grouped:
            continue
        group = [first]
        for other in range(first + 1, count):
            if other not in grouped and all(together[member, other] == 0 for member in group):
                group.append(other)
        if len(group) > 1 and np.all(labels[:, group].sum(axis=1) == 1):
            groups.append(tuple(group))
            grouped.update(group)
        else:
            groups.append((first,))
            grouped.add(first)
    return tuple(sorted(groups))


def attribute_loss(logits, attributes, groups):
    """Per-example classification loss, in nats.

    sum over one-hot groups of the softmax cross-entropy within the group,
    plus sum over binary attributes of the sigmoid cross-entropy.

    Args:
        logits: [B, A].
        attributes: [B, A] 0/1 labels.
        groups: as `one_hot_groups` returns them.

    Returns:
        [B] float32.
    """
    logits = tf.cast(logits, tf.float32)
    attributes = tf.cast(attributes, tf.float32)
    total = tf.zeros(tf.shape(logits)[:1])
    for group in groups:
        group = list(group)
        if len(group) == 1:
            total += tf.nn.sigmoid_cross_entropy_with_logits(
                labels=attributes[:, group[0]], logits=logits[:, group[0]])
        else:
            total += tf.nn.softmax_cross_entropy_with_logits(
                labels=tf.gather(attributes, group, axis=1),
                logits=tf.gather(logits, group, axis=1))
    return total


@keras.saving.register_keras_serializable(package="zoo")
class GroupedAttributeLoss(keras.losses.Loss):
    """`attribute_loss` as a Keras loss, averaged over the batch."""

    def __init__(self, groups, name="grouped_attribute_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.groups = tuple(tuple(int(i) for i in group) for group in groups)

    def call(self, y_true, y_pred):
        return attribute_loss(y_pred, y_true, self.groups)

    def get_config(self):
        return {**super().get_config(), "groups": [list(g) for g in self.groups]}


def predict_attributes(logits, groups):
    """0/1 predictions [B, A]: argmax within one-hot groups, logit > 0 otherwise."""
    logits = np.asarray(logits)
    predicted = np.zeros_like(logits, dtype=np.float32)
    for group in groups:
        group = list(group)
        if len(group) == 1:
            predicted[:, group[0]] = logits[:, group[0]] > 0
        else:
            winners = np.asarray(group)[np.argmax(logits[:, group], axis=1)]
            predicted[np.arange(len(logits)), winners] = 1.0
    return predicted


def classifier_trunk(image_shape, base_filters=16, hidden=128, max_filters=128,
                     name="trunk"):
    """Images -> `hidden` features: [3x3 convolution, ReLU, 2x2 max-pool] blocks.

    Inputs in [0, 1] are first mapped to [-1, 1]; blocks halve the image
    while its side is even and above 4 (32 -> 16 -> 8 -> 4; 28 -> 14 -> 7),
    doubling the filters from `base_filters` up to `max_filters`.
    """
    layers = [keras.Input(shape=tuple(image_shape)), keras.layers.Rescaling(2.0, -1.0)]
    size, filters = int(image_shape[0]), int(base_filters)
    while size > 4 and size % 2 == 0:
        layers += [keras.layers.Conv2D(filters, 3, padding="same"), keras.layers.ReLU(),
                   keras.layers.MaxPooling2D()]
        size //= 2
        filters = min(2 * filters, max_filters)
    layers += [keras.layers.Flatten(), keras.layers.Dense(hidden), keras.layers.ReLU()]
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="zoo")
class AttributeClassifier(keras.Model):
    """Images [B, H, W, C] in [0, 1] -> attribute logits [B, A].

    A small VGG-like network (`classifier_trunk`) and one linear layer.
    (Strided 4x4 convolutions, the zoo's VAE encoder, learn the shapes
    dataset's shapes far more slowly.)

    Args:
        image_shape: (H, W, C).
        groups: the attribute groups (`one_hot_groups`); A is their total size.
        base_filters: width of the first convolution.
        hidden: width of the feature layer.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, image_shape, groups, base_filters=16, hidden=128, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.groups = tuple(tuple(int(i) for i in group) for group in groups)
        self.base_filters = int(base_filters)
        self.hidden = int(hidden)
        self.attribute_dim = sum(len(group) for group in self.groups)
        self.trunk = classifier_trunk(self.image_shape, self.base_filters, self.hidden)
        self.head = keras.layers.Dense(self.attribute_dim, dtype="float32", name="logits")
        self.head.build((None, self.hidden))
        self.built = True

    def call(self, images, training=False):
        return self.head(self.trunk(tf.cast(images, tf.float32), training=training))

    def predict_attributes(self, images, batch_size=256):
        """0/1 predictions [N, A] for images [N, H, W, C] in [0, 1]."""
        logits = [self(tf.convert_to_tensor(images[start:start + batch_size])).numpy()
                  for start in range(0, len(images), batch_size)]
        return predict_attributes(np.concatenate(logits), self.groups)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "image_shape": list(self.image_shape),
                "groups": [list(group) for group in self.groups],
                "base_filters": self.base_filters, "hidden": self.hidden}


def attribute_match(classifier, images, attributes, batch_size=256):
    """How well images show attributes, by the classifier's reading.

    Args:
        classifier: an `AttributeClassifier`.
        images: [N, H, W, C] in [0, 1].
        attributes: [N, A] 0/1, the attributes the images should show.
        batch_size: images classified at once.

    Returns:
        dict: `per_attribute_accuracy` (list of A floats), `mean_accuracy`
        (their mean) and `exact_match` (share of images whose every
        attribute matches).
    """
    attributes = np.asarray(attributes) > 0.5
    images = np.asarray(images, np.float32)
    if len(images) != len(attributes):
        raise ValueError(f"Got {len(images)} images and {len(attributes)} attribute rows.")
    if len(images) == 0:
        raise ValueError("attribute_match needs at least one image.")
    correct = classifier.predict_attributes(images, batch_size) > 0.5
    agree = correct == attributes
    per_attribute = agree.mean(axis=0)
    return {"per_attribute_accuracy": [float(v) for v in per_attribute],
            "mean_accuracy": float(per_attribute.mean()),
            "exact_match": float(agree.all(axis=1).mean())}


def chance_match(classifier, images, attributes, seed=0, batch_size=256):
    """`attribute_match` with the attributes shuffled across the images.

    The score a generator would get whose images look real but ignore the
    requested attributes (requests drawn from the same attribute
    distribution).
    """
    order = np.random.default_rng(seed).permutation(len(attributes))
    return attribute_match(classifier, images, np.asarray(attributes)[order], batch_size)


def train_classifier(images, attributes, groups=None, epochs=5, batch_size=64,
                     learning_rate=2e-3, base_filters=16, hidden=128, seed=0,
                     verbose=0):
    """An `AttributeClassifier` trained on real images and their attributes.

    Args:
        images: [N, H, W, C] float in [0, 1].
        attributes: [N, A] 0/1.
        groups: attribute groups; None infers them (`one_hot_groups`).
        epochs: passes over the data.
        batch_size: examples per step.
        learning_rate: Adam's step size.
        base_filters, hidden: the classifier's size.
        seed: seed of initialisation and shuffling.
        verbose: passed to `fit`.

    Returns:
        The trained classifier.
    """
    images = np.asarray(images, np.float32)
    attributes = np.asarray(attributes, np.float32)
    if groups is None:
        groups = one_hot_groups(attributes)
    keras.utils.set_random_seed(seed)
    classifier = AttributeClassifier(images.shape[1:], groups, base_filters=base_filters,
                                     hidden=hidden)
    classifier.compile(optimizer=keras.optimizers.Adam(learning_rate),
                       loss=GroupedAttributeLoss(classifier.groups))
    classifier.fit(images, attributes, batch_size=batch_size, epochs=epochs, shuffle=True,
                   verbose=verbose)
    return classifier


def load_or_train_classifier(path, images, attributes, **kwargs):
    """The classifier saved at `path` if it fits the data, else a new one saved there.

    Args:
        path: a `.keras` file (None: do not cache).
        images, attributes: the real training data (as `train_classifier`).
        **kwargs: passed to `train_classifier`.
    """
    images = np.asarray(images, np.float32)
    attributes = np.asarray(attributes, np.float32)
    if path and os.path.exists(path):
        classifier = keras.models.load_model(path, compile=False)
        if (tuple(classifier.image_shape) == images.shape[1:]
                and classifier.attribute_dim == attributes.shape[1]):
            return classifier
    classifier = train_classifier(images, attributes, **kwargs)
    if path:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        classifier.save(path)
    return classifier


def in_batches(function, *arrays, batch_size=256):
    """`function` applied to consecutive slices of `arrays`, the outputs concatenated.

    `function` returns an array, or a dict of arrays (concatenated per key).
    """
    outputs = [function(*(a[start:start + batch_size] for a in arrays))
               for start in range(0, len(arrays[0]), batch_size)]
    if isinstance(outputs[0], dict):
        return {key: np.concatenate([np.asarray(out[key]) for out in outputs])
                for key in outputs[0]}
    return np.concatenate([np.asarray(out) for out in outputs])


def _names(model):
    return list(model.attribute_names or map(str, range(model.attribute_dim)))


def generation_scores(model, classifier, attributes, judged_images, seed=0):
    """Attribute accuracy of generated images, of chance and of real images (the ceiling).

    Example i is generated from attributes[i] with z ~ p(z) (seed `seed + i`
    per batch); chance shuffles the attributes across the real images.

    Args:
        model: a conditional model with `generate(attributes, seed=)` and
            `attribute_names` / `attribute_dim` (a `zoo.CVAE`).
        classifier: an `AttributeClassifier` of the model's attributes.
        attributes: [N, A] held-out attribute vectors.
        judged_images: the N real images they belong to, in the encoding the
            classifier was trained on (pixel / 255).
        seed: seed of the prior draws and of the shuffle for chance.

    Returns:
        dict: `attribute_accuracy` (exact match), `attribute_mean_accuracy`,
        `attribute_accuracy_per_attribute` {name: accuracy}, the same three for
        `attribute_chance`, `classifier_accuracy_on_real`,
        `classifier_mean_accuracy_on_real`, `attribute_examples` and
        `attribute_groups` (the classifier's groups, by name).
    """
    judged_images = np.asarray(judged_images, np.float32)
    expected = (len(attributes), *model.image_shape)
    if judged_images.shape != expected:
        raise ValueError(f"judged_images must have shape {expected}, one real image per "
                         f"attribute row; got {judged_images.shape}.")
    names = _names(model)
    generated = in_batches(
        lambda y, i: model.generate(y, seed=seed + int(i[0])), attributes,
        np.arange(len(attributes)))
    scores = attribute_match(classifier, generated, attributes)
    chance = chance_match(classifier, judged_images, attributes, seed=seed)
    ceiling = attribute_match(classifier, judged_images, attributes)
    return {
        "attribute_accuracy": scores["exact_match"],
        "attribute_mean_accuracy": scores["mean_accuracy"],
        "attribute_accuracy_per_attribute": dict(zip(names, scores["per_attribute_accuracy"])),
        "attribute_chance": chance["exact_match"],
        "attribute_chance_mean_accuracy": chance["mean_accuracy"],
        "attribute_chance_per_attribute": dict(zip(names, chance["per_attribute_accuracy"])),
        "classifier_accuracy_on_real": ceiling["exact_match"],
        "classifier_mean_accuracy_on_real": ceiling["mean_accuracy"],
        "attribute_examples": int(len(attributes)),
        "attribute_groups": [[names[i] for i in group] for group in classifier.groups],
    }


def manipulation_targets(attributes, groups):
    """Attributes with one group changed per example: example i changes group i mod G.

    A one-hot group moves its 1 to the group's next member (cyclically); a
    binary attribute flips.

    Returns:
        (targets [N, A], changed group index per example [N]).
    """
    targets = np.array(attributes, np.float32, copy=True)
    changed = np.arange(len(targets)) % len(groups)
    for row, group_index in enumerate(changed):
        group = list(groups[group_index])
        if len(group) == 1:
            targets[row, group[0]] = 1.0 - float(targets[row, group[0]] > 0.5)
        else:
            current = int(np.argmax(targets[row, group]))
            targets[row, group] = 0.0
            targets[row, group[(current + 1) % len(group)]] = 1.0
    return targets, changed


def manipulation_scores(model, classifier, images, attributes):
    """The share of manipulated images the classifier reads as their new attributes.

    Each image is encoded with its own attributes (the posterior mean) and
    decoded with one group changed (`manipulation_targets`).

    Args:
        model: a conditional model with `encode(x, y)` and `decode(z, y)` (a `zoo.CVAE`).
        classifier: an `AttributeClassifier` of the model's attributes.
        images: [N, H, W, C] held-out images in the model's encoding.
        attributes: [N, A] their attributes.

    Returns:
        dict: `manipulation_accuracy` (exact match of the new attributes).
    """
    targets, _ = manipulation_targets(attributes, classifier.groups)
    manipulated = in_batches(
        lambda x, y, t: model.decode(model.encode(x, y)[0], t), images, attributes, targets)
    return {"manipulation_accuracy":
            attribute_match(classifier, manipulated, targets)["exact_match"]}
