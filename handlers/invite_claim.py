"""Redeeming a personal invite: the chat that opens it becomes the roster person it names.

A roster import creates each person — name, phone, roles, zones, flat — before they
have ever written to the bot, and prints them a personal code. Redeeming it must not
create a second user beside the imported one (routing would then split cases between a
reachable stranger and an unreachable roster entry), so the chat's identity is attached
to the imported user instead, and the flat the roster gave them becomes theirs.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.replies import Reply
from bot.core.viewer import Viewer
from bot.storage.models import Invite, Relation, RoleGrant, User
from handlers.menu import menu_reply
from handlers.profile import describe_duties, format_address, new_identity, viewer_address


async def claim_person(event: Incoming, ctx: Context, invite: Invite) -> list[Reply]:
    person = await ctx.session.get(User, invite.user_id)
    assert person is not None
    viewer = ctx.viewer
    if viewer.user is not None and viewer.user.id != person.id:
        # Merging two people's histories is an operator's decision, not a link's.
        return [await menu_reply(ctx, ctx.t("start.claim_other_account"))]
    identity = viewer.identity
    if identity is None:
        identity = new_identity(event, ctx, person.id)
    if invite.room_id is not None and person.room_id is None:
        person.room_id = invite.room_id
        person.relation = person.relation or Relation.OWNER.value
    if person.room_id is not None:
        person.registered_at = person.registered_at or ctx.now
    invite.uses += 1
    ctx.finish()
    await ctx.session.flush()
    grants = list(
        (await ctx.session.scalars(select(RoleGrant).where(RoleGrant.user_id == person.id))).all()
    )
    ctx.viewer = Viewer(identity, person, grants)
    parts: list[str] = []
    address = await viewer_address(ctx)
    if address is not None:
        parts.append(ctx.t("start.claimed_address", address=format_address(ctx, address)))
    if grants:
        parts.append(ctx.t("start.claimed_duties", duties=await describe_duties(ctx)))
    lead = ctx.t("start.claimed", name=person.name, details="；".join(parts))
    return [await menu_reply(ctx, lead)]
