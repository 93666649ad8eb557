"""On-site checks of a device (`nowserving self-test`) and of the whole branch
(`nowserving branch-status`): docs/install.md is the installer's guide."""

from nowserving.launch import Hardware
from nowserving.selftest.report import FAIL, OK, SKIP, WARN, Check, Report
from nowserving.selftest.runner import Options, run_self_test

__all__ = ["FAIL", "OK", "SKIP", "WARN", "Check", "Hardware", "Options", "Report", "run_self_test"]
