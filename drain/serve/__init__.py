"""DRAIN over HTTP: a FastAPI app with the ``/v1`` API and a phone-first page (``drain serve``).

Needs the ``serve`` extra (FastAPI and uvicorn)::

    from drain.backends.fake import FakeBackend
    from drain.serve import create_app
    app = create_app(lambda: FakeBackend())
"""

from drain.serve.app import create_app

__all__ = ["create_app"]
