"""k8snotes: run every code block of a Kubernetes field guide against a real cluster.

The data path reads one way: a page is parsed into blocks
(:mod:`k8snotes.markdown`), the blocks run in a session (:mod:`k8snotes.runner`),
the session talks to a cluster (:mod:`k8snotes.cluster`) that the provisioning
code (:mod:`k8snotes.provision`) builds and starts.
"""

__version__ = "0.1.0"
