"""The `tls12` command line."""
