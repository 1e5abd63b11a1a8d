"""``yaml`` blocks: Kubernetes manifests, checked against the schema and by the API server."""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes_validate
import yaml

from k8snotes.evaluators.base import BlockContext, BlockFailure, Step
from k8snotes.markdown.blocks import Block

KUBERNETES_SCHEMA_VERSION = "1.37.0"
"""The OpenAPI schema manifests are validated against (``kubernetes-validate``)."""


def schema_problems(text: str) -> list[str]:
    """What in a manifest does not match the v1.37 schema (custom resources are left to the server).

    ```python
    from k8snotes.evaluators.manifest import schema_problems

    assert schema_problems("apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: a}\\n") == []
    assert schema_problems("apiVersion: v1\\nkind: Pod\\nmetadata: {name: a}\\nspec: {containerz: []}\\n")
    ```
    """
    problems = []
    for doc in (d for d in yaml.safe_load_all(text) if d):
        try:
            kubernetes_validate.validate(doc, KUBERNETES_SCHEMA_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            pass  # a custom resource: the server checks it against its CRD
        except kubernetes_validate.ValidationError as exc:
            name = doc.get("metadata", {}).get("name")
            problems.append(f"{doc.get('kind')}/{name}: {exc.message} at {list(exc.path)}")
    return problems


class ManifestEvaluator:
    """Validates the schema, then a server-side dry run; ``apply`` applies it for real."""

    languages = frozenset({"yaml", "yml"})

    def evaluate(self, block: Block, context: BlockContext) -> Iterator[Step]:
        """Yield the step of ``kubectl apply [--dry-run=server] -f -`` with the block on stdin."""
        problems = schema_problems(block.text)
        if problems:
            raise BlockFailure(
                f"{block.location}: manifest does not match the v1.37 schema:\n  "
                + "\n  ".join(problems)
            )
        args = (
            ["apply", "-f", "-"]
            if block.meta.get("apply")
            else ["apply", "--dry-run=server", "-f", "-"]
        )
        yield Step(context.kubectl(*args, input=block.text))
