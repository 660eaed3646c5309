"""All mapped classes, imported here so ``Base.metadata`` is complete for Alembic."""

from bot.storage.models.admin import AdminAccount, AdminSession
from bot.storage.models.base import Base, utcnow
from bot.storage.models.broadcasts import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    QuizAnswer,
)
from bot.storage.models.cases import (
    OPEN_STATUSES,
    Case,
    CaseCounter,
    CaseEvent,
    CaseMember,
    CasePhoto,
    CaseStatus,
)
from bot.storage.models.conversation import ConversationState, ProcessedUpdate
from bot.storage.models.outbox import OutboxMessage, OutboxStatus, Priority, SentPoll
from bot.storage.models.people import ChannelIdentity, Invite, Relation, Role, RoleGrant, User
from bot.storage.models.structure import (
    Building,
    Compound,
    Floor,
    ResponsibilityZone,
    Room,
    Unit,
)
from bot.storage.models.web import AppSecret, WebMessage, WebSession

__all__ = [
    "AdminAccount",
    "AdminSession",
    "OPEN_STATUSES",
    "Case",
    "CaseCounter",
    "CaseEvent",
    "CaseMember",
    "CasePhoto",
    "CaseStatus",
    "AppSecret",
    "Base",
    "Broadcast",
    "BroadcastKind",
    "BroadcastStatus",
    "Building",
    "ChannelIdentity",
    "Compound",
    "ConversationState",
    "Floor",
    "Invite",
    "OutboxMessage",
    "OutboxStatus",
    "Priority",
    "ProcessedUpdate",
    "QuizAnswer",
    "Relation",
    "ResponsibilityZone",
    "Role",
    "RoleGrant",
    "Room",
    "SentPoll",
    "Unit",
    "User",
    "WebMessage",
    "WebSession",
    "utcnow",
]
