"""The command groups of the ``drain`` CLI; each module has ``register(app)``."""
