"""What a study's driver keeps off the console (raypruning.console)."""

from raypruning.console import VERBOSE_ENV, quiet_driver_console


def test_tunes_slow_operation_threshold_reaches_tune_after_it_is_imported(monkeypatch):
    """Tune reads TUNE_WARN_THRESHOLD_S once, on import; a study imports it before quieting the
    console, so the threshold must reach the already-imported class ("operation took 0.5 s" lines
    came between a study's own lines on a busy machine)."""
    from ray.tune.utils.util import warn_if_slow

    for name in ("TUNE_WARN_THRESHOLD_S", "RAY_AIR_NEW_OUTPUT", VERBOSE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(warn_if_slow, "DEFAULT_THRESHOLD", 0.5)
    quiet_driver_console()
    assert warn_if_slow("process_trial_result").threshold == 10.0
    monkeypatch.setenv("TUNE_WARN_THRESHOLD_S", "2.5")  # the user's own value wins
    quiet_driver_console()
    assert warn_if_slow("process_trial_result").threshold == 2.5
