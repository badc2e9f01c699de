"""Every read of disputes and organisations, already filtered by who is asking."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, connections
from django.db.models import (
    Aggregate,
    Count,
    F,
    JSONField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, JSONArray, Length
from django.db.models.signals import post_init, pre_init

from odr import composition, people
from odr.errors import NotFound
from odr.identity import describe, identity_of, missing_particulars
from odr.idnumber import mask_email, mask_id_number, mask_name, mask_phone
from odr.models import (
    Agent,
    AuditEvent,
    Dispute,
    DuplicateLink,
    Evidence,
    Grid,
    GridReport,
    Invitation,
    Membership,
    Message,
    Organisation,
    Party,
    Profile,
    Region,
    Statement,
    Visit,
    Window,
)
from odr.sms import normalise_mobile

Role = Membership.Role


def _active_memberships(user: AbstractBaseUser) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, is_active=True, organisation__is_active=True)


def user_org_ids(user: AbstractBaseUser, *roles: str) -> set[int]:
    if not user.is_authenticated:
        return set()
    qs = _active_memberships(user)
    if roles:
        qs = qs.filter(role__in=roles)
    return set(qs.values_list("organisation_id", flat=True))


def organisations_of(user: AbstractBaseUser, *roles: str) -> list[Organisation]:
    """The organisations the user works for in these roles (all roles when none given)."""
    return list(Organisation.objects.filter(pk__in=user_org_ids(user, *roles)))


def profile_of(user: AbstractBaseUser) -> Profile | None:
    """The user's profile, or None before it was first saved."""
    return Profile.objects.filter(user=user).first() if user.is_authenticated else None


class PreparedRead:
    """A read of plain values whose SQL is the same on every call but for its arguments,
    compiled once per process and database (issue 14: building a queryset and compiling
    it cost more CPU than running the query; the reads every list page makes).

    `build(*markers)` makes the queryset with `markers` in place of the arguments: values
    no argument takes (ids below any), each compiled as a parameter and replaced by the
    argument in the parameters of each call. For columns the database hands over as
    Python reads them (numbers, text): a read whose columns need the ORM's converters is
    refused when first compiled."""

    def __init__(self, build: Callable[..., QuerySet], *markers: Any) -> None:
        self.build = build
        self.markers = markers
        self.compiled: dict[str, tuple[str, tuple[Any, ...]]] = {}

    def _compile(self, db: str) -> tuple[str, tuple[Any, ...]]:
        found = self.compiled.get(db)
        if found is None:
            compiler = self.build(*self.markers).query.get_compiler(db)
            sql, params = compiler.as_sql()
            if compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]]):
                raise ValueError("PreparedRead reads columns that need no converter")
            found = self.compiled[db] = (sql, tuple(params))
        return found

    def __call__(self, *args: Any, db: str = "default") -> list[tuple[Any, ...]]:
        sql, params = self._compile(db)
        given = dict(zip(self.markers, args, strict=True))
        with connections[db].cursor() as cursor:
            cursor.execute(sql, [given.get(p, p) if _is_marker(p) else p for p in params])
            return cursor.fetchall()


# The markers of PreparedRead's arguments: ids below any id.
MARKER = -918273645546372819
MARKER_2 = MARKER + 1


def _is_marker(value: Any) -> bool:
    return type(value) is int and MARKER <= value <= MARKER_2


_ORG_ROLES = PreparedRead(
    lambda user_id: Membership.objects.filter(
        user_id=user_id, is_active=True, organisation__is_active=True
    ).values_list("organisation_id", "role", "organisation__name"),
    MARKER,
)


def user_org_ids_by_role(user: AbstractBaseUser) -> dict[str, set[int]]:
    """Every organisation the user works for, by role, in one query."""
    return user_org_names_by_role(user)[0]


def user_org_names_by_role(user: AbstractBaseUser) -> tuple[dict[str, set[int]], dict[int, str]]:
    """`user_org_ids_by_role`, and the name of each of those organisations, in the same
    one query (the intake queue names its coordinator's organisations; issue 14)."""
    out: dict[str, set[int]] = {}
    names: dict[int, str] = {}
    if not user.is_authenticated:
        return out, names
    for org_id, role, name in _ORG_ROLES(user.pk, db=Membership.objects.db):
        out.setdefault(role, set()).add(org_id)
        names[org_id] = name
    return out, names


def user_roles(user: AbstractBaseUser) -> list[str]:
    """`citizen` for everyone signed in, plus each membership role, plus `admin`."""
    if not user.is_authenticated:
        return []
    roles = ["citizen"]
    roles += sorted(set(_active_memberships(user).values_list("role", flat=True)))
    if user.is_superuser:
        roles.append("admin")
    return roles


def user_primary_organisation(user: AbstractBaseUser) -> Organisation | None:
    if not user.is_authenticated:
        return None
    membership = _active_memberships(user).select_related("organisation").first()
    return membership.organisation if membership else None


def user_is_staff_member(user: AbstractBaseUser) -> bool:
    return user.is_authenticated and _active_memberships(user).exists()


def staff_member_ids(user_ids: Iterable[int]) -> set[int]:
    """`user_is_staff_member` of several users in one query: the ids of those who work
    for an active organisation."""
    return set(
        Membership.objects.filter(
            user_id__in=list(user_ids), is_active=True, organisation__is_active=True
        ).values_list("user_id", flat=True)
    )


def court_for_organisation(organisation: Organisation) -> Organisation | None:
    """The basic court whose jurisdiction covers where the organisation sits: the court at
    the nearest region at or above the organisation's (DESIGN.md §3)."""
    for region in organisation.region.ancestors_and_self():
        court = Organisation.objects.filter(
            kind=Organisation.Kind.COURT, region=region, is_active=True
        ).first()
        if court is not None:
            return court
    return None


def disputes_visible_to(
    user: AbstractBaseUser, *, by_role: dict[str, set[int]] | None = None
) -> QuerySet[Dispute]:
    """A party, its mediator, its organisation's staff, and the court of a confirmation
    request about it see a dispute; a superuser sees all. `by_role`: the user's
    organisations by role (user_org_ids_by_role) when the caller read them already."""
    # The region (its full name is stored on it), the organisation and the mediator's
    # profile (for their name) come in the same query: a list must not query per row, and
    # joins the region table once (issue 14).
    base = Dispute.objects.select_related("region", "organisation", "mediator__profile")
    if not user.is_authenticated:
        return base.none()
    if user.is_superuser:
        return base.all()
    by_role = user_org_ids_by_role(user) if by_role is None else by_role
    # A centre's reception sees the centre's cases: it hands them between windows.
    staff_orgs = (
        by_role.get(Role.COORDINATOR, set())
        | by_role.get(Role.MEDIATOR, set())
        | by_role.get(Role.RECEPTION, set())
    )
    # The parties by a subquery, not a join: a join repeats a case per party and would
    # need a DISTINCT, which sorts every visible case before the first page (issue 14).
    as_party = Party.objects.filter(user=user).order_by().values("dispute_id")
    condition = Q(pk__in=as_party) | Q(mediator=user) | Q(organisation_id__in=staff_orgs)
    if Role.GRID_WORKER in by_role or Role.RECEPTION in by_role:
        # Staff who filed for someone else follow what they filed (issue 10).
        condition |= Q(filed_by=user)
    # Other apps widen it (a court sees the cases whose confirmation is before it); their
    # rules are single-valued or subqueries too, so no row repeats.
    extra = composition.extra_access(user, by_role)
    if extra is not None:
        condition |= extra
    return base.filter(condition)


def parties_in_order() -> Prefetch:
    """A case's parties in their default order (role, position), without the join that
    Party's default ordering ("dispute" first, that is the case's own ordering) makes:
    within one case that key is the same for every party (issue 14)."""
    return Prefetch("parties", queryset=Party.objects.order_by("role", "position", "pk"))


class JSONList(Aggregate):
    """The JSON array of an expression over a group's rows: SQLite's json_group_array,
    PostgreSQL's jsonb_agg (in no particular order: the reader sorts)."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, function="JSONB_AGG", **extra)


# A list item's party, as `dispute_list_columns` reads it: what the item shows, and what
# the actions and the filer's invitation link ask (user, e-mail).
LIST_PARTY = ("pk", "role", "kind", "position", "name", "accepted", "user_id", "email")

# The columns of a case that the API list's item shows or its actions ask, each read
# with the case's row in one query (issue 14): the region's code and stored full name,
# the organisation's name (and its region and kind, for escalation), the mediator's
# names (odr.people.display_name).
LIST_COLUMNS = (
    "case_number",
    "status",
    "category",
    "title",
    "description",
    "request",
    "claim_amount",
    "region__code",
    "region__full_name",
    "organisation_id",
    "organisation__name",
    "organisation__region_id",
    "organisation__kind",
    "mediator_id",
    "mediator__email",
    "mediator__username",
    "mediator__profile__real_name",
    "filed_by_id",
    "mediation_deadline",
    "channel",
    "created_at",
)


def dispute_list_expressions() -> dict[str, Any]:
    """The API list's `party_rows` column: each case's parties as one JSON array of
    LIST_PARTY arrays, read with the case's row by a correlated subquery (so for the
    page's rows only), instead of a prefetch that builds a model per party."""
    return {"party_rows": _parties_json(LIST_PARTY)}


@functools.cache
def _parties_json(columns: tuple[str, ...]) -> Subquery:
    """Each case's parties' `columns` as one JSON array of arrays, a correlated subquery
    on the case's pk. Built once per process (issue 14: building it cost a list page as
    much CPU as reading its rows); a query that uses it resolves a copy of it, so the
    one built is never changed."""
    parties = (
        Party.objects.filter(dispute_id=OuterRef("pk"))
        .order_by()
        .values("dispute_id")
        .annotate(rows=JSONList(JSONArray(*columns)))
        .values("rows")
    )
    return Subquery(parties, output_field=JSONField())


# Each list column's SQL, compiled once: name and database -> (the expression, its SQL).
_precompiled: dict[tuple[str, str], tuple[Any, RawSQL]] = {}


def precompiled(expressions: Mapping[str, Any], *, db: str) -> dict[str, Any]:
    """`expressions` (columns of a list of cases: correlated subqueries on the case's
    `pk`), each as its SQL, compiled once per process and database (issue 14: resolving
    and compiling three of them cost the API list as much CPU as reading its page). The
    SQL names the case's row as the top of a query of disputes does ("odr_dispute"):
    for a list's own query, not for one nested in another."""
    out = {}
    for name, expression in expressions.items():
        found = _precompiled.get((name, db))
        if found is None or found[0] is not expression:
            query = Dispute.objects.values(**{name: expression}).query
            sql, params = query.get_compiler(db).compile(query.annotations[name])
            raw = RawSQL(sql, tuple(params), output_field=expression.output_field)
            found = _precompiled[(name, db)] = (expression, raw)
        out[name] = found[1]
    return out


def list_parties(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The parties of a row read with `dispute_list_expressions`, in their model's order
    (role, position, id), `accepted` a boolean or None on every database (SQLite's JSON
    has 1 and 0)."""
    parties = [dict(zip(LIST_PARTY, p, strict=True)) for p in row["party_rows"] or ()]
    for party in parties:
        if party["accepted"] is not None:
            party["accepted"] = bool(party["accepted"])
    parties.sort(key=lambda p: (p["role"], p["position"], p["pk"]))
    return parties


# A party as the intake rules read it of a case on a list (whether the reader is one;
# whom the case may not be given to): `party_keys_expressions` reads them with the row.
PARTY_KEYS = ("pk", "role", "position", "user_id")


def party_keys_expressions() -> dict[str, Any]:
    """The `party_keys` column of a list's rows: each case's parties as one JSON array of
    PARTY_KEYS arrays, read with the case's row by a correlated subquery (for the page's
    rows only; issue 14: the intake queue read them in a query of their own)."""
    return {"party_keys": _parties_json(PARTY_KEYS)}


def with_listed_parties(dispute: Dispute, row: dict[str, Any]) -> None:
    """Leaves the parties of `row` (read with `party_keys_expressions`), in their model's
    order (role, position, id), where `dispute.parties.all()` finds them, as a prefetch
    leaves them: what the state machine's rules ask of a case on a list, without a
    query."""
    keys = sorted(row["party_keys"] or (), key=lambda p: (p[1], p[2], p[0]))
    members = QuerySet(model=Party, query=_NO_PARTIES.query)
    members._result_cache = [
        _KEYS_PARTY(id=pk, dispute_id=dispute.pk, role=role, position=position, user_id=user)
        for pk, role, position, user in keys
    ]
    members._prefetch_done = True
    for party in members._result_cache:
        Party.dispute.field.set_cached_value(party, dispute)
    dispute._prefetched_objects_cache = {"parties": members}


class Partial:
    """Builds `model` instances with only `columns` (attnames), the others deferred, as a
    read of some columns leaves them (`Model.from_db`), without the model's constructor:
    its keyword form works out every other field's default, and even its positional
    form walks every field; on a list page that was half the CPU (issue 14). A model
    someone listens to the construction of (pre_init, post_init) is built by from_db.
    `db`: the database the instances say they came from (`from_db`'s first argument)."""

    def __init__(self, model: type[Any], *columns: str, db: str | None = None) -> None:
        self.model = model
        self.db = db
        # from_db takes the values in the model's own order of its fields.
        self.order = tuple(f.attname for f in model._meta.concrete_fields if f.attname in columns)
        self.names = frozenset(columns)

    def __call__(self, **values: Any) -> Any:
        # No receiver at all (the usual case) is a list's length: asking the signals by
        # sender, twice per instance, cost a list page of fifty rows a few percent.
        if (pre_init.receivers or post_init.receivers) and (
            pre_init.has_listeners(self.model) or post_init.has_listeners(self.model)
        ):
            return self.model.from_db(self.db, self.names, [values[name] for name in self.order])
        instance = self.model.__new__(self.model)
        # What from_db leaves: the columns read in the instance's dict (a field missing
        # from it is deferred), and a state that says the row exists.
        instance.__dict__.update(values)
        instance._state = ModelState()
        instance._state.adding = False
        instance._state.db = self.db
        return instance


@functools.cache
def partial_of(model: type[Any], columns: tuple[str, ...], db: str | None = None) -> Partial:
    """One `Partial` per model, columns and database, made once per process."""
    return Partial(model, *columns, db=db)


_ROW_DISPUTE = Partial(
    Dispute, "id", "status", "category", "organisation_id", "mediator_id", "filed_by_id"
)
_ROW_ORGANISATION = Partial(Organisation, "id", "name", "region_id", "kind")
_ROW_PARTY = Partial(Party, "id", "dispute_id", "role", "user_id")
_KEYS_PARTY = Partial(Party, "id", "dispute_id", "role", "position", "user_id")
# The empty query of the parties a list leaves on its cases (never changed in place: a
# queryset clones it to filter, so a filter of them finds nothing rather than another
# case's parties).
_NO_PARTIES = Party.objects.none()


def dispute_of_row(
    row: dict[str, Any],
    parties: list[dict[str, Any]],
    organisations: dict[int, Organisation],
    no_parties: QuerySet[Party],
) -> Dispute:
    """The case of a list row, for its state machine's questions (odr.transitions): the
    fields they read, its parties (role, account) and its organisation (region, kind),
    without a query. `organisations` shares one object per organisation on a page;
    `no_parties` is `Party.objects.none()`, read once for the page."""
    dispute = _ROW_DISPUTE(
        id=row["pk"],
        status=row["status"],
        category=row["category"],
        organisation_id=row["organisation_id"],
        mediator_id=row["mediator_id"],
        filed_by_id=row["filed_by_id"],
    )
    org_id = row["organisation_id"]
    if org_id is not None:
        if org_id not in organisations:
            organisations[org_id] = _ROW_ORGANISATION(
                id=org_id,
                name=row["organisation__name"],
                region_id=row["organisation__region_id"],
                kind=row["organisation__kind"],
            )
        dispute.organisation = organisations[org_id]
    # As a prefetch leaves them: `dispute.parties.all()` answers this list, which is all
    # the machine's rules ask. Its query is the empty one (shared, never changed in
    # place: a queryset clones it to filter), so a filter of it finds nothing rather
    # than another case's parties.
    members = QuerySet(model=Party, query=no_parties.query)
    members._result_cache = [
        _ROW_PARTY(id=p["pk"], dispute_id=row["pk"], role=p["role"], user_id=p["user_id"])
        for p in parties
    ]
    members._prefetch_done = True
    dispute._prefetched_objects_cache = {"parties": members}
    return dispute


def open_invitations_by_party(party_ids: list[int]) -> dict[int, Invitation]:
    """The unused invitation of each of these parties (one each at most), in one query."""
    if not party_ids:
        return {}
    invitations = Invitation.objects.filter(party_id__in=party_ids, used_at__isnull=True)
    return {i.party_id: i for i in invitations}


def dispute_get_for(*, user: AbstractBaseUser, dispute_id: int) -> Dispute:
    """The dispute if the user may see it, else NotFound (never 403: ids cannot be probed)."""
    dispute = (
        disputes_visible_to(user)
        .prefetch_related("parties", "parties__user")
        .filter(pk=dispute_id)
        .first()
    )
    if dispute is None:
        raise NotFound()
    return dispute


def party_of(dispute: Dispute, user: AbstractBaseUser) -> Party | None:
    if not user.is_authenticated:
        return None
    return next((p for p in dispute.parties.all() if p.user_id == user.pk), None)


def is_mediator_of(dispute: Dispute, user: AbstractBaseUser) -> bool:
    return user.is_authenticated and dispute.mediator_id == user.pk


def mediators_with_load(organisation: Organisation) -> list[tuple[AbstractBaseUser, int]]:
    """The organisation's mediators with how many open cases each carries now."""
    return mediators_with_load_in([organisation.pk]).get(organisation.pk, [])


def mediators_with_load_in(
    organisation_ids: Iterable[int],
) -> dict[int, list[tuple[AbstractBaseUser, int]]]:
    """`mediators_with_load` of several organisations in one query (the intake queue of a
    coordinator of several), by organisation id; the least loaded first. A load counts
    the mediator's cases in mediation, in any organisation."""
    memberships = _mediators_by_load(organisation_ids).select_related("user", "user__profile")
    out: dict[int, list[tuple[AbstractBaseUser, int]]] = {}
    for m in memberships:
        out.setdefault(m.organisation_id, []).append((m.user, m.load))
    return out


def _mediators_by_load(organisation_ids: Iterable[int]) -> QuerySet[Membership]:
    """The organisations' active mediators, the least loaded first (`load`: their cases
    in mediation, in any organisation)."""
    in_mediation = (
        Dispute.objects.filter(mediator_id=OuterRef("user_id"), status=Dispute.Status.IN_MEDIATION)
        .order_by()
        .values("mediator_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Membership.objects.filter(
            organisation_id__in=list(organisation_ids), role=Role.MEDIATOR, is_active=True
        )
        .annotate(load=Coalesce(Subquery(in_mediation), 0))
        .order_by("load", "user__email", "pk")
    )


def mediator_names_with_load_in(organisation_ids: Iterable[int]) -> dict[int, list[MediatorLoad]]:
    """`mediators_with_load_in` as a list page shows it: each mediator's id, name
    (people.display_name) and load, in the same order, read as plain values in one
    query, without a user and a profile made for each (the intake queue, issue 14).

    The query is `_mediators_by_load`'s, written out: built through the ORM (a
    subquery resolved, a dozen clones of the query) and compiled, it cost the intake
    queue more CPU than any other of its reads. test_list_page_html holds the two to
    the same answer."""
    ids = sorted(set(organisation_ids))
    if not ids:
        return {}
    user_model = get_user_model()
    quote = connection.ops.quote_name

    def column(model: type[Any], name: str) -> str:
        return quote(model._meta.get_field(name).column)

    membership, dispute = quote(Membership._meta.db_table), quote(Dispute._meta.db_table)
    user, profile = quote(user_model._meta.db_table), quote(Profile._meta.db_table)
    user_pk = quote(user_model._meta.pk.column)
    email = column(user_model, user_model.get_email_field_name())
    login = column(user_model, user_model.USERNAME_FIELD)
    sql = f"""
        SELECT m.{column(Membership, "organisation")}, m.{column(Membership, "user")},
            p.{column(Profile, "real_name")}, u.{email}, u.{login},
            (SELECT COUNT(*) FROM {dispute} d
             WHERE d.{column(Dispute, "mediator")} = m.{column(Membership, "user")}
             AND d.{column(Dispute, "status")} = %s) AS {quote("load")}
        FROM {membership} m
        INNER JOIN {user} u ON u.{user_pk} = m.{column(Membership, "user")}
        LEFT OUTER JOIN {profile} p ON p.{column(Profile, "user")} = u.{user_pk}
        WHERE m.{column(Membership, "organisation")} IN ({", ".join(["%s"] * len(ids))})
            AND m.{column(Membership, "role")} = %s AND m.{column(Membership, "is_active")}
        ORDER BY {quote("load")}, u.{email}, m.{quote(Membership._meta.pk.column)}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [Dispute.Status.IN_MEDIATION.value, *ids, Role.MEDIATOR.value])
        read = cursor.fetchall()
    out: dict[int, list[MediatorLoad]] = {}
    for org_id, user_id, real_name, email_address, username, load in read:
        name = people.name_from(real_name, email_address, username)
        out.setdefault(org_id, []).append(MediatorLoad(user_id, name, load))
    return out


class MediatorLoad(NamedTuple):
    user_id: int
    name: str
    load: int


def mediator_choices(dispute: Dispute) -> list[tuple[AbstractBaseUser, int]]:
    """Whom the case may be given to: its organisation's mediators, with their load, but
    never a party to it (conflict of interest, odr.transitions)."""
    if dispute.organisation is None:
        return []
    parties = party_user_ids(dispute)
    mediators = mediators_with_load(dispute.organisation)
    return [(m, load) for m, load in mediators if m.pk not in parties]


def party_user_ids(dispute: Dispute) -> set[int]:
    """The accounts that are parties to the dispute (uses the prefetched parties)."""
    return {p.user_id for p in dispute.parties.all() if p.user_id is not None}


def is_mediator_in(organisation: Organisation, user: AbstractBaseUser) -> bool:
    return organisation.pk in user_org_ids(user, Role.MEDIATOR)


def intake_queue_for(
    user: AbstractBaseUser, *, coordinator_orgs: Iterable[int] | None = None
) -> QuerySet[Dispute]:
    """What the coordinator's organisations must act on. `coordinator_orgs`: the ids of
    those organisations, when the caller read the user's memberships already."""
    if coordinator_orgs is None:
        coordinator_orgs = user_org_ids(user, Role.COORDINATOR)
    return (
        Dispute.objects.filter(
            organisation_id__in=list(coordinator_orgs),
            status__in=[
                Dispute.Status.AWAITING_INTAKE,
                Dispute.Status.IN_MEDIATION,
                Dispute.Status.FILED,
            ],
        )
        # The page names each case's mediator: their profile comes in the same query.
        .select_related("region", "mediator__profile")
        .prefetch_related(parties_in_order())
        .order_by("status", "created_at", "pk")
    )


def intake_rows(ids: list[int]) -> QuerySet[Dispute]:
    """The rows of the intake queue's pages, all sections at once (odr.pagination.
    paginate_sections): what each row shows, its region, its mediator's name, its
    parties (the conflict-of-interest checks read them)."""
    # Of the parties, only who they are: whether the coordinator is one of them, and
    # whom the case may not be given to. The case's own long texts are not shown.
    parties = Party.objects.only("id", "dispute_id", "user_id", "role", "position")
    return (
        Dispute.objects.filter(pk__in=ids)
        .select_related("region", "mediator__profile")
        .defer("description", "request")
        .prefetch_related(Prefetch("parties", queryset=parties.order_by("role", "position", "pk")))
    )


def region_chain(region_id: int) -> list[Region]:
    """The region and its ancestors, nearest first, in one query: those whose stored path
    the region's path starts with (no walk up the tree, no join per level)."""
    target = Region.objects.filter(pk=region_id).values("path")[:1]
    return list(
        Region.objects.annotate(target=Subquery(target))
        .filter(target__startswith=F("path"))
        .annotate(depth=Length("path"))
        .order_by("-depth")
    )


def regions_under(parent_code: str | None) -> QuerySet[Region]:
    if parent_code:
        return Region.objects.filter(parent__code=parent_code)
    return Region.objects.filter(parent__isnull=True)


def region_of_code(code: str) -> Region | None:
    """The region of this code, its own row only (no join of the regions above it): its
    stored `path` names them for routing (route_dispute) and its stored `full_name` names
    the place. Filing reads this (issue 14, point 4)."""
    return Region.objects.filter(code=code).order_by().first()


def route_dispute(*, region: Region, category: str) -> Organisation | None:
    """The lowest-level mediation organisation whose area covers the region and that
    handles the category: a village dispute stays in the village (DESIGN.md §2). One
    query that reads no region above this one (issue 14, point 4: filing): the active
    mediation organisations at the codes of the region's stored path, nearest region
    first, then by kind (as _first_handler orders them)."""
    codes = region.path_codes() or [region.code]
    depth = {code: len(codes) - 1 - i for i, code in enumerate(codes)}
    candidates = Organisation.objects.filter(
        region__code__in=codes, is_active=True, kind__in=list(_KIND_RANK)
    ).annotate(routed_region_code=F("region__code"))
    ordered = sorted(
        candidates, key=lambda o: (depth[o.routed_region_code], _KIND_RANK[o.kind], o.pk)
    )
    return next((o for o in ordered if o.handles(category)), None)


def organisation_above(
    organisation: Organisation,
    category: str,
    *,
    chain: list[Region] | None = None,
    candidates: list[Organisation] | None = None,
) -> Organisation | None:
    """The organisation one level up from this one for escalation: the nearest handler
    above the organisation's own region. A list passes the region's `chain` and the
    `candidates` (handlers_in(chain)) it read once for all its cases of this
    organisation, whatever their categories (issue 14)."""
    if chain is None:
        chain = region_chain(organisation.region_id)
    # Organisations at the same region but of a higher kind come first (a county centre
    # above an industry body of the same county), then the regions above.
    return _first_handler(chain, category, exclude=organisation, candidates=candidates)


def handlers_in(chain: list[Region]) -> list[Organisation]:
    """The active mediation organisations at the regions of `chain`, in one query."""
    return list(
        Organisation.objects.filter(
            region__in=chain, is_active=True, kind__in=list(_KIND_RANK)
        ).select_related("region")
    )


_KIND_RANK = {
    Organisation.Kind.VILLAGE_COMMITTEE: 0,
    Organisation.Kind.INDUSTRY_BODY: 1,
    Organisation.Kind.TOWNSHIP_COMMITTEE: 2,
    Organisation.Kind.COUNTY_CENTRE: 3,
}


def _first_handler(
    chain: list[Region],
    category: str,
    *,
    exclude: Organisation | None,
    candidates: list[Organisation] | None = None,
) -> Organisation | None:
    if candidates is None:
        candidates = handlers_in(chain)
    depth = {r.pk: i for i, r in enumerate(chain)}
    ordered = sorted(candidates, key=lambda o: (depth[o.region_id], _KIND_RANK[o.kind], o.pk))
    if exclude is not None:
        start = (depth[exclude.region_id], _KIND_RANK.get(exclude.kind, 0), exclude.pk)
        ordered = [
            o
            for o in ordered
            if (depth[o.region_id], _KIND_RANK[o.kind], o.pk) > start
            and (
                depth[o.region_id] > depth[exclude.region_id]
                or _KIND_RANK[o.kind] > _KIND_RANK.get(exclude.kind, 0)
            )
        ]
    return next((o for o in ordered if o.handles(category)), None)


# --- reads for the case page and the invitation page --------------------------------------


def dispute_timeline(dispute: Dispute) -> QuerySet[AuditEvent]:
    """The dispute's audit events, oldest first: the case page's timeline."""
    return AuditEvent.objects.filter(dispute=dispute).select_related("actor", "actor__profile")


def may_read_messages(dispute: Dispute, user: AbstractBaseUser) -> bool:
    """The case's message thread is the parties' and the mediator's, read also by the
    coordinators of the organisation that handles the case, who supervise its mediation.
    Others who see the case do not read it (issue 11, M1): the court sees a case for its
    confirmation request, not what the parties wrote to their mediator; the
    organisation's other mediators and the platform's administrators neither."""
    if not user.is_authenticated:
        return False
    if party_of(dispute, user) is not None or is_mediator_of(dispute, user):
        return True
    return dispute.organisation_id in user_org_ids(user, Role.COORDINATOR)


def dispute_messages(*, dispute: Dispute, user: AbstractBaseUser) -> QuerySet[Message]:
    """The case's message thread, if this user may read it; else nothing."""
    if not may_read_messages(dispute, user):
        return Message.objects.none()
    return Message.objects.filter(dispute=dispute).select_related("sender", "sender__profile")


def evidence_get_for(*, user: AbstractBaseUser, dispute_id: int, evidence_id: int) -> Evidence:
    """An evidence item of a dispute the user may see, else NotFound."""
    dispute = dispute_get_for(user=user, dispute_id=dispute_id)
    item = dispute.evidence.filter(pk=evidence_id).first()
    if item is None:
        raise NotFound()
    return item


def invitation_by_token(token: str) -> Invitation | None:
    """The invitation behind a link, with its case, or None when the link is not valid."""
    return (
        Invitation.objects.select_related("party", "party__dispute", "party__dispute__organisation")
        .filter(token=token)
        .first()
    )


def invitation_is_addressed_to(invitation: Invitation, user: AbstractBaseUser) -> bool:
    """Whether the account is the one the invitation was sent to: its e-mail, or another
    address of the account that it verified, is the invited address (case-insensitive);
    or the account's phone, proven by a texted code (Profile.phone_verified), is the
    invited mobile number. A phone merely typed into a profile does not count: anyone can
    type someone else's."""
    if not user.is_authenticated:
        return False
    invited_phone = normalise_mobile(invitation.party.phone)
    if invited_phone:
        profile = Profile.objects.filter(user=user, phone_verified=True).first()
        if profile is not None and normalise_mobile(profile.phone) == invited_phone:
            return True
    invited = (invitation.party.email or "").strip()
    if not invited:
        return False
    if (user.email or "").strip().lower() == invited.lower():
        return True
    return EmailAddress.objects.filter(user=user, email__iexact=invited, verified=True).exists()


def invitation_masked_address(invitation: Invitation) -> str:
    """Where the invitation went, masked: what another account may be shown of it."""
    party = invitation.party
    return mask_email(party.email) if party.email else mask_phone(party.phone)


def respondent_invitation(dispute: Dispute) -> Invitation | None:
    """The respondent's invitation, if one exists."""
    return Invitation.objects.filter(
        party__dispute=dispute, party__role=Party.Role.RESPONDENT
    ).first()


def users_by_id(user_ids: set[int]) -> dict[int, AbstractBaseUser]:
    """Users with their profiles (for their names), in one query."""
    users = get_user_model().objects.filter(pk__in=user_ids).select_related("profile")
    return {u.pk: u for u in users}


def organisation_names(organisation_ids: set[int]) -> dict[int, str]:
    return dict(Organisation.objects.filter(pk__in=organisation_ids).values_list("pk", "name"))


# --- the parties' particulars, agents and statements ----------------------------------------


def may_see_particulars(dispute: Dispute, user: AbstractBaseUser) -> bool:
    """Who reads each party's particulars in full (DESIGN.md §3: the originals the parties
    and the court hold name everyone fully): the parties, the mediator, the staff of the
    organisation handling the case and the court before which its confirmation is. Anyone
    else who sees the case (the platform's administrators) reads them masked."""
    if not user.is_authenticated:
        return False
    if party_of(dispute, user) is not None or is_mediator_of(dispute, user):
        return True
    by_role = user_org_ids_by_role(user)
    if dispute.organisation_id is not None and any(
        dispute.organisation_id in orgs for orgs in by_role.values()
    ):
        return True
    extra = composition.extra_access(user, by_role)
    return extra is not None and Dispute.objects.filter(extra, pk=dispute.pk).exists()


def party_get_for(
    *, user: AbstractBaseUser, dispute_id: int, party_id: int
) -> tuple[Dispute, Party]:
    """A party of a dispute the user may see, with the dispute, else NotFound."""
    dispute = dispute_get_for(user=user, dispute_id=dispute_id)
    party = next((p for p in dispute.parties.all() if p.pk == party_id), None)
    if party is None:
        raise NotFound()
    return dispute, party


def agent_get_for(
    *, user: AbstractBaseUser, dispute_id: int, party_id: int, agent_id: int
) -> tuple[Dispute, Agent]:
    dispute, party = party_get_for(user=user, dispute_id=dispute_id, party_id=party_id)
    agent = Agent.objects.select_related("party").filter(pk=agent_id, party=party).first()
    if agent is None:
        raise NotFound()
    return dispute, agent


def attorney_document_for(
    *, user: AbstractBaseUser, dispute_id: int, party_id: int, agent_id: int
) -> Agent:
    """The power of attorney behind an agent, for those who read the particulars in full;
    to anyone else it does not exist."""
    dispute, agent = agent_get_for(
        user=user, dispute_id=dispute_id, party_id=party_id, agent_id=agent_id
    )
    if not may_see_particulars(dispute, user):
        raise NotFound()
    return agent


def agents_of(dispute: Dispute) -> QuerySet[Agent]:
    """Every agent of the dispute's parties, revoked ones too (for the record)."""
    return Agent.objects.filter(party__dispute=dispute).select_related("party")


def statements_of(dispute: Dispute) -> QuerySet[Statement]:
    """The respondents' statements, oldest first."""
    return Statement.objects.filter(dispute=dispute).select_related("party")


def party_record(party: Party, *, masked: bool) -> dict[str, Any]:
    """One party's particulars as the case page and the API show them: in full to those
    who may read them (`may_see_particulars`), masked as on public pages to anyone else.
    `lines` are the Chinese lines every document prints for the party."""
    identity = identity_of(party)
    full = not masked

    def show(value: str, mask) -> str:
        return value if full or not value else mask(value)

    return {
        "id": party.pk,
        "role": party.role,
        "kind": party.kind,
        "position": party.position,
        "name": show(party.name, mask_name),
        "accepted": party.accepted,
        "has_account": party.user_id is not None,
        "masked": masked,
        "phone": show(identity.phone, mask_phone),
        "address": identity.address if full else ("****" if identity.address else ""),
        "id_number": show(identity.id_number, mask_id_number),
        "sex": identity.sex,
        "birth_date": identity.birth_date if full else identity.birth_date[:4],
        "ethnicity": identity.ethnicity,
        "occupation": identity.occupation,
        "credit_code": identity.credit_code,
        "representative": show(identity.representative, mask_name),
        "representative_title": identity.representative_title,
        "missing": missing_particulars(identity),
        "lines": describe(identity, masked=masked),
    }


def agent_record(agent: Agent, *, masked: bool) -> dict[str, Any]:
    return {
        "id": agent.pk,
        "party": agent.party_id,
        "name": mask_name(agent.name) if masked else agent.name,
        "relation": agent.relation,
        "scope": agent.scope,
        "powers": "" if masked else agent.powers,
        "phone": mask_phone(agent.phone) if masked and agent.phone else agent.phone,
        "id_number": mask_id_number(agent.id_number) if masked else agent.id_number,
        "filename": agent.filename,
        "sha256": agent.sha256,
        "created_at": agent.created_at,
        "revoked_at": agent.revoked_at,
    }


# --- the one-stop centre and the grid (issue 10) ------------------------------------------


def reception_centre_ids(user: AbstractBaseUser) -> set[int]:
    return user_org_ids(user, Role.RECEPTION)


def windows_of(organisation_id: int | None) -> QuerySet[Window]:
    """A centre's active windows, in the order its hall numbers them."""
    if organisation_id is None:
        return Window.objects.none()
    return Window.objects.filter(organisation_id=organisation_id, is_active=True)


def window_for(*, user: AbstractBaseUser, window_id: int) -> Window:
    """One of the windows of the user's own centres (reception), else NotFound."""
    window = Window.objects.filter(
        pk=window_id, is_active=True, organisation_id__in=reception_centre_ids(user)
    ).first()
    if window is None:
        raise NotFound()
    return window


def visits_of(user: AbstractBaseUser) -> QuerySet[Visit]:
    """The visits registered at the user's centres (reception staff), newest first."""
    return Visit.objects.filter(organisation_id__in=reception_centre_ids(user)).select_related(
        "dispute", "staff__profile"
    )


def visit_for(*, user: AbstractBaseUser, visit_id: int) -> Visit:
    visit = visits_of(user).filter(pk=visit_id).first()
    if visit is None:
        raise NotFound()
    return visit


def grids_of(user: AbstractBaseUser) -> QuerySet[Grid]:
    if not user.is_authenticated:
        return Grid.objects.none()
    return Grid.objects.filter(workers=user).select_related("village")


def grid_reports_of(user: AbstractBaseUser) -> QuerySet[GridReport]:
    """The reports of the user's grids (their grid worker reads them back)."""
    return GridReport.objects.filter(grid__in=grids_of(user)).select_related("dispute", "grid")


def duplicate_links_of(dispute: Dispute) -> list[DuplicateLink]:
    """The open cases this one may repeat, and the later ones that may repeat it."""
    return list(
        DuplicateLink.objects.filter(Q(dispute=dispute) | Q(original=dispute)).select_related(
            "dispute", "original", "decided_by__profile"
        )
    )
