"""DRAIN on the phone itself: what the web app needs to solve offline, exported from the Python data.

:mod:`drain.device.export` writes the TRIZ core, the house library, its vectors and the tuned numbers as
versioned files the page loads (``drain device export``); :mod:`drain.device.bundle` finds them and the two
GGUF models the page runs in WebAssembly (the DRAIN phone model and the sentence-embedding model) for
``drain serve`` to hand out under ``/device/``.
"""
