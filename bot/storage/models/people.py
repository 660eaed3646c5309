"""People: users, how each channel reaches them, what roles they hold, invite codes.

Roles are rows written by a roster import or by redeeming a role invite code; nothing
a user types can create one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, UTCDateTime, utcnow


class Role(StrEnum):
    FLOOR_MEMBER = "floor_member"
    BUILDING_LEADER = "building_leader"
    SECRETARY = "secretary"
    COMMITTEE = "committee"
    PROPERTY = "property"
    MEDIATOR = "mediator"
    GRID_WORKER = "grid_worker"
    POLICE = "police"
    VOLUNTEER = "volunteer"
    ADMIN = "admin"


class Relation(StrEnum):
    """How a resident is tied to their room."""

    OWNER = "owner"
    TENANT = "tenant"
    FAMILY = "family"


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    room_id: Mapped[int | None] = mapped_column(
        ForeignKey("room.id", ondelete="SET NULL"), index=True
    )
    relation: Mapped[str | None] = mapped_column(String(16))
    # The person's key in the roster file that created them, so a re-import updates them.
    roster_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by /unsubscribe: no legal-education notices or quizzes; case messages still go.
    notices_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChannelIdentity(Base):
    """One account of a user on one channel (a Telegram id, a web-chat id)."""

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoleGrant(Base):
    """A role with its scope: a compound, optionally narrowed to one building.

    ``compound_id`` is NULL only for county-wide admins.
    """

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role", "compound_id", "building_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compound.id", ondelete="CASCADE"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16), default="roster")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Invite(Base):
    """A code printed as a link or QR code: joins a compound, a room, or grants a role."""

    __tablename__ = "invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id", ondelete="CASCADE"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id", ondelete="CASCADE"))
    role: Mapped[str | None] = mapped_column(String(32))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"))
    floor_from: Mapped[int | None] = mapped_column(Integer)
    floor_to: Mapped[int | None] = mapped_column(Integer)
    # A personal invite: redeeming it ties the chat to this (roster-imported) person.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
