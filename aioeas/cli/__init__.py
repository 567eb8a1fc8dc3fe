"""The ``aioeas`` command line: ``demo``, ``codecs``, ``predict``, ``queue``, ``emulator``.

It needs the ``cli`` extra (click and rich), which the library never imports: ``import
aioeas`` works without it. The modules, one concept each:

- ``main``: the command group, and the one place errors become one line and an exit status
  (2: the command was used wrongly; 1: it ran and something failed; 130: interrupted);
- ``options``: the flags several commands share (endpoint, token, timeout...), and running
  a coroutine so that Ctrl-C stops it cleanly;
- ``formats``: which format a file is in; ``inputs`` / ``outputs``: batch files in (JSON
  lines, CSV, Parquet, .npy, .npz) and out;
- ``predict``: the batch command and its flags; ``batch``: the run behind it (loaded only
  when it runs); ``progress``: its progress bar;
- ``queue``: operating a queue service; ``emulator``: serving the emulator;
- ``codecs``: the codecs at work, offline.

``main`` imports a command's module only when that command runs, and the modules import
numpy, aiohttp and rich only to run, so ``aioeas --version`` and ``--help`` load none.
"""
