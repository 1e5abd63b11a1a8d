"""A small controller: a ConfigMap for each Greeting, and the Greeting's status."""

import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "example.com", "v1", "greetings"
WORDS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo"}

config.load_kube_config()  # ~/.kube/config and its current context, as kubectl
core = client.CoreV1Api()
custom = client.CustomObjectsApi()


def reconcile(greeting):
    """Make the world match one Greeting: its ConfigMap, then its status."""
    meta, spec = greeting["metadata"], greeting["spec"]
    namespace, name = meta["namespace"], meta["name"]
    if greeting.get("status", {}).get("observedGeneration") == meta["generation"]:
        return  # this version of the spec is handled already
    message = f"{WORDS[spec['language']]}, {spec['name']}!"
    configmap = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name=f"greeting-{name}",
            labels={"app.kubernetes.io/managed-by": "greeting-controller"},
            # Owned by the Greeting: deleting the Greeting deletes the ConfigMap.
            owner_references=[
                client.V1OwnerReference(
                    api_version=greeting["apiVersion"],
                    kind=greeting["kind"],
                    name=name,
                    uid=meta["uid"],
                    controller=True,
                )
            ],
        ),
        data={"message": message},
    )
    try:
        core.create_namespaced_config_map(namespace, configmap)
    except ApiException as error:
        if error.status != 409:  # 409 Conflict: it exists already, replace it
            raise
        core.replace_namespaced_config_map(f"greeting-{name}", namespace, configmap)
    status = {"message": message, "configMap": f"greeting-{name}", "observedGeneration": meta["generation"]}
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, name, {"status": status})
    print(f"{namespace}/{name}: {message}", flush=True)


def main():
    print("watching greetings in every namespace (Ctrl+C stops)", flush=True)
    while True:
        try:
            # A new watch first reports every existing Greeting as ADDED, then
            # each change as it happens; the API server ends it after 60 s.
            stream = watch.Watch().stream(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, timeout_seconds=60)
            for event in stream:
                if event["type"] in ("ADDED", "MODIFIED"):
                    reconcile(event["object"])
        except ApiException as error:  # the CRD deleted, the API server restarting...
            print(f"API error {error.status} {error.reason}, trying again in 5 s", flush=True)
            time.sleep(5)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("stopped")
