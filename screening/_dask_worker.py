"""Imported by the forkserver that forks the local Dask worker processes (see
``screening.distributed``): they ignore Ctrl-C, which the terminal sends to the whole process
group; the client catches it and shuts its cluster down, so a Ctrl-C prints one line, not a
traceback per worker.  The forkserver passes the signal disposition set here to every child."""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
