r"""Trains a DCGAN: `python -m recipes.dcgan` (built-in digits, a few minutes on a CPU).

    python -m recipes.dcgan --dataset=celeb_a --batch_size=128 --epochs=20 \
        --strategy=mirrored --model_dir=runs/dcgan_celeba
    python -m recipes.dcgan --loss=weighted_jensen_shannon --pi=0.3
    python -m recipes.dcgan --dataset=cifar10 --inception_weights=PATH/inception_v3_notop.h5

Flags: `zoo.tasks.dcgan.DCGANConfig`; the model, its evaluation and measured results:
docs/dcgan.md.
"""

from absl import app

from recipes import flags
from zoo.tasks import dcgan

flags.define_flags(dcgan.DCGANConfig)

if __name__ == "__main__":
    app.run(lambda argv: flags.main(dcgan.DCGANTask))
