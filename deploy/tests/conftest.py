"""Paths and loaders shared by the tests of the deploy files."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent
KUBERNETES = DEPLOY / "kubernetes"
PROMETHEUS = DEPLOY / "prometheus"


def documents(path: Path) -> list[dict]:
    """Every YAML document of ``path``, in order; an empty document fails the test."""
    docs = list(yaml.safe_load_all(path.read_text()))
    assert all(isinstance(doc, dict) for doc in docs), f"{path.name}: a document is not a mapping"
    return docs


def of_kind(kind: str) -> list[tuple[str, dict]]:
    """``(file name, document)`` for every Kubernetes document of ``kind`` under kubernetes/."""
    return [
        (path.name, doc)
        for path in sorted(KUBERNETES.glob("*.yaml"))
        for doc in documents(path)
        if doc.get("kind") == kind
    ]
