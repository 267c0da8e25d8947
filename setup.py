"""irkit: image restoration and inpainting toolkit (MMagic/BasicSR style, on mmengine)."""
import os
import os.path as osp

from setuptools import find_packages, setup


def version() -> str:
    ns = {}
    with open(osp.join(osp.dirname(osp.abspath(__file__)), 'irkit', '__init__.py')) as f:
        exec(f.read(), ns)  # only defines __version__
    return ns['__version__']


# irkit needs mmcv's pure-Python parts only (mmcv-lite). Users who built full mmcv keep it:
# install with IRKIT_NO_MMCV_LITE=1 so pip does not add a second `mmcv` package beside it.
MMCV = [] if os.environ.get('IRKIT_NO_MMCV_LITE') else ['mmcv-lite>=2.0']

setup(
    name='irkit',
    version=version(),
    description='Image restoration and inpainting toolkit: MPRNet, Restormer, PromptIR, MAT, DA-CLIP, TDR',
    long_description=open('README.md', encoding='utf-8').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['irkit', 'irkit.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.1',
        'mmengine>=0.10,<0.11',
        'opencv-python>=4.5',
        'lmdb>=1.0',
        'addict',
        'yapf',
        'numpy',
        'scipy',
        'tqdm',
        'safetensors',
        'tensorboard',
    ] + MMCV,
    extras_require={
        'dev': ['pytest', 'scikit-image', 'matplotlib', 'scikit-learn', 'selenium'],
        # P-IDS / U-IDS: scikit-learn's LinearSVC, as MAT's evaluation script
        'metrics': ['scikit-learn'],
        'leaderboard': ['matplotlib', 'pyyaml'],
        'diffusion': ['diffusers', 'transformers'],
        'demo': ['fastapi', 'uvicorn', 'python-multipart'],
    },
    package_data={'irkit.demo': ['static/*']},
    entry_points={'console_scripts': ['irkit-demo = irkit.demo.cli:run']},
    include_package_data=True,
    zip_safe=False,
)
