"""The attribute classifier that judges generated images: groups, loss, scores, learning."""

import keras
import numpy as np
import pytest

from zoo.data import digits
from zoo.data import pipeline
from zoo.data import shapes
from zoo.metrics import attributes as attribute_metrics
from zoo.tasks import cvae as cvae_task
from zoo.train import task

RNG = np.random.default_rng(4)


def test_one_hot_groups_are_found_in_the_labels():
    rendered = next(iter(shapes.load("train", num_examples=500).dataset.batch(500)))
    assert attribute_metrics.one_hot_groups(rendered["attributes"].numpy()) == (
        (0, 1, 2), (3, 4, 5), (6,))
    classes = np.eye(10)[RNG.integers(0, 10, 300)]
    assert attribute_metrics.one_hot_groups(classes) == (tuple(range(10)),)
    binary = (RNG.uniform(size=(300, 4)) > 0.5).astype(np.float32)
    assert attribute_metrics.one_hot_groups(binary) == ((0,), (1,), (2,), (3,))
    # Exclusive but sometimes all off: binary attributes, not a group.
    sometimes = np.eye(3)[RNG.integers(0, 3, 50)]
    sometimes[:5] = 0
    assert attribute_metrics.one_hot_groups(sometimes) == ((0,), (1,), (2,))


def test_loss_is_the_groups_softmax_plus_the_binary_sigmoid_cross_entropies():
    groups = ((0, 1, 2), (3,))
    logits = RNG.normal(size=(5, 4)).astype(np.float32)
    labels = np.concatenate([np.eye(3)[RNG.integers(0, 3, 5)],
                             RNG.integers(0, 2, (5, 1))], axis=1).astype(np.float32)
    softmax = np.exp(logits[:, :3]) / np.exp(logits[:, :3]).sum(1, keepdims=True)
    sigmoid = 1 / (1 + np.exp(-logits[:, 3]))
    hand = (-np.sum(labels[:, :3] * np.log(softmax), 1)
            - labels[:, 3] * np.log(sigmoid) - (1 - labels[:, 3]) * np.log(1 - sigmoid))
    np.testing.assert_allclose(attribute_metrics.attribute_loss(logits, labels, groups), hand,
                               rtol=1e-5)
    predicted = attribute_metrics.predict_attributes(
        np.array([[0.1, 2.0, -1.0, 0.3], [5.0, 1.0, 0.0, -0.2]]), groups)
    np.testing.assert_array_equal(predicted, [[0, 1, 0, 1], [1, 0, 0, 0]])


class _Oracle:
    """A stand-in classifier that reads the attributes from the image's first pixels."""
    groups = ((0, 1), (2,))

    def predict_attributes(self, images, batch_size=256):
        del batch_size
        return np.asarray(images)[:, 0, :3, 0]


def test_match_scores_are_per_attribute_and_exact_match_shares():
    shown = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 1]], np.float32)
    images = np.zeros((4, 2, 3, 1), np.float32)
    images[:, 0, :, 0] = shown
    requested = shown.copy()
    requested[1] = [1, 0, 0]  # two attributes wrong
    requested[3, 2] = 0       # one attribute wrong
    scores = attribute_metrics.attribute_match(_Oracle(), images, requested)
    assert scores["per_attribute_accuracy"] == [0.75, 0.75, 0.75]
    assert scores["exact_match"] == 0.5 and scores["mean_accuracy"] == 0.75
    with pytest.raises(ValueError, match="3 images and 4 attribute rows"):
        attribute_metrics.attribute_match(_Oracle(), images[:3], requested)


def test_manipulation_targets_change_one_group_per_example():
    attributes = np.array([[1, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 1]], np.float32)
    targets, changed = attribute_metrics.manipulation_targets(attributes, ((0, 1, 2), (3,)))
    np.testing.assert_array_equal(changed, [0, 1, 0])
    np.testing.assert_array_equal(targets, [[0, 1, 0, 1], [0, 0, 1, 1], [0, 0, 1, 1]])


class _DrawsAttributes:
    """A stand-in conditional model: z is y, and the image shows the attributes it is given.

    With `ignore_request`, decoding draws the encoded attributes, not the requested ones.
    """
    attribute_names, attribute_dim, image_shape = ("a", "b", "c"), 3, (2, 3, 1)

    def __init__(self, ignore_request=False):
        self.ignore_request = ignore_request

    def encode(self, images, attributes):
        return np.asarray(attributes), None

    def decode(self, latents, attributes):
        return self.draw(latents if self.ignore_request else attributes)

    def generate(self, attributes, seed=0):
        del seed
        return self.draw(attributes)

    def draw(self, attributes):
        images = np.zeros((len(attributes), *self.image_shape), np.float32)
        images[:, 0, :, 0] = attributes
        return images


def test_manipulated_and_generated_images_are_scored_on_the_attributes_asked_for():
    attributes = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 1], [1, 0, 1]],
                          np.float32)
    images = _DrawsAttributes().draw(attributes)
    obeys = attribute_metrics.manipulation_scores(_DrawsAttributes(), _Oracle(), images,
                                                  attributes)
    assert obeys == {"manipulation_accuracy": 1.0}
    ignores = attribute_metrics.manipulation_scores(_DrawsAttributes(ignore_request=True),
                                                    _Oracle(), images, attributes)
    assert ignores == {"manipulation_accuracy": 0.0}
    scores = attribute_metrics.generation_scores(_DrawsAttributes(), _Oracle(), attributes,
                                                 images, seed=1)
    assert scores["attribute_accuracy"] == 1.0 and scores["classifier_accuracy_on_real"] == 1.0
    assert scores["attribute_accuracy_per_attribute"] == {"a": 1.0, "b": 1.0, "c": 1.0}
    shuffled = attributes[np.random.default_rng(1).permutation(5)]
    assert scores["attribute_chance"] == np.mean(np.all(shuffled == attributes, axis=1))
    assert scores["attribute_groups"] == [["a", "b"], ["c"]]
    assert scores["attribute_examples"] == 5


def test_in_batches_concatenates_arrays_and_dicts_of_arrays():
    values = np.arange(7)
    np.testing.assert_array_equal(
        attribute_metrics.in_batches(lambda a, b: a * b, values, values + 1, batch_size=3),
        values * (values + 1))
    halves = attribute_metrics.in_batches(lambda a: {"x": a, "y": -a}, values, batch_size=2)
    np.testing.assert_array_equal(halves["x"], values)
    np.testing.assert_array_equal(halves["y"], -values)


def _digits(split):
    data = pipeline.make_dataset(digits.load(split), 256, "discrete", training=False,
                                 keys=("image", "attributes"))
    batches = list(data)
    return (np.concatenate([b["image"].numpy() for b in batches]),
            np.concatenate([b["attributes"].numpy() for b in batches]))


def test_classifier_learns_real_attributes_far_above_chance_on_held_out_images(tmp_path):
    train_images, train_attributes = _digits("train")
    test_images, test_attributes = _digits("test")
    path = str(tmp_path / "classifier.keras")
    classifier = attribute_metrics.load_or_train_classifier(
        path, train_images, train_attributes, epochs=3)
    assert classifier.groups == (tuple(range(10)),)
    scores = attribute_metrics.attribute_match(classifier, test_images, test_attributes)
    chance = attribute_metrics.chance_match(classifier, test_images, test_attributes)
    assert scores["exact_match"] > 0.85 and chance["exact_match"] < 0.2, (scores, chance)
    assert scores["mean_accuracy"] > 0.97
    # The cache is reused when it fits the data, and replaced when it does not.
    cached = attribute_metrics.load_or_train_classifier(path, train_images, train_attributes)
    np.testing.assert_array_equal(cached.predict_attributes(test_images),
                                  classifier.predict_attributes(test_images))
    other = attribute_metrics.load_or_train_classifier(
        path, train_images[:64], train_attributes[:64, :4], epochs=1)
    assert other.attribute_dim == 4
    assert keras.models.load_model(path, compile=False).attribute_dim == 4


class _RecordingJudge:
    """A stand-in classifier of the 10 digit classes that records the images it reads.

    It always answers class 0, so its exact match is the share of zeros requested.
    """
    groups = (tuple(range(10)),)

    def __init__(self):
        self.trained_on, self.read = None, []

    def predict_attributes(self, images, batch_size=256):
        del batch_size
        self.read.append(np.array(images))
        return np.eye(10, dtype=np.float32)[np.zeros(len(images), np.int64)]


def test_under_bernoulli_the_judge_reads_real_images_as_pixels_over_255(monkeypatch):
    judge = _RecordingJudge()

    def train(path, images, attributes, **kwargs):
        del path, attributes, kwargs
        judge.trained_on = np.array(images)
        return judge

    monkeypatch.setattr(attribute_metrics, "load_or_train_classifier", train)
    config = cvae_task.CVAEConfig(
        dataset="digits", model_dir="", global_batch_size=32, likelihood="bernoulli",
        latent_dim=2, base_filters=4, encoder_hidden=8, importance_samples=0,
        attribute_examples=40, classifier_examples=100, completion_steps=1)
    cvae = cvae_task.CVAETask(config)
    train, test = digits.load("train"), digits.load("test")
    model = cvae.build_model(train)
    assert model.likelihood.data_encoding == "binary"
    binarized = cvae.batches(model, test, training=False)
    results = cvae.evaluate(model, task.Data(train=train, test=test, test_batches=binarized))

    train_pixels = _digits("train")[0][:100]
    test_pixels, test_attributes = (array[:40] for array in _digits("test"))
    test_binary = np.concatenate([b["image"].numpy() for b in binarized])[:40]
    assert not np.array_equal(test_pixels, test_binary)
    np.testing.assert_array_equal(judge.trained_on, train_pixels)
    # Chance and the ceiling read the real test images, as pixel / 255; the other two
    # reads (generated, manipulated) are the model's mean images, never the binarized data.
    real_reads = [images for images in judge.read if np.array_equal(images, test_pixels)]
    assert len(judge.read) == 4 and len(real_reads) == 2
    assert not any(np.array_equal(images, test_binary) for images in judge.read)
    assert results["classifier_accuracy_on_real"] == pytest.approx(
        np.mean(test_attributes[:, 0]))
    with pytest.raises(ValueError, match=r"judged_images must have shape \(40, 28, 28, 1\), "
                                         r"one real image per attribute row; got "
                                         r"\(39, 28, 28, 1\)"):
        attribute_metrics.generation_scores(model, judge, test_attributes, test_pixels[:39])
