"""The one thing pyproject.toml cannot say yet: the pcap reader's optional C extension.

``optional=True``: without a C compiler the build goes on without it, and the package uses the
equivalent numpy/Python code (tcptrace_viz/pcap/walk.py, gather.py, texts.py).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tcptrace_viz.pcap._speedups",
                             sources=["tcptrace_viz/pcap/_speedups.c"], optional=True)])
