"""zoo.losses.objectives: every game by name, one interface, serializable."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.losses import adversarial
from zoo.losses import f_divergences
from zoo.losses import objectives

_REAL = tf.constant([[-3.0], [0.5], [4.0]])  # [B, 1], as a discriminator returns them.
_FAKE = tf.constant([[2.0], [-1.5], [-6.0]])


def test_names_are_the_classic_games_then_the_table():
    assert objectives.NAMES == ("minimax", "non_saturating", "total_variation", "kl",
                                "reverse_kl", "pearson", "neyman", "squared_hellinger",
                                "jeffrey", "jensen_shannon", "weighted_jensen_shannon", "gan")


@pytest.mark.parametrize("name", ["minimax", "non_saturating"])
def test_classic_games_are_the_adversarial_losses(name):
    objective = objectives.Objective(name)
    d_loss = objective.discriminator_loss(_REAL, _FAKE)
    assert d_loss.shape == [3]
    np.testing.assert_allclose(d_loss, adversarial.discriminator_loss(_REAL[:, 0], _FAKE[:, 0]))
    np.testing.assert_allclose(objective.generator_loss(_FAKE),
                               adversarial.get_generator_loss(name)(_FAKE[:, 0]))
    # D = sigmoid(v): 1 / (1 + e^3), 1 / (1 + e^-0.5), 1 / (1 + e^-4).
    np.testing.assert_allclose(objective.discriminator_output(_REAL),
                               [0.0474258732, 0.6224593312, 0.9820137900], rtol=1e-6)


def test_f_divergences_use_their_activation_and_conjugate():
    objective = objectives.Objective("weighted_jensen_shannon", pi=0.3,
                                     generator_update="alternative")
    divergence = f_divergences.get("weighted_jensen_shannon", pi=0.3,
                                   generator_update="alternative")
    assert objective.divergence == divergence
    np.testing.assert_allclose(objective.discriminator_loss(_REAL, _FAKE),
                               divergence.discriminator_loss(_REAL[:, 0], _FAKE[:, 0]))
    np.testing.assert_allclose(objective.generator_loss(_FAKE),
                               -divergence.activation(_FAKE[:, 0]))
    np.testing.assert_allclose(objective.discriminator_output(_REAL),
                               divergence.activation(_REAL[:, 0]))
    # The GAN divergence's saddle game is the minimax game (Nowozin et al. 2016).
    gan = objectives.Objective("gan")
    minimax = objectives.Objective("minimax")
    np.testing.assert_allclose(gan.discriminator_loss(_REAL, _FAKE),
                               minimax.discriminator_loss(_REAL, _FAKE), rtol=1e-6)
    np.testing.assert_allclose(gan.generator_loss(_FAKE), minimax.generator_loss(_FAKE),
                               rtol=1e-6)


def test_objectives_serialize_and_compare_by_configuration():
    objective = objectives.Objective("weighted_jensen_shannon", pi=0.3)
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(objective)))
    assert serialized["config"] == {"name": "weighted_jensen_shannon", "pi": 0.3,
                                    "generator_update": "saddle"}
    rebuilt = keras.saving.deserialize_keras_object(serialized)
    assert rebuilt.get_config() == objective.get_config()
    assert objectives.get(serialized).divergence.pi == 0.3
    assert objectives.get(objective) is objective
    assert objectives.get("kl", generator_update="alternative").divergence.generator_update == (
        "alternative")
    assert repr(objectives.Objective("minimax")) == "Objective(name='minimax')"


@pytest.mark.parametrize("name", objectives.NAMES)
def test_every_game_accepts_the_options_at_their_defaults(name):
    for options in ({"generator_update": "saddle", "pi": None},
                    {"generator_update": None, "pi": None}):
        objective = objectives.Objective(name, **options)
        assert objective.get_config() == objectives.Objective(name).get_config()
    if objective.divergence is not None:
        assert objective.divergence.generator_update == "saddle"


def test_options_reach_the_games_that_use_them():
    objective = objectives.Objective("kl", generator_update="alternative", pi=None)
    assert objective.get_config() == {"name": "kl", "generator_update": "alternative"}
    objective = objectives.Objective("weighted_jensen_shannon", generator_update="saddle", pi=0.2)
    assert objective.divergence.pi == 0.2


def test_an_option_a_game_does_not_use_is_refused_in_one_line():
    divergences = ", ".join(f_divergences.NAMES)
    for name in ("minimax", "non_saturating"):
        with pytest.raises(ValueError, match=(
                rf"^GAN loss '{name}' does not take generator_update='alternative'; "
                rf"generator_update is for {divergences}\.$")):
            objectives.Objective(name, generator_update="alternative", pi=None)
    for name in ("minimax", "kl", "jensen_shannon"):
        with pytest.raises(ValueError, match=(
                rf"^GAN loss '{name}' does not take pi=0.3; pi is for weighted_jensen_shannon\.$")):
            objectives.Objective(name, generator_update="saddle", pi=0.3)
    with pytest.raises(ValueError, match=r"Unknown GAN loss options \['beta'\]"):
        objectives.Objective("kl", beta=2.0)


def test_bad_names_and_arguments_fail_clearly():
    with pytest.raises(ValueError, match=r"Unknown GAN loss 'hinge'.*'minimax'.*'gan'"):
        objectives.Objective("hinge")
    with pytest.raises(ValueError, match=r"Unknown generator_update 'bogus'"):
        objectives.Objective("kl", generator_update="bogus")
    with pytest.raises(ValueError, match=r"pi of the weighted Jensen-Shannon"):
        objectives.Objective("weighted_jensen_shannon", pi=1.5)
    with pytest.raises(ValueError, match=r"given with a built objective"):
        objectives.get(objectives.Objective("kl"), pi=0.2)
