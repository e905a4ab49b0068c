r"""Trains a VQ-VAE and a gated PixelCNN prior on its codes: `python -m recipes.vqvae`.

Built-in digits by default, offline; stage 1 (the autoencoder) then stage 2
(the prior), each resumable, then the VAE and DCGAN baselines:

    python -m recipes.vqvae --dataset=celeb_a --likelihood=discretized_logistic \
        --num_codes=512 --embedding_dim=64 --filters=128 --image_size=64 \
        --batch_size=128 --strategy=mirrored --model_dir=runs/vqvae_celeba
    python -m recipes.vqvae --stage=prior --autoencoder_dir=runs/vqvae/autoencoder \
        --prior_layers=12 --model_dir=runs/vqvae_deeper_prior

Flags: `zoo.tasks.vqvae.VQVAEConfig`; the model, the math and measured
results: docs/vqvae.md.
"""

from absl import app

from recipes import flags
from zoo.tasks import vqvae

flags.define_flags(vqvae.VQVAEConfig)

if __name__ == "__main__":
    app.run(lambda argv: flags.main(vqvae.VQVAETask))
