"""Evaluation models, one sub-module per area: exercises, registry (models under test), catalogue
(evaluation tasks), runs, results and findings."""

from evaluations.models.catalogue import EvalTask, TaskVersion
from evaluations.models.exercises import Exercise
from evaluations.models.findings import (
    EvidenceFlag,
    EvidenceItem,
    Finding,
    FindingComment,
    FindingRunItem,
    FindingSignOff,
    Release,
    RiskArea,
)
from evaluations.models.registry import ConnectionTest, ModelCredential, ModelVersion, RegisteredModel
from evaluations.models.runs import Notification, Run, RunApproval, RunItem, SampleResult
from evaluations.models.trends import TrendBaseline

__all__ = [
    "ConnectionTest", "EvalTask", "Exercise", "ModelCredential", "ModelVersion", "Notification", "RegisteredModel",
    "Run", "RunApproval", "RunItem", "SampleResult", "TaskVersion",
    "EvidenceFlag", "EvidenceItem", "Finding", "FindingComment", "FindingRunItem", "FindingSignOff", "Release",
    "RiskArea",
    "TrendBaseline",
]
