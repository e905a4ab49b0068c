r"""Trains a VAE: `python -m recipes.vae` (built-in digits, a few minutes on a CPU).

    python -m recipes.vae --dataset=celeb_a --likelihood=gaussian --latent_dim=128 \
        --batch_size=256 --strategy=mirrored --model_dir=runs/vae_celeba

Flags: `zoo.tasks.vae.VAEConfig`; the model, the math and measured results:
docs/vae.md.
"""

from absl import app

from recipes import flags
from zoo.tasks import vae

flags.define_flags(vae.VAEConfig)

if __name__ == "__main__":
    app.run(lambda argv: flags.main(vae.VAETask))
