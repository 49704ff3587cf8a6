"""rules.yml and its unit tests: every alert has a case where it must fire and one where it
must not, every recording rule is checked by value, and every rule documents itself.
(`promtool test rules` runs the cases; this checks that they exist.)"""

from __future__ import annotations

import yaml

from conftest import PROMETHEUS


def rules() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def unit_tests() -> list[dict]:
    return yaml.safe_load((PROMETHEUS / "rules_test.yml").read_text())["tests"]


def test_every_alert_is_tested_firing_and_silent():
    alerts = {r["alert"] for r in rules() if "alert" in r}
    firing, silent = set(), set()
    for case in unit_tests():
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    assert alerts == firing, f"alerts never tested firing: {alerts - firing}"
    assert alerts == silent, f"alerts never tested silent: {alerts - silent}"


def test_every_recording_rule_is_tested_by_value():
    records = {r["record"] for r in rules() if "record" in r}
    tested = {
        record
        for case in unit_tests()
        for check in case.get("promql_expr_test", [])
        for record in records
        if record in check["expr"] and check["exp_samples"]
    }
    assert records == tested, f"recording rules without a test: {records - tested}"


def test_every_alert_has_a_severity_and_a_summary():
    for rule in rules():
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
            annotations = rule["annotations"]
            assert annotations["summary"] and annotations["description"], rule["alert"]


def test_the_worker_alerts_are_there():
    alerts = {r["alert"] for r in rules() if "alert" in r}
    assert {
        "DynamoWorkerDown",
        "DynamoHighErrorRatio",
        "DynamoHighLatency",
        "DynamoInflightStuck",
        "DynamoProcessMemoryGrowth",
        "DynamoScrapeTooSlow",
    } <= alerts
