"""Thin I/O shells over the sans-I/O core. The core never imports these."""
