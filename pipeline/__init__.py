"""The Beam batch job (``python -m pipeline``): options, graph and ``run()``."""
