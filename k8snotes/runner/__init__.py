"""Running a page's blocks: the run's bring-up, the page's target and session, its shell.

- :mod:`~k8snotes.runner.bringup`: what a process of the run brings up (engine,
  reader's machine, suite's cluster, host settings) and releases in reverse;
- :mod:`~k8snotes.runner.environment`: the reader's machine and a page's
  environment (Docker, kind, the site's images, the shims);
- :mod:`~k8snotes.runner.targets`: where a page's commands go (the reader's
  machine, a namespace of the suite's cluster, or no cluster);
- :mod:`~k8snotes.runner.session`: a page's blocks in order, in one shell;
- :mod:`~k8snotes.runner.shell`, :mod:`~k8snotes.runner.background`,
  :mod:`~k8snotes.runner.tty`: the processes a block runs.

What a block's output is checked against lives in :mod:`k8snotes.check`.
"""
