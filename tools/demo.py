"""Web demo + REST API: ``python tools/demo.py CONFIG [CHECKPOINT] [--config CONFIG [CHECKPOINT]] ... [--port 7860]``.

Needs ``pip install -e '.[demo]'``; see docs/demo.md.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from irkit.demo.cli import run  # noqa: E402

if __name__ == '__main__':
    run()
