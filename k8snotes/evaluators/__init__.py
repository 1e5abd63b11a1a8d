"""Evaluators: one per fence language, each turning a block into the commands it runs.

See :mod:`k8snotes.evaluators.base` for the protocol and
:mod:`k8snotes.evaluators.registry` for how a language finds its evaluator.
"""
