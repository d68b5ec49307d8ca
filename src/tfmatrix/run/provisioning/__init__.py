"""Provisioning: the venv of each combination, installed (or installed ahead), its exports, the cache and the locks that share them."""
