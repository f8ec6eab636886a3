"""Celery tasks carry explicit names, so queued messages, routes and the beat schedule survive moving their code."""

from __future__ import annotations

import inspect

import pytest
from celery import Task
from django.conf import settings

import alerts.tasks
import cameras.tasks
import tips.tasks
from config.celery import app

TASK_MODULES = [cameras.tasks, alerts.tasks, tips.tasks]


def _tasks() -> list[tuple[str, Task]]:
    return [
        (f"{module.__name__}.{name}", value)
        for module in TASK_MODULES
        for name, value in inspect.getmembers(module)
        if isinstance(value, Task) and value.__module__ == module.__name__
    ]


@pytest.mark.parametrize(("where", "task"), _tasks(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_task_is_named_where_it_was_first_defined(where: str, task: Task) -> None:
    # The name is written in the decorator: a task moved to another module keeps it, so messages already
    # queued under the old name still find it.
    source = inspect.getsource(task.run)
    assert f'name="{task.name}"' in source
    assert task.name == where


def test_the_beat_schedule_and_the_routes_name_registered_tasks() -> None:
    app.loader.import_default_modules()
    registered = set(app.tasks)
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in registered, entry
    for route in settings.CELERY_TASK_ROUTES:
        if not route.endswith("*"):
            assert route in registered, route
