"""The keras.Model classes of the zoo: VAE and its variants, and the GANs."""
