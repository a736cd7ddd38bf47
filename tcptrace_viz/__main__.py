"""``python -m tcptrace_viz``: the same as the ``tcptrace-viz`` command."""

import sys

try:  # a signal before entry.py has taken SIGINT over: nothing has started yet
    from tcptrace_viz.entry import main
except KeyboardInterrupt:
    sys.stderr.write("tcptrace-viz: interrupted\n")
    raise SystemExit(130) from None

if __name__ == "__main__":
    main()
