"""Access rules for the evaluation catalogue (ROLES.md): evaluation tasks and their versions. The shared
owner/exercise logic is in ``evaluations.rules.common``."""

from __future__ import annotations

from accounts.access import register
from evaluations.models import EvalTask, TaskVersion
from evaluations.rules.common import ChildRule, OwnedInExercisesRule


@register(EvalTask)
class EvalTaskRule(OwnedInExercisesRule):
    pass


@register(TaskVersion)
class TaskVersionRule(ChildRule):
    parent_field = "eval_task"
    parent_model = EvalTask
