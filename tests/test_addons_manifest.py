"""The metrics-server release manifest the reader applies: the suite's, without one flag."""

from __future__ import annotations

import yaml

from k8snotes.cluster.addons import METRICS_SERVER_MANIFEST, metrics_server_components


def test_the_release_manifest_is_the_suite_s_without_kubelet_insecure_tls() -> None:
    suite = list(yaml.safe_load_all(METRICS_SERVER_MANIFEST))
    release = list(yaml.safe_load_all(metrics_server_components()))
    assert [(o["kind"], o["metadata"]["name"]) for o in release] == [
        (o["kind"], o["metadata"]["name"]) for o in suite
    ]
    [args] = [
        o["spec"]["template"]["spec"]["containers"][0]["args"]
        for o in suite
        if o["kind"] == "Deployment"
    ]
    assert "--kubelet-insecure-tls" in args
    args.remove("--kubelet-insecure-tls")
    assert release == suite
    assert "--kubelet-insecure-tls" not in metrics_server_components()
