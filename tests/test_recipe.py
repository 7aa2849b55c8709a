"""Pieces of the training recipe that run without Ray."""

import time

import pytest
import torch

from raypruning.recipe import StepTimer


def test_step_timer_sums_its_sections_on_cpu():
    timer = StepTimer(torch.device("cpu"))
    for _ in range(3):
        with timer.section():
            time.sleep(0.01)
    time.sleep(0.3)  # outside any section: not counted
    assert 0.03 <= timer.total() < 0.25


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_step_timer_reads_cuda_events_once():
    timer = StepTimer(torch.device("cuda"))
    x = torch.randn(2048, 2048, device="cuda")
    for _ in range(5):
        with timer.section():
            x = (x @ x).tanh()
    assert timer.total() > 0 and timer._events == []
