"""``python -m tcptrace_viz``: the same as the ``tcptrace-viz`` command."""

from tcptrace_viz.entry import main

if __name__ == "__main__":
    main()
