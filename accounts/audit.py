"""The audit trail: one append-only row per billing change, written by the services."""

from .models import AuditEvent


def actor_label(actor, *, support: bool = False) -> str:
    if actor is None:
        return "system"
    name = actor.get_full_name() or actor.email
    return f"support: {name}" if support else name


def audit_record(
    *,
    organisation,
    action: str,
    actor=None,
    support: bool = False,
    before: dict | None = None,
    after: dict | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Call inside the transaction of the change, so the row commits or rolls back with it."""
    return AuditEvent.objects.create(
        organisation=organisation,
        actor=actor,
        actor_label=actor_label(actor, support=support),
        action=action,
        before=before or {},
        after=after or {},
        ip_address=ip,
    )
