"""What travels: signed credential formats, presentations, QR text, status lists.

Pure functions with no I/O; time and randomness come in as arguments.
"""
