"""Who may do what with a contract (or law-firm template) they can see: the one rule, in one place.

Seeing an object (its creator, the tenant's admins, and, when it is
team-visible, the members of its team; ``repository.visible``) lets a caller
work on its *content*: answers, slot choices, dismissals, title, client
reference, tags, completion, upgrade, derive. *Managing* it - changing who
sees it (visibility, team), archiving it, deleting it - is reserved to its
creator and the tenant's admins; anyone else gets 403 ``contract.not_owner``
(``lawfirm_template.not_owner``). A PATCH that repeats the current visibility
and team is not a change and is allowed to every editor (clients send whole
documents back).

Moving an object to a team also needs the acting user to be a member of that
team (admins: any team of the tenant; ``repository.require_team``). The
creator need not be a member: they keep seeing their own contract whatever its
team, so an admin may hand a contract to a team its creator is not in.
"""

from __future__ import annotations

import uuid
from typing import Any

from servanda.identity.principal import Principal
from servanda.platform import errors

Sharing = tuple[str, uuid.UUID | None]  # (visibility, team_id)

_NOT_OWNER = {
    "contract": "Nur die Erstellerin oder der Ersteller des Vertrags und Administratoren dürfen das.",
    "lawfirm_template": "Nur die Erstellerin oder der Ersteller der Kanzleivorlage und Administratoren dürfen das.",
}


def can_manage(owner_id: uuid.UUID | None, principal: Principal) -> bool:
    """Creator or tenant admin (an object whose creator is unknown: admins only)."""
    return principal.role == "admin" or (owner_id is not None and owner_id == principal.user_id)


def require_manage(owner_id: uuid.UUID | None, principal: Principal, *, kind: str, action: str) -> None:
    if not can_manage(owner_id, principal):
        raise errors.Forbidden(f"{kind}.not_owner", _NOT_OWNER[kind], extra={"action": action})


def requested_sharing(current: Sharing, changes: dict[str, Any]) -> Sharing:
    """The (visibility, team) a PATCH asks for; a private object has no team."""
    visibility = changes.get("visibility") or current[0]
    team_id = changes["team_id"] if "team_id" in changes else current[1]
    return visibility, team_id if visibility == "team" else None


def sharing_json(sharing: Sharing) -> dict[str, str | None]:
    return {"visibility": sharing[0], "teamId": str(sharing[1]) if sharing[1] else None}
