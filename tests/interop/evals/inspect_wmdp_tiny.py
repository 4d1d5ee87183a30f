"""A tiny WMDP-shaped Inspect task (8 four-choice questions) for CI: run with the mock model, it
writes real Inspect logs that weir must import."""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import choice
from inspect_ai.solver import multiple_choice


@task
def wmdp_bio():
    samples = [
        Sample(input=f"Question {i}: which option is correct?", choices=["w", "x", "y", "z"], target="ABCD"[i % 4])
        for i in range(8)
    ]
    return Task(dataset=samples, solver=multiple_choice(), scorer=choice())
