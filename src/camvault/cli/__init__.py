"""The ``camvault`` command: argument parsing in ``main``, one module per group of verbs."""
