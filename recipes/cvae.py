r"""Trains a CVAE (Attribute2Image): `python -m recipes.cvae` (built-in digits, minutes on a CPU).

Images are generated from attributes; the run reports the test ELBO and how
often an attribute classifier trained on real images reads the requested
attributes in generated ones, against chance and against real images. The
default is the classic class-conditional demonstration on the built-in
digits: y = the one-hot class, Bernoulli likelihood, 50 epochs (Kingma,
Rezende, Mohamed & Welling 2014, "Semi-supervised learning with deep
generative models", NeurIPS: model M2 with every label observed). The
built-in shapes (whose shapes the CVAE does not draw yet; see the README)
and other data:

    python -m recipes.cvae --dataset=shapes --likelihood=discretized_logistic --epochs=5
    python -m recipes.cvae --dataset=celeb_a --attributes=Male,Smiling,Eyeglasses \
        --latent_dim=64 --batch_size=128 --strategy=mirrored --model_dir=runs/cvae_celeba

Flags: `zoo.tasks.cvae.CVAEConfig`; the model, its evaluation and measured results:
docs/cvae.md.
"""

from absl import app

from recipes import flags
from zoo.tasks import cvae

flags.define_flags(cvae.CVAEConfig)

if __name__ == "__main__":
    app.run(lambda argv: flags.main(cvae.CVAETask))
