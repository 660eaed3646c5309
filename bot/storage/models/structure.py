"""The physical compound: compound → building → unit → floor → room, plus the
responsibility zones (floor ranges of a building) that party members answer for.

Rows, not code, describe a compound, so a county can load 97 different compounds
through a roster import without touching the program.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, UTCDateTime, utcnow


class Compound(Base):
    __tablename__ = "compound"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    district: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Building(Base):
    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("compound_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(50))


class Unit(Base):
    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("building_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)


class Floor(Base):
    __tablename__ = "floor"
    __table_args__ = (UniqueConstraint("unit_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)


class Room(Base):
    __tablename__ = "room"
    __table_args__ = (UniqueConstraint("floor_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    floor_id: Mapped[int] = mapped_column(ForeignKey("floor.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(16))


class ResponsibilityZone(Base):
    """党员责任区: floors ``floor_from``..``floor_to`` of a building belong to one member."""

    __tablename__ = "responsibility_zone"
    __table_args__ = (CheckConstraint("floor_from <= floor_to", name="floor_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="CASCADE"), index=True
    )
    floor_from: Mapped[int] = mapped_column(Integer)
    floor_to: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
