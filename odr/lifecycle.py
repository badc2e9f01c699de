"""The one lifecycle kernel (DESIGN.md §2, §4.8): every state machine of the platform is a
`Machine` of `Transition`s declared in its own app (the dispute in odr.transitions, the
mediation session in sessions.transitions, the agreement in agreements.transitions, the
confirmation request in agreements.court.transitions).

A transition names its sources, its target, who may take it, its audit action (unique
across the platform) and the words that tell it on the case timeline and on the PDF's
audit page. `Machine.apply` is the one path by which a status moves: it locks the row,
checks the table on the row as it is under the lock, saves, writes the hash-chained audit
event and, once the transaction commits, sends `transitioned`, which other apps listen to
instead of being called. `Machine.actions` offers a caller exactly what `apply` would
accept, from the same table.

Writes that are not status changes (evidence, messages, reminders, room events) register
their audit actions' words with `register_events`, so that every audit action has one
entry, one set of words, in one registry."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models, transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _

from odr.errors import DomainError

M = TypeVar("M", bound=models.Model)

# Sent after the transaction that made a transition commits. Arguments: `sender` (the
# model class), `machine`, `instance` (the row as saved), `transition`, `source` (the
# status before), `target` (the status after) and `actor` (None for the platform).
transitioned = Signal()


# --- the words of audit actions ----------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """How one audit action reads.

    `document` is the label printed on a PDF's audit page (the documents are Chinese
    first). `timeline` is the sentence on the case page, an English msgid marked with
    gettext_noop whose catalogue gives the Chinese; it may use %(actor)s and the keys of
    `Timeline values` (reason, filename, mediator, organisation). None keeps a moment-to-
    moment event (a join, a chat line) out of the timeline; it stays in the audit trail."""

    document: str
    timeline: str | None = None


_EVENTS: dict[str, Words] = {}


def register_events(events: dict[str, Words]) -> None:
    """Declare audit actions and their words. An action is declared once on the whole
    platform: a second declaration is a programming error and fails at start-up."""
    for action, words in events.items():
        if action in _EVENTS:
            raise ValueError(f"audit action {action!r} is declared twice")
        _EVENTS[action] = words


def words_for(action: str) -> Words | None:
    return _EVENTS.get(action)


def audit_actions() -> dict[str, Words]:
    """Every declared audit action (read-only copy)."""
    return dict(_EVENTS)


# --- refusals ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a move is refused now: 403 when this caller may never take it, 409 when the
    state forbids it (the same codes the API answers with)."""

    status: int
    code: str
    message: str

    def error(self) -> DomainError:
        return DomainError(self.code, self.message, status=self.status)


def not_allowed(message: str | None = None) -> Refusal:
    return Refusal(403, "action_not_allowed", message or _("You may not do this."))


# --- transitions and machines ------------------------------------------------------------

Who = Callable[[Any, Any], bool]
Guard = Callable[[Any, Any, dict], Refusal | None]


@dataclass(frozen=True)
class Transition(Generic[M]):
    """One move of a machine.

    `who(instance, viewer)` says whether this caller may take it (the viewer is what the
    machine's `viewer_of` makes of the user, read once per request). `guard(instance,
    viewer, cache)` refuses it for a reason beyond status and person (no organisation
    above to escalate to); it runs when actions are offered and again under the lock.
    `offer_if(instance, cache)` keeps a move out of `actions` when the input it needs
    cannot exist (no other mediator to assign the case to); the service still checks the
    input it is given, with its own code. `system` lets the platform take it with no
    actor (settling a case when the agreement is in force). `public` transitions are
    offered in `actions`; the others are taken by their own endpoints or by the platform.
    `forbidden` (code, message) and `wrong_status` (message) word this move's refusals
    when the machine's general words would say less ("Only the parties pick the time")."""

    name: str
    sources: frozenset[str]
    target: str | None  # None: the status does not change (assign, sign)
    who: Who
    action: str
    words: Words
    public: bool = True
    system: bool = False
    guard: Guard | None = None
    offer_if: Callable[[Any, dict], bool] | None = None
    forbidden: tuple[str, Any] | None = None
    wrong_status: Any = None


def _default_lock(instance: models.Model) -> models.Model:
    # No select_related: PostgreSQL refuses FOR UPDATE on the nullable side of an outer
    # join.
    return type(instance)._default_manager.select_for_update().get(pk=instance.pk)


@dataclass
class Machine(Generic[M]):
    """A state machine over one model's `status` field.

    `snapshot(instance)` is what the audit event records before and after; `dispute_of`
    names the case the event belongs to; `viewer_of(user)` reads who is asking once;
    `state_refusal(instance)` words the 409 for a status the move does not start from;
    `guard(instance, transition, viewer, cache)` is a refusal for every transition of the
    machine (an agreement cannot change once its case left mediation); `forbidden` (code,
    message) words the 403 of every move that has no wording of its own."""

    name: str
    model: type[M]
    transitions: list[Transition[M]]
    snapshot: Callable[[M], dict[str, Any]]
    dispute_of: Callable[[M], models.Model | None]
    state_refusal: Callable[[M], str]
    viewer_of: Callable[[AbstractBaseUser], Any] = lambda user: user
    guard: Callable[[M, Transition[M], Any, dict], Refusal | None] | None = None
    forbidden: tuple[str, Any] | None = None
    lock: Callable[[M], M] = _default_lock
    status_field: str = "status"
    table: dict[str, Transition[M]] = field(init=False)

    def __post_init__(self) -> None:
        self.table = {}
        for t in self.transitions:
            if t.name in self.table:
                raise ValueError(f"{self.name}: transition {t.name!r} is declared twice")
            self.table[t.name] = t
        register_events({t.action: t.words for t in self.transitions})
        if self.name in _MACHINES:
            raise ValueError(f"machine {self.name!r} is declared twice")
        _MACHINES[self.name] = self

    def __getitem__(self, name: str) -> Transition[M]:
        return self.table[name]

    def __contains__(self, name: str) -> bool:
        return name in self.table

    @property
    def public_names(self) -> tuple[str, ...]:
        return tuple(name for name, t in self.table.items() if t.public)

    def status_of(self, instance: M) -> str:
        return getattr(instance, self.status_field)

    # -- checks -------------------------------------------------------------------------

    def refusal(
        self,
        name: str,
        instance: M,
        actor: AbstractBaseUser | None,
        *,
        viewer: Any = None,
        cache: dict | None = None,
    ) -> Refusal | None:
        """Why `actor` (None: the platform) may not take `name` on `instance` now, or
        None when the move is allowed."""
        t = self.table[name]
        cache = {} if cache is None else cache
        if actor is None:
            if not t.system:
                return self._forbidden(t)
        else:
            if not getattr(actor, "is_authenticated", False):
                return self._forbidden(t)
            viewer = self.viewer_of(actor) if viewer is None else viewer
            if not t.who(instance, viewer):
                return self._forbidden(t)
        if self.status_of(instance) not in t.sources:
            message = str(t.wrong_status) if t.wrong_status else self.state_refusal(instance)
            return Refusal(409, "invalid_status", message)
        if self.guard is not None:
            refused = self.guard(instance, t, viewer, cache)
            if refused is not None:
                return refused
        if t.guard is not None:
            return t.guard(instance, viewer, cache)
        return None

    def allows(
        self,
        name: str,
        instance: M,
        user: AbstractBaseUser,
        *,
        viewer: Any,
        cache: dict,
    ) -> bool:
        """Whether `refusal` would be None, for a signed-in user, without wording the
        refusal: a list asks this of every action of every row and shows no message, so
        it must not translate one per row (issue 14). The same checks in the same
        order; a guard's own refusal is still built (a guard is rare and runs last)."""
        t = self.table[name]
        if not t.who(instance, viewer):
            return False
        if self.status_of(instance) not in t.sources:
            return False
        if self.guard is not None and self.guard(instance, t, viewer, cache) is not None:
            return False
        return t.guard is None or t.guard(instance, viewer, cache) is None

    def _forbidden(self, t: Transition[M]) -> Refusal:
        wording = t.forbidden or self.forbidden
        if wording is None:
            return not_allowed()
        code, message = wording
        return Refusal(403, code, str(message))

    def check(self, name: str, instance: M, actor: AbstractBaseUser | None, **kw: Any) -> None:
        refused = self.refusal(name, instance, actor, **kw)
        if refused is not None:
            raise refused.error()

    def actions(
        self,
        instance: M,
        user: AbstractBaseUser,
        *,
        viewer: Any = None,
        cache: dict | None = None,
        names: Iterable[str] | None = None,
    ) -> list[str]:
        """The moves this user may take now, in table order: the public ones, or those
        named. Exactly what `apply` accepts, so no button can only fail."""
        if not getattr(user, "is_authenticated", False):
            return []
        viewer = self.viewer_of(user) if viewer is None else viewer
        cache = {} if cache is None else cache
        wanted = self.public_names if names is None else tuple(names)
        return [
            name
            for name in wanted
            if self.allows(name, instance, user, viewer=viewer, cache=cache)
            and (self.table[name].offer_if is None or self.table[name].offer_if(instance, cache))
        ]

    # -- the one write path -------------------------------------------------------------

    def apply(
        self,
        name: str,
        *,
        instance: M,
        actor: AbstractBaseUser | None,
        changes: dict[str, Any] | None = None,
        prepare: Callable[[M], dict[str, Any] | None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> M:
        """Lock, check, change, save, audit, and signal after commit.

        Every check runs on the row as it is under the lock, never on the caller's copy,
        which may be stale: `prepare(locked)` validates what depends on the current state
        and returns more field changes (or None). `extra` goes into the audit event's
        `after` beside the snapshot (a reason, the agreement that settled the case); it is
        read after `prepare` runs, so `prepare` may add what it found under the lock."""
        t = self.table[name]
        with transaction.atomic():
            locked = self.lock(instance)
            self.check(name, locked, actor)
            more = prepare(locked) if prepare else None
            before = self.snapshot(locked)
            source = self.status_of(locked)
            if t.target is not None:
                setattr(locked, self.status_field, t.target)
            for attr, value in {**(changes or {}), **(more or {})}.items():
                setattr(locked, attr, value)
            locked.save()
            from odr.audit import log_action

            log_action(
                action=t.action,
                obj=locked,
                actor=actor,
                dispute=self.dispute_of(locked),
                before=before,
                after={**self.snapshot(locked), **(extra or {})},
            )
            target = self.status_of(locked)
            transaction.on_commit(
                lambda: transitioned.send(
                    sender=self.model,
                    machine=self,
                    instance=locked,
                    transition=t,
                    source=source,
                    target=target,
                    actor=actor,
                )
            )
        return locked

    def apply_many(
        self,
        name: str,
        *,
        moves: list[tuple[M, AbstractBaseUser | None, dict[str, Any]]],
    ) -> list[M | DomainError]:
        """`apply` of one transition to many rows the caller has locked in its
        transaction already (`(row, actor, changes)` each; a batch of room joins locks its
        sessions at once and starts each scheduled one, issue 13): each checked on the row
        as given, changed and saved, the audit events chained in the order given and
        written together (`log_actions`), `transitioned` sent for each after commit. A
        refused move writes nothing and has its refusal in its place in the answer. Runs
        inside the caller's transaction."""
        from odr.audit import log_actions

        t = self.table[name]
        answers: list[M | DomainError] = []
        events: list[dict[str, Any]] = []
        sent: list[tuple[M, str, str, AbstractBaseUser | None]] = []
        for row, actor, changes in moves:
            refused = self.refusal(name, row, actor)
            if refused is not None:
                answers.append(refused.error())
                continue
            before = self.snapshot(row)
            source = self.status_of(row)
            if t.target is not None:
                setattr(row, self.status_field, t.target)
            for attr, value in changes.items():
                setattr(row, attr, value)
            row.save()
            events.append(
                {
                    "action": t.action,
                    "obj": row,
                    "actor": actor,
                    "dispute": self.dispute_of(row),
                    "before": before,
                    "after": self.snapshot(row),
                }
            )
            sent.append((row, source, self.status_of(row), actor))
            answers.append(row)
        log_actions(events)

        for row, source, target, actor in sent:
            # One callback a move, as `apply` registers it.
            transaction.on_commit(
                functools.partial(
                    transitioned.send,
                    sender=self.model,
                    machine=self,
                    instance=row,
                    transition=t,
                    source=source,
                    target=target,
                    actor=actor,
                )
            )
        return answers


_MACHINES: dict[str, Machine] = {}


def machines() -> dict[str, Machine]:
    """Every declared machine by name (read-only copy): the tests walk all of them."""
    return dict(_MACHINES)
