"""Load drivers and benchmark scenarios for mixd (see bench/README.md)."""
