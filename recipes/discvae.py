r"""Trains a disCVAE (Attribute2Image): `python -m recipes.discvae` (built-in shapes).

A gated foreground layer x_F(y, z_F) over a background layer x_B(z_B). On
`shapes` the gate is supervised with the true foreground masks (weight
`--gate_supervision_weight`, default 10); the run reports the test ELBO, the attribute
accuracy of generated images against chance, the gate's IoU with the true
masks and how little the background changes when only z_F does:

    python -m recipes.discvae --gate_supervision_weight=0      # an unsupervised gate
    python -m recipes.discvae --dataset=celeb_a --attributes=Male,Smiling,Eyeglasses \
        --foreground_dim=64 --background_dim=32 --model_dir=runs/discvae_celeba

Flags: `zoo.tasks.discvae.DisCVAEConfig`; the model, its evaluation and measured results:
docs/discvae.md.
"""

from absl import app

from recipes import flags
from zoo.tasks import discvae

flags.define_flags(discvae.DisCVAEConfig)

if __name__ == "__main__":
    app.run(lambda argv: flags.main(discvae.DisCVAETask))
