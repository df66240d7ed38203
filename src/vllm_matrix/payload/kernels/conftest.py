"""Kernel suite: shared hooks and fixtures come from payload_common.plugin."""

from payload_common.plugin import _record_cell, payload_env, pytest_configure, pytest_report_header

__all__ = ["_record_cell", "payload_env", "pytest_configure", "pytest_report_header"]
