"""The HTTP API (FastAPI): ``app.create_app(workspace)``; see ``app.py``."""
