"""What a page's run is checked against, with no cluster and no shell in it.

- :mod:`~k8snotes.check.output`: a block's shown output against what it printed
  (placeholders for what truly varies, ``...`` for lines that may differ);
- :mod:`~k8snotes.check.update`: the output a run prints, written back into the
  page (``--k8snotes-update``), placeholders kept;
- :mod:`~k8snotes.check.failures`: the report of a failed block: page, line,
  command, exit code, output and the difference;
- :mod:`~k8snotes.check.inventory`: the leak check, what a page left on the
  reader's machine (containers, kind clusters, objects, processes, files).

The runner (:mod:`k8snotes.runner`) calls them; they call nothing of it.
"""
