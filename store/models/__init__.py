"""The trace store's tables, one module per concept."""

from store.models.access import ROLES, ApiKey, AuditEntry, Membership, User, UserSession
from store.models.alert import Alert, AlertRule
from store.models.base import Base
from store.models.budget import BUDGET_PERIODS, Budget, Runaway
from store.models.dataset import Dataset, DatasetItem
from store.models.evals import EvalRun, EvalSuite, Score
from store.models.known_good import KnownGoodVersion
from store.models.log_record import LogRecord
from store.models.periodic import PeriodicTask
from store.models.price import CustomPrice, PriceRecord
from store.models.project import DEFAULT_PROJECT, Project
from store.models.schedule import EvalJob
from store.models.span import Span
from store.models.span_cost import SpanCost
from store.models.trace import Trace

__all__ = [
    "BUDGET_PERIODS",
    "DEFAULT_PROJECT",
    "ROLES",
    "Alert",
    "AlertRule",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Budget",
    "CustomPrice",
    "Dataset",
    "DatasetItem",
    "EvalJob",
    "EvalRun",
    "EvalSuite",
    "KnownGoodVersion",
    "LogRecord",
    "Membership",
    "PeriodicTask",
    "PriceRecord",
    "Project",
    "Runaway",
    "Score",
    "Span",
    "SpanCost",
    "Trace",
    "User",
    "UserSession",
]
