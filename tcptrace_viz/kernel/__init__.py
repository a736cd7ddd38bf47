"""What scenarios and captures ask of the kernel: namespaces, the socket table, the syscall log.

This layer sits below :mod:`tcptrace_viz.scenarios` and :mod:`tcptrace_viz.capture` and imports
neither.
"""
