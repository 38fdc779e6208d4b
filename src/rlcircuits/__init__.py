"""rlcircuits: reproduce arXiv 2509.21044's circuit analysis of SFT vs RL-tuned LLMs."""

__version__ = "0.1.0"
