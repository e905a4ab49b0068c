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
"""

from absl import app
from absl import flags

from recipes import flags as recipe_flags
from zoo.metrics import likelihood
from zoo.tasks import cvae as cvae_task

FLAGS = flags.FLAGS


def define_model_flags(model_dir, epochs, dataset, likelihood, latent_dim=True):
    """The flags the CVAE and disCVAE recipes share, with this recipe's defaults.

    The CVAE defaults to digits under a Bernoulli likelihood, the disCVAE (whose
    gate needs the masks) to shapes under the discretized logistic.
    """
    recipe_flags.define_run_flags(model_dir=model_dir, dataset=dataset, epochs=epochs,
                                  batch_size=64, learning_rate=1e-3)
    if latent_dim:
        flags.DEFINE_integer("latent_dim", 16, "Size of z.")
    flags.DEFINE_list("attributes", ["all"],
                      "Attributes to condition on: 'all', or a comma-separated list of the "
                      "dataset's attribute names (shapes: circle,square,triangle,red,green,"
                      "blue,large; digits: 0..9; celeb_a: its 40, e.g. Male,Smiling).")
    recipe_flags.define_vae_flags(likelihood=likelihood)
    flags.DEFINE_integer("encoder_hidden", 256, "Width of the encoder's image features.")
    flags.DEFINE_integer("importance_samples", 100,
                         "K of the importance-weighted log-likelihood estimate (0: skip).")
    flags.DEFINE_integer("importance_examples", 256,
                         "Test images the importance-weighted estimate is computed on.")
    flags.DEFINE_integer("attribute_examples", 1000,
                         "Test attribute vectors to generate images from and judge.")
    flags.DEFINE_integer("classifier_examples", 10_000,
                         "Real training images the attribute classifier learns from.")
    flags.DEFINE_integer("classifier_epochs", 5, "Epochs of the attribute classifier.")
    flags.DEFINE_integer("completion_steps", 100, "Adam steps on z for image completion.")
    positive = ["encoder_hidden", "importance_examples",
                "attribute_examples", "classifier_examples", "classifier_epochs"]
    for name in positive + (["latent_dim"] if latent_dim else []):
        flags.register_validator(name, lambda value: value > 0,
                                 message=f"--{name} must be positive.")
    for name in ("importance_samples", "completion_steps"):
        flags.register_validator(name, lambda value: value >= 0,
                                 message=f"--{name} must be >= 0.")
    flags.register_validator(
        "attributes", lambda values: bool(values) and all(values) and (
            values == ["all"] or "all" not in values),
        message="--attributes must be 'all' or a comma-separated list of attribute names.")


def model_kwargs():
    """The model arguments the shared flags describe."""
    return dict(recipe_flags.vae_model_kwargs(), encoder_hidden=FLAGS.encoder_hidden,
                attribute_names=None if FLAGS.attributes == ["all"] else list(FLAGS.attributes))


def eval_kwargs():
    return dict(importance_samples=FLAGS.importance_samples,
                importance_examples=FLAGS.importance_examples,
                attribute_examples=FLAGS.attribute_examples,
                classifier_examples=FLAGS.classifier_examples,
                classifier_epochs=FLAGS.classifier_epochs,
                completion_steps=FLAGS.completion_steps)


def print_results(results):
    """The numbers every Attribute2Image run ends with."""
    print("\n".join(likelihood.report_lines(results, given="y")))
    print(f"attribute accuracy of generated images: {results['attribute_accuracy']:.3f} "
          f"(all attributes right; chance {results['attribute_chance']:.3f}, real test "
          f"images {results['classifier_accuracy_on_real']:.3f}); per attribute "
          f"{results['attribute_mean_accuracy']:.3f} (chance "
          f"{results['attribute_chance_mean_accuracy']:.3f}); "
          f"{results['attribute_examples']} images")
    print(f"attribute manipulation accuracy: {results['manipulation_accuracy']:.3f}")
    print(f"completion of an occluded centre: squared error {results['completion_mse']:.4f} "
          f"(plain reconstruction {results['completion_mse_reconstruction']:.4f})")


def main(argv):
    del argv  # Unused.
    config = recipe_flags.run_config(
        model_kwargs=dict(latent_dim=FLAGS.latent_dim, **model_kwargs()),
        eval_kwargs=eval_kwargs())
    results = recipe_flags.run_or_exit(cvae_task.TASK, config)
    print_results(results)
    print(recipe_flags.outputs_line(results))


if __name__ == "__main__":
    define_model_flags(model_dir="runs/cvae", epochs=50, dataset="digits",
                       likelihood="bernoulli")
    app.run(main)
