"""A zoo of deep generative models on TensorFlow 2, Keras 3 and TensorFlow Probability."""

from zoo.distributions import (Bernoulli, ContinuousBernoulli, DiscretizedLogistic,
                               FixedVarianceGaussian, Gaussian, LearnedGaussianPrior,
                               StandardNormalPrior)
from zoo.models.cvae import CVAE
from zoo.models.gan import DCGAN
from zoo.models.dcign import DCIGN
from zoo.models.discvae import DisCVAE
from zoo.export import export_saved_model
from zoo.models.pixelcnn import PixelCNNPrior
from zoo.models.vae import VAE
from zoo.models.vqvae import VQVAE
from zoo.models.vqvae_prior import VQVAEWithPrior
from zoo.train.load import load_run

__all__ = ["VAE", "CVAE", "DisCVAE", "DCIGN", "DCGAN", "VQVAE", "PixelCNNPrior", "VQVAEWithPrior",
           "export_saved_model", "load_run",
           "Bernoulli", "Gaussian", "FixedVarianceGaussian", "DiscretizedLogistic",
           "ContinuousBernoulli", "StandardNormalPrior", "LearnedGaussianPrior"]
