"""Dispute categories with the plain-language hint a citizen sees when filing."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    NEIGHBOUR = "neighbour", _("Neighbour dispute")
    FAMILY = "family", _("Family and maintenance")
    LAND = "land", _("Land contracting and homesteads")
    DEBT = "debt", _("Private loans and debts")
    CONTRACT = "contract", _("Contracts and sales")
    LABOUR = "labour", _("Wages and labour services")
    CONSUMER = "consumer", _("Consumer complaint")
    PROPERTY = "property", _("Property management")
    TRAFFIC = "traffic", _("Traffic accident compensation")
    MEDICAL = "medical", _("Medical dispute")
    DAMAGE = "damage", _("Damage and injury compensation")
    OTHER = "other", _("Other civil dispute")


CATEGORY_HINTS: dict[str, str] = {
    Category.NEIGHBOUR: _("Boundaries, noise, water, light, shared paths between neighbours."),
    Category.FAMILY: _(
        "Support for parents or children, family property, inheritance. Divorce, adoption and "
        "whether a marriage is valid cannot be settled by mediation alone."
    ),
    Category.LAND: _("Contracted farmland, forest land, house sites, transfer of land rights."),
    Category.DEBT: _("Money lent between people and not paid back."),
    Category.CONTRACT: _(
        "Goods or work that was bought, sold or ordered and not delivered or paid."
    ),
    Category.LABOUR: _("Unpaid wages for work done, injuries at work for a private employer."),
    Category.CONSUMER: _("A shop, platform or service that sold something faulty or misleading."),
    Category.PROPERTY: _("Fees, repairs and services between owners and the property company."),
    Category.TRAFFIC: _("Compensation after a road accident."),
    Category.MEDICAL: _("Disagreement with a clinic or hospital about treatment and compensation."),
    Category.DAMAGE: _("Someone damaged your things or hurt you and compensation is disputed."),
    Category.OTHER: _("Anything else between citizens, companies or organisations."),
}

# Matters that cannot be mediated into a confirmable agreement (DESIGN.md §3).
NON_CONFIRMABLE_MATTERS = ("personal status", "adoption", "marriage validity")
