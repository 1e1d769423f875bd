"""Training of the built-in mini model and its concept scorer."""
