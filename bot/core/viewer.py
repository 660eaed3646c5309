"""Who sent an update: their user row (if registered), roles and channel identity.

Loaded once per update by the dispatcher; handlers ask it questions
(``ctx.viewer.has_role(Role.SECRETARY)``) instead of querying roles themselves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import pairs_in
from bot.storage.models import ChannelIdentity, Role, RoleGrant, User


@dataclass
class Viewer:
    identity: ChannelIdentity | None = None
    user: User | None = None
    grants: list[RoleGrant] = field(default_factory=list)

    @property
    def registered(self) -> bool:
        """A resident with a room, or anybody holding a role."""
        return self.user is not None and (self.user.room_id is not None or bool(self.grants))

    @property
    def user_id(self) -> int:
        """The registered user's id; only for code that runs behind a REGISTERED route."""
        if self.user is None:
            raise LookupError("no registered user for this update")
        return self.user.id

    @property
    def is_resident(self) -> bool:
        return self.user is not None and self.user.room_id is not None

    @property
    def roles(self) -> set[Role]:
        return {Role(g.role) for g in self.grants}

    @property
    def is_handler(self) -> bool:
        return bool(self.grants)

    def has_role(self, *roles: Role) -> bool:
        return any(g.role in roles for g in self.grants)


async def load_viewer(session: AsyncSession, channel: str, external_id: str) -> Viewer:
    return (await load_viewers(session, [(channel, external_id)]))[(channel, external_id)]


async def load_viewers(
    session: AsyncSession, senders: list[tuple[str, str]]
) -> dict[tuple[str, str], Viewer]:
    """Viewers of many senders ``(channel, external id)`` in two queries, whatever their
    number: a batch of updates costs what one does."""
    rows = (
        await session.execute(
            select(ChannelIdentity, User)
            .join(User, User.id == ChannelIdentity.user_id)
            .where(pairs_in(ChannelIdentity.channel, ChannelIdentity.external_id, senders))
        )
    ).all()
    grants: dict[int, list[RoleGrant]] = defaultdict(list)
    if rows:
        user_ids = sorted({user.id for _, user in rows})
        for grant in await session.scalars(
            select(RoleGrant).where(RoleGrant.user_id.in_(user_ids)).order_by(RoleGrant.id)
        ):
            grants[grant.user_id].append(grant)
    viewers = {sender: Viewer() for sender in senders}
    for identity, user in rows:
        viewers[(identity.channel, identity.external_id)] = Viewer(
            identity=identity, user=user, grants=list(grants[user.id])
        )
    return viewers
