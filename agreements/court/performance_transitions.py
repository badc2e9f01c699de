"""The obligation's machine (issue 11, L3): an obligation of an agreement in force is
performed when the party owed (the obligee) says so. The obligee marks it performed; the
obligor reports it performed, and the obligee then confirms the report or disputes it
with a reason, which sends it back to open and shows it as disputed. The debtor's word
alone never closes his own debt.

    open ──mark (obligee)──────────────────────────────▶ done
    open ──report (obligor)──▶ reported ──confirm (obligee)──▶ done
                               reported ──dispute (obligee, reason)──▶ open

A term that names no obligor may be reported by either party; one that names no obligee
is confirmed by a party on the other side of the report. When a side has several parties a
term may name one of them (Performance.obligor_party / obligee_party): then that party,
not its whole side, reports or answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from agreements.models import Performance
from odr.lifecycle import Machine, Transition, Words
from odr.models import Party

Status = Performance.Status


@dataclass
class ObligationViewer:
    """Who is asking, with the parties they are per case read once: a panel of many
    obligations asks the same question of each."""

    user: AbstractBaseUser
    _parties: dict[int, tuple[tuple[int, str], ...]] = field(default_factory=dict)

    def _of(self, obligation: Performance) -> tuple[tuple[int, str], ...]:
        # By the agreement's id, which the obligation's row holds: no join to read it.
        agreement_id = obligation.agreement_id
        if agreement_id not in self._parties:
            self._parties[agreement_id] = tuple(
                Party.objects.filter(
                    dispute__agreement__id=agreement_id, user_id=self.user.pk
                ).values_list("pk", "role")
            )
        return self._parties[agreement_id]

    def roles(self, obligation: Performance) -> frozenset[str]:
        return frozenset(role for _pk, role in self._of(obligation))

    def party_ids(self, obligation: Performance) -> frozenset[int]:
        return frozenset(pk for pk, _role in self._of(obligation))


def _obligee(o: Performance, viewer: ObligationViewer) -> bool:
    """The party owed: the one the term names when a side has several, else anyone of
    the obligee's side."""
    if o.obligee_party_id:
        return o.obligee_party_id in viewer.party_ids(o)
    return bool(o.obligee_role) and o.obligee_role in viewer.roles(o)


def _may_report(o: Performance, viewer: ObligationViewer) -> bool:
    """The party owing: the one the term names, else anyone of the obligor's side; when
    the term names no obligor, any party but the obligee."""
    if o.obligor_party_id:
        return o.obligor_party_id in viewer.party_ids(o)
    roles = viewer.roles(o)
    if o.obligor_role:
        return o.obligor_role in roles
    if o.obligee_party_id:
        return bool(viewer.party_ids(o) - {o.obligee_party_id})
    return bool(roles - {o.obligee_role})


def _may_answer_report(o: Performance, viewer: ObligationViewer) -> bool:
    """The obligee; when the term names none, a party on the other side of the report."""
    if o.obligee_party_id or o.obligee_role:
        return _obligee(o, viewer)
    return bool(viewer.roles(o) - {o.reported_role})


def _state_refusal(o: Performance) -> str:
    if o.status == Status.DONE:
        return _("This obligation was already marked performed.")
    if o.status == Status.REPORTED:
        return _("Its performance was reported: the party owed confirms or disputes the report.")
    return _("No performance of this obligation was reported.")


MACHINE: Machine[Performance] = Machine(
    name="obligation",
    model=Performance,
    snapshot=lambda o: {"status": o.status, "term": o.term_index, "instalment": o.instalment_index},
    dispute_of=lambda o: o.agreement.dispute,
    state_refusal=_state_refusal,
    viewer_of=ObligationViewer,
    forbidden=(
        "not_a_party",
        gettext_lazy("Only the parties bound by this obligation can mark it performed."),
    ),
    transitions=[
        Transition(
            "mark",
            frozenset({Status.OPEN}),
            Status.DONE,
            _obligee,
            action="performance.mark",
            words=Words(
                "权利人确认已履行",
                gettext_noop(
                    "%(actor)s, the party owed, recorded that an obligation was performed."
                ),
            ),
        ),
        Transition(
            "report",
            frozenset({Status.OPEN}),
            Status.REPORTED,
            _may_report,
            action="performance.report",
            words=Words(
                "义务人报告已履行",
                gettext_noop(
                    "%(actor)s reported that an obligation was performed; the party owed is "
                    "asked to confirm it."
                ),
            ),
        ),
        Transition(
            "confirm",
            frozenset({Status.REPORTED}),
            Status.DONE,
            _may_answer_report,
            action="performance.confirm",
            words=Words(
                "权利人确认履行",
                gettext_noop("%(actor)s confirmed that an obligation was performed."),
            ),
            forbidden=(
                "not_the_obligee",
                gettext_lazy("Only the party owed can confirm or dispute that it was performed."),
            ),
        ),
        Transition(
            "dispute",
            frozenset({Status.REPORTED}),
            Status.OPEN,
            _may_answer_report,
            action="performance.dispute",
            words=Words(
                "权利人对履行提出异议",
                gettext_noop("%(actor)s disputed that an obligation was performed: %(reason)s"),
            ),
            forbidden=(
                "not_the_obligee",
                gettext_lazy("Only the party owed can confirm or dispute that it was performed."),
            ),
        ),
    ],
)


def obligation_actions(
    obligation: Performance, user: AbstractBaseUser, *, viewer: ObligationViewer | None = None
) -> list[str]:
    """What this user may do with this obligation now: exactly what the services accept."""
    return MACHINE.actions(obligation, user, viewer=viewer)
