"""A zoo of deep generative models on TensorFlow 2, Keras 3 and TensorFlow Probability."""

from zoo.distributions import (Bernoulli, ContinuousBernoulli, DiscretizedLogistic,
                               FixedVarianceGaussian, Gaussian, LearnedGaussianPrior,
                               StandardNormalPrior)
from zoo.cvae import CVAE
from zoo.dcgan import DCGAN
from zoo.dcign import DCIGN
from zoo.discvae import DisCVAE
from zoo.export import export_saved_model
from zoo.vae import VAE

__all__ = ["VAE", "CVAE", "DisCVAE", "DCIGN", "DCGAN", "export_saved_model", "Bernoulli", "Gaussian", "FixedVarianceGaussian",
           "DiscretizedLogistic", "ContinuousBernoulli", "StandardNormalPrior",
           "LearnedGaussianPrior"]
