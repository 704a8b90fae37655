"""Access rules for the model registry (ROLES.md): registered models, their versions, connection tests and
write-only credentials. The shared owner/exercise logic is in ``evaluations.rules.common``."""

from __future__ import annotations

from accounts.access import Rule, register
from evaluations.models import ConnectionTest, ModelCredential, ModelVersion, RegisteredModel
from evaluations.rules.common import ChildRule, OwnedInExercisesRule


@register(RegisteredModel)
class RegisteredModelRule(OwnedInExercisesRule):
    pass


@register(ModelVersion)
class ModelVersionRule(ChildRule):
    parent_field = "registered_model"
    parent_model = RegisteredModel


@register(ConnectionTest)
class ConnectionTestRule(ChildRule):
    parent_field = "registered_model"
    parent_model = RegisteredModel


@register(ModelCredential)
class ModelCredentialRule(Rule):
    """Never readable by anyone, admins included (written only through services.registry)."""
