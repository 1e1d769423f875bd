"""Test helpers: tiny offline pipelines of the real architectures and full-size meta-device structures."""
