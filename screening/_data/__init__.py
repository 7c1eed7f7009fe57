"""Package data: the phase table derived from Materials Project data (CC BY 4.0) by
``screening data build``, and the tables authored in the repository's ``data/`` folder."""
