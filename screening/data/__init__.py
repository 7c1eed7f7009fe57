"""Data layer: reads and holds data, computes no thermodynamics and imports nothing above it.

``files`` names every data file once; ``sources`` reads the raw MP files; ``table`` is the phase
table's schema; ``cache`` writes and reads tables (checksummed, lazily); ``formula`` parses user
text; ``corrections``, ``legacy``, ``gaps``, ``volumes`` and ``structures`` derive energies, band
gaps and volumes for the build; ``user`` and ``mp_api`` bring in user phases and MP API systems.
"""
