"""The ``existing`` backend: a cluster the user names explicitly; never chosen by default."""

from __future__ import annotations

import os
import subprocess

from k8snotes.cluster.base import Backend, Capability, ClusterInfo


class ExistingBackend(Backend):
    """Uses context ``context`` of the user's kubeconfig, copied (minified) into the state folder.

    The user's kubeconfig is read once, when the user asks for it with
    ``--k8snotes-context``; it is never written, and the current context is
    never changed. :meth:`down` deletes only the copy.
    """

    name = "existing"

    def __init__(self, context: str, **kwargs: object) -> None:
        super().__init__(cluster_name=f"existing-{context}", **kwargs)  # type: ignore[arg-type]
        self.context = context

    def available(self) -> str | None:
        """Available when a context was named."""
        return None if self.context else "name a context with --k8snotes-context"

    def up(self) -> ClusterInfo:
        """Copy the named context's credentials into a kubeconfig of the run's own."""
        self.state.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["kubectl", "config", "view", "--minify", "--flatten", "--context", self.context],
            timeout=60,
            # kubectl v1.37 asks the server for its version and caches the answer:
            # keep that cache out of ~/.kube.
            env={**os.environ, "KUBECACHEDIR": str(self.kubecache)},
            capture_output=True,
            text=True,
            check=True,
        )
        self.kubeconfig.write_text(proc.stdout)
        self.kubeconfig.chmod(0o600)
        info = ClusterInfo(
            self.cluster_name,
            self.name,
            str(self.kubeconfig),
            self.context,
            [Capability.API, Capability.PODS],
            real_pods=True,
        )
        info.save(self.state)
        return info

    def is_up(self) -> bool:
        """True when the named cluster answers."""
        return (
            self.kubeconfig.exists()
            and subprocess.run(
                ["kubectl", "get", "--raw=/readyz", "--request-timeout=5s"],
                timeout=30,
                env=self.env(),
                capture_output=True,
            ).returncode
            == 0
        )

    def down(self) -> None:
        """Forget the copy; the cluster itself is the user's and is left alone."""
        for name in ("kubeconfig", "cluster.json"):
            (self.state / name).unlink(missing_ok=True)

    def load_image(self, image: str) -> None:
        """Not possible in general: the cluster's nodes must be able to pull the image."""
        raise RuntimeError(
            "load images into an existing cluster by pushing them to a registry its nodes can pull from"
        )
