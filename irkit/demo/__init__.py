"""The web demo and REST API over every irkit model (``tools/demo.py``, ``irkit-demo``; docs/demo.md).

Needs the optional extra ``pip install -e '.[demo]'`` (FastAPI, uvicorn, python-multipart);
``import irkit.demo`` itself imports nothing from it.
"""
from irkit.demo.models import DemoModel, load_models  # noqa: F401
