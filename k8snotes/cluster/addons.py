"""Cluster add-ons the pages need, built from Go module sources: metrics-server and Traefik.

- metrics-server, so ``kubectl top pods`` / ``kubectl top nodes`` answer (kind's
  kubelets serve self-signed certificates, hence ``--kubelet-insecure-tls``).
- Traefik as ingress controller *and* Gateway API implementation, on the node
  labelled ``ingress-ready=true`` with ``hostPort: 80``, so ``curl localhost/...``
  on the host reaches Ingresses and HTTPRoutes as on a reader's kind cluster.
  IngressClass ``traefik`` (the default) and GatewayClass ``traefik``; the Gateway
  API CRDs are the version Traefik's ``go.mod`` requires.

The images are built locally (``FROM scratch`` plus the static binary) under
their upstream names, and loaded into the cluster with ``kind load``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from k8snotes import versions
from k8snotes.provision import binaries, docker, images

METRICS_SERVER_IMAGE = f"registry.k8s.io/metrics-server/metrics-server:{versions.METRICS_SERVER}"
TRAEFIK_IMAGE = f"docker.io/library/traefik:{versions.TRAEFIK}"
ADDON_LABEL = "io.k8snotes.addon.version"

INGRESS_CLASS = "traefik"
GATEWAY_CLASS = "traefik"
TRAEFIK_NAMESPACE = "traefik"


def _image_dockerfile(binary: str, version: str) -> str:
    return (
        f"FROM scratch\nCOPY {binary} /{binary}\n"
        f'LABEL {ADDON_LABEL}="{version}"\nENTRYPOINT ["/{binary}"]\n'
    )


def ensure_images() -> list[str]:
    """Build the add-on images when absent (binaries come from the cache); return their tags."""
    wanted = [
        (METRICS_SERVER_IMAGE, binaries.METRICS_SERVER, "metrics-server"),
        (TRAEFIK_IMAGE, binaries.TRAEFIK, "traefik"),
    ]
    for tag, group, binary in wanted:
        if images.labels(tag).get(ADDON_LABEL) == group.version:
            continue
        folder = binaries.ensure(group)
        docker.ensure_base_image()
        images.build_image(tag, _image_dockerfile(binary, group.version), {binary: folder / binary})
    return [tag for tag, _, _ in wanted]


def gateway_crds() -> Path:
    """The Gateway API standard CRDs (``standard-install.yaml``), from the cache."""
    return binaries.ensure(binaries.GATEWAY_API) / "standard-install.yaml"


METRICS_SERVER_MANIFEST = f"""\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {{k8s-app: metrics-server}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:aggregated-metrics-reader
  labels:
    k8s-app: metrics-server
    rbac.authorization.k8s.io/aggregate-to-admin: "true"
    rbac.authorization.k8s.io/aggregate-to-edit: "true"
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: [metrics.k8s.io]
  resources: [pods, nodes]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:metrics-server
  labels: {{k8s-app: metrics-server}}
rules:
- apiGroups: [""]
  resources: [nodes/metrics]
  verbs: [get]
- apiGroups: [""]
  resources: [pods, nodes]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: metrics-server-auth-reader
  namespace: kube-system
  labels: {{k8s-app: metrics-server}}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: extension-apiserver-authentication-reader
subjects:
- kind: ServiceAccount
  name: metrics-server
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: metrics-server:system:auth-delegator
  labels: {{k8s-app: metrics-server}}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:auth-delegator
subjects:
- kind: ServiceAccount
  name: metrics-server
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:metrics-server
  labels: {{k8s-app: metrics-server}}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:metrics-server
subjects:
- kind: ServiceAccount
  name: metrics-server
  namespace: kube-system
---
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {{k8s-app: metrics-server}}
spec:
  selector: {{k8s-app: metrics-server}}
  ports:
  - name: https
    port: 443
    protocol: TCP
    targetPort: https
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {{k8s-app: metrics-server}}
spec:
  selector:
    matchLabels: {{k8s-app: metrics-server}}
  template:
    metadata:
      labels: {{k8s-app: metrics-server}}
    spec:
      serviceAccountName: metrics-server
      priorityClassName: system-cluster-critical
      nodeSelector: {{kubernetes.io/os: linux}}
      containers:
      - name: metrics-server
        image: {METRICS_SERVER_IMAGE}
        imagePullPolicy: IfNotPresent
        args:
        - --cert-dir=/tmp
        - --secure-port=10250
        - --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname
        - --kubelet-use-node-status-port
        - --metric-resolution=15s
        - --kubelet-insecure-tls
        ports:
        - name: https
          containerPort: 10250
          protocol: TCP
        readinessProbe:
          httpGet: {{path: /readyz, port: https, scheme: HTTPS}}
          periodSeconds: 5
          failureThreshold: 3
        livenessProbe:
          httpGet: {{path: /livez, port: https, scheme: HTTPS}}
          periodSeconds: 10
          failureThreshold: 3
        resources:
          requests: {{cpu: 100m, memory: 200Mi}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          runAsNonRoot: true
          runAsUser: 1000
          capabilities: {{drop: [ALL]}}
          seccompProfile: {{type: RuntimeDefault}}
        volumeMounts:
        - name: tmp-dir
          mountPath: /tmp
      volumes:
      - name: tmp-dir
        emptyDir: {{}}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
  labels: {{k8s-app: metrics-server}}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service:
    name: metrics-server
    namespace: kube-system
"""
"""metrics-server as upstream's ``components.yaml`` deploys it, plus ``--kubelet-insecure-tls``."""


def metrics_server_components() -> str:
    """metrics-server's release ``components.yaml``: :data:`METRICS_SERVER_MANIFEST` without
    ``--kubelet-insecure-tls``, which a reader on kind adds with ``kubectl patch``.

    The same objects in the same order; the flag is taken out of the Deployment's
    container arguments (a :class:`ValueError` if it is not there).
    """
    objects = list(yaml.safe_load_all(METRICS_SERVER_MANIFEST))
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    container["args"].remove("--kubelet-insecure-tls")
    return yaml.safe_dump_all(objects, sort_keys=False)


GATEWAY_RESOURCES = (
    "gatewayclasses gateways httproutes grpcroutes referencegrants backendtlspolicies "
    "tcproutes tlsroutes udproutes listenersets"
).split()


def ingress_manifest() -> str | None:
    """The site's ingress controller manifest (``ingress-manifest`` of :mod:`k8snotes.site`).

    This site's is the Traefik Deployment task 10 shows readers: one source. Its
    ``image: traefik:v3.6.12`` is, fully qualified, :data:`TRAEFIK_IMAGE`, the
    image built here from source and loaded into the nodes.
    """
    from k8snotes.site import load_site

    path = load_site().ingress_manifest
    return path.read_text() if path else None
