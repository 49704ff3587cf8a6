"""JSON schemas of the objects under ``deploy/kubernetes``, written from the API references:
the prometheus-operator's ``monitoring.coreos.com/v1`` CRDs (PodMonitor, ServiceMonitor) and
Kubernetes' ``apps/v1`` Deployment and ``v1`` Service.

Each lists the fields the API requires, and, for the objects this project ships, the fields it
uses, with their types: ``additionalProperties: false`` there turns a misspelt field (which
the API server would silently drop) into a failure. Required fields follow the strictest
release of the CRDs: older operators require ``podMetricsEndpoints`` / ``endpoints`` besides
``selector``.
"""

from __future__ import annotations

STRING = {"type": "string"}
DURATION = {
    "type": "string",
    "pattern": (
        r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?"
        r"(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
    ),
}
PORT_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 15}
LABELS = {"type": "object", "additionalProperties": STRING}

METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": STRING,
        "labels": LABELS,
        "annotations": LABELS,
    },
    "additionalProperties": False,
}

LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": LABELS,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": STRING,
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": STRING},
                },
            },
        },
    },
    "additionalProperties": False,
    "minProperties": 1,
}

RELABEL_CONFIG = {
    "type": "object",
    "properties": {
        "action": {
            "enum": [
                "replace",
                "Replace",
                "keep",
                "Keep",
                "drop",
                "Drop",
                "hashmod",
                "HashMod",
                "labelmap",
                "LabelMap",
                "labeldrop",
                "LabelDrop",
                "labelkeep",
                "LabelKeep",
                "lowercase",
                "Lowercase",
                "uppercase",
                "Uppercase",
                "keepequal",
                "KeepEqual",
                "dropequal",
                "DropEqual",
            ]
        },
        "sourceLabels": {"type": "array", "items": STRING},
        "separator": STRING,
        "targetLabel": STRING,
        "regex": STRING,
        "modulus": {"type": "integer"},
        "replacement": STRING,
    },
    "additionalProperties": False,
    # The operator refuses a replace action without a target label.
    "if": {"properties": {"action": {"enum": ["replace", "Replace"]}}},
    "then": {"required": ["targetLabel"]},
}

SCRAPE_ENDPOINT = {
    "type": "object",
    "properties": {
        "port": PORT_NAME,
        "path": {"type": "string", "pattern": "^/"},
        "scheme": {"enum": ["http", "https"]},
        "interval": DURATION,
        "scrapeTimeout": DURATION,
        "honorLabels": {"type": "boolean"},
        "relabelings": {"type": "array", "items": RELABEL_CONFIG},
        "metricRelabelings": {"type": "array", "items": RELABEL_CONFIG},
    },
    "additionalProperties": False,
}


def _monitor(kind: str, endpoints_field: str) -> dict:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": {
                "type": "object",
                "required": ["selector", endpoints_field],
                "properties": {
                    "selector": LABEL_SELECTOR,
                    "namespaceSelector": {
                        "type": "object",
                        "properties": {
                            "any": {"type": "boolean"},
                            "matchNames": {"type": "array", "items": STRING},
                        },
                        "additionalProperties": False,
                    },
                    "jobLabel": STRING,
                    endpoints_field: {"type": "array", "minItems": 1, "items": SCRAPE_ENDPOINT},
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }


POD_MONITOR = _monitor("PodMonitor", "podMetricsEndpoints")
SERVICE_MONITOR = _monitor("ServiceMonitor", "endpoints")

HTTP_PROBE = {
    "type": "object",
    "required": ["httpGet"],
    "properties": {
        "httpGet": {
            "type": "object",
            "required": ["port"],
            "properties": {"path": {"type": "string", "pattern": "^/"}, "port": {}},
            "additionalProperties": False,
        },
        "periodSeconds": {"type": "integer", "minimum": 1},
        "failureThreshold": {"type": "integer", "minimum": 1},
        "initialDelaySeconds": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
}

CONTAINER = {
    "type": "object",
    "required": ["name", "image"],
    "properties": {
        "name": STRING,
        "image": STRING,
        "env": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": STRING, "value": STRING},
                "additionalProperties": False,
            },
        },
        "ports": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["containerPort"],
                "properties": {
                    "name": PORT_NAME,
                    "containerPort": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
                },
                "additionalProperties": False,
            },
        },
        "readinessProbe": HTTP_PROBE,
        "livenessProbe": HTTP_PROBE,
    },
    "additionalProperties": False,
}

DEPLOYMENT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "apps/v1"},
        "kind": {"const": "Deployment"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["selector", "template"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "selector": LABEL_SELECTOR,
                "template": {
                    "type": "object",
                    "required": ["metadata", "spec"],
                    "properties": {
                        "metadata": {
                            "type": "object",
                            "properties": {"labels": LABELS, "annotations": LABELS},
                            "additionalProperties": False,
                        },
                        "spec": {
                            "type": "object",
                            "required": ["containers"],
                            "properties": {
                                "terminationGracePeriodSeconds": {"type": "integer"},
                                "containers": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": CONTAINER,
                                },
                            },
                            "additionalProperties": False,
                        },
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

SERVICE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "v1"},
        "kind": {"const": "Service"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["ports"],
            "properties": {
                "selector": LABELS,
                "ports": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "properties": {
                            "name": PORT_NAME,
                            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                            "targetPort": {},
                            "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

BY_KIND = {
    "PodMonitor": POD_MONITOR,
    "ServiceMonitor": SERVICE_MONITOR,
    "Deployment": DEPLOYMENT,
    "Service": SERVICE,
}
