"""The fake clock tests use: `runner.kernel.clock.FakeClock` (it lives in the kernel so the step
tests and the engine share one)."""

from runner.kernel.clock import FakeClock

__all__ = ["FakeClock"]
