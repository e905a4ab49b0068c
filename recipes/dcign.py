r"""Trains a DC-IGN: `python -m recipes.dcign` (built-in shapes, a few minutes on a CPU).

Named latents learn named factors from clamped one-factor batches, and a
plain VAE of the same size and budget is trained for comparison:

    python -m recipes.dcign --factors=scale,position_x,position_y --intrinsic_dim=6
    python -m recipes.dcign --dataset=smallnorb --factors=elevation,azimuth,lighting \
        --intrinsic_dim=16 --image_size=64 --likelihood=bernoulli --strategy=mirrored

Flags: `zoo.tasks.dcign.DCIGNConfig`; the model, its evaluation and measured results:
docs/dcign.md.
"""

from absl import app

from recipes import flags
from zoo.tasks import dcign

flags.define_flags(dcign.DCIGNConfig)

if __name__ == "__main__":
    app.run(lambda argv: flags.main(dcign.DCIGNTask))
