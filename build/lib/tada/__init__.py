"""tada: find where musical concepts live inside text-to-music diffusion models, and steer them."""

__version__ = "0.1.0"
