"""Data layer: the phase store (MP snapshot, MP API, user phases) and its cache. The only I/O."""
