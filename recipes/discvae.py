r"""Trains a disCVAE (Attribute2Image): `python -m recipes.discvae` (built-in shapes).

A gated foreground layer x_F(y, z_F) over a background layer x_B(z_B). On
`shapes` the gate is supervised with the true foreground masks (weight
`--gate_supervision_weight`, default 10); the run reports the test ELBO, the attribute
accuracy of generated images against chance, the gate's IoU with the true
masks and how little the background changes when only z_F does:

    python -m recipes.discvae --gate_supervision_weight=0      # an unsupervised gate
    python -m recipes.discvae --dataset=celeb_a --attributes=Male,Smiling,Eyeglasses \
        --foreground_dim=64 --background_dim=32 --model_dir=runs/discvae_celeba
"""

from absl import app
from absl import flags

from recipes import cvae as cvae_recipe
from recipes import flags as recipe_flags
from zoo.tasks import discvae as discvae_task

FLAGS = flags.FLAGS


def define_flags():
    cvae_recipe.define_model_flags(model_dir="runs/discvae", epochs=5, dataset="shapes",
                                   likelihood="discretized_logistic", latent_dim=False)
    flags.DEFINE_integer("foreground_dim", 12, "Size of z_F (the foreground's latents).")
    flags.DEFINE_integer("background_dim", 4, "Size of z_B (the background's latents).")
    flags.DEFINE_float("gate_supervision_weight", 10.0,
                       "Weight of the gate's per-example cross-entropy (summed over pixels, "
                       "nats) against the true foreground mask, where the dataset has masks "
                       "(shapes); 0: unsupervised. At 1 the likelihood's pull on the gate "
                       "wins and the gate stays near a constant on shapes; 10 learns the masks.")
    for name in ("foreground_dim", "background_dim"):
        flags.register_validator(name, lambda value: value > 0,
                                 message=f"--{name} must be positive.")
    flags.register_validator("gate_supervision_weight", lambda value: value >= 0,
                             message="--gate_supervision_weight must be >= 0.")


def main(argv):
    del argv  # Unused.
    config = recipe_flags.run_config(
        model_kwargs=dict(foreground_dim=FLAGS.foreground_dim,
                          background_dim=FLAGS.background_dim,
                          gate_supervision_weight=FLAGS.gate_supervision_weight,
                          **cvae_recipe.model_kwargs()),
        eval_kwargs=cvae_recipe.eval_kwargs())
    results = recipe_flags.run_or_exit(discvae_task.TASK, config)
    cvae_recipe.print_results(results)
    if "gate_iou" in results:
        print(f"gate IoU with the true foreground masks: {results['gate_iou']:.3f} (a gate "
              f"that calls everything foreground: {results['gate_iou_all_foreground']:.3f}), "
              f"{results['gate_examples']} images")
    print(f"mean |pixel change| when only z_F is redrawn: background "
          f"{results['background_change_when_zF_changes']:.4f}, foreground "
          f"{results['foreground_change_when_zF_changes']:.4f} (background when only z_B is "
          f"redrawn: {results['background_change_when_zB_changes']:.4f})")
    print(recipe_flags.outputs_line(results))


if __name__ == "__main__":
    define_flags()
    app.run(main)
