"""The report's words in French (the CGV's language, the default) and English, and how dates,
percentages and amounts are written in each."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dagsync.report.model import Mark, Month

LANGS = ("fr", "en")

_MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip
_WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Rapport mensuel d'infogérance",
        "article": "CGV article",
        "not_monitored": "Non supervisé",
        "availability": "Disponibilité",
        "backups": "Sauvegardes",
        "mail": "Messagerie : espace utilisé",
        "changes": "Modifications appliquées",
        "contract": "Contrat",
        "advice": "Conseils pour le mois prochain",
        "server": "Serveur",
        "month_uptime": "Disponibilité du mois",
        "day": "Jour",
        "uptime": "Disponibilité",
        "uptime_axis": "Disponibilité (%)",
        "chart_of": "Graphique",
        "table_of": "Tableau des valeurs",
        "schedule": "Horaire",
        "frequency": "Fréquence",
        "retention": "Rétention (jours)",
        "listing_error": "Archives illisibles",
        "date": "Date",
        "used": "Utilisé (Go)",
        "usage": "Utilisé",
        "quota": "Quota inclus",
        "limit": "Limite maximale",
        "warned": "Avertissement de dépassement",
        "billed": "Dépassement facturé",
        "no_overage": "Aucun dépassement facturé ce mois-ci",
        "hard_limit": "Limite maximale atteinte : les messages entrants sont refusés",
        "slices": "tranche(s)",
        "commit": "Commit",
        "summary": "Objet",
        "request": "Demande",
        "reviewer": "Validé par",
        "result": "Résultat",
        "internal": "interne",
        "not_recorded": "non enregistré",
        "no_change": "Aucune modification appliquée ce mois-ci.",
        "price": "Prix mensuel en vigueur",
        "anniversary": "Prochaine date anniversaire",
        "notice": "Dernier jour pour recevoir une résiliation",
        "price_notice": "Changement de prix notifié",
        "none": "aucun",
        "freeze_intro": "Aucune mise en production n'est conseillée les veilles de week-end "
        "et de jours fériés :",
        "eve_of": "veille :",
        "weekend": "week-end",
        "gb": "Go",
        "eur_ht": "€ HT",
        "effective": "effectif le",
        "termination_until": "résiliation possible jusqu'au",
        "generated": "Établi le",
        "daily": "quotidienne",
        "why_not_read": "sources non consultées pour ce rapport",
        "why_unreachable": "la source n'a pas pu être consultée",
        "why_no_source": "aucune mesure pour ce client",
        "why_not_subscribed": "non prévu au contrat",
        "why_unreadable": "la source n'a pas donné de réponse exploitable",
        "weekly": "hebdomadaire",
    },
    "en": {
        "title": "Monthly managed-hosting report",
        "article": "Terms article",
        "not_monitored": "Not monitored",
        "availability": "Availability",
        "backups": "Backups",
        "mail": "Mail storage",
        "changes": "Applied changes",
        "contract": "Contract",
        "advice": "Advice for next month",
        "server": "Server",
        "month_uptime": "Month's availability",
        "day": "Day",
        "uptime": "Availability",
        "uptime_axis": "Availability (%)",
        "chart_of": "Chart",
        "table_of": "Table of values",
        "schedule": "Schedule",
        "frequency": "Frequency",
        "retention": "Retention (days)",
        "listing_error": "Archives unreadable",
        "date": "Date",
        "used": "Used (GB)",
        "usage": "Used",
        "quota": "Included quota",
        "limit": "Hard limit",
        "warned": "Over-quota warning",
        "billed": "Overage billed",
        "no_overage": "No overage billed this month",
        "hard_limit": "Hard limit reached: incoming mail is refused",
        "slices": "slice(s)",
        "commit": "Commit",
        "summary": "Summary",
        "request": "Request",
        "reviewer": "Reviewed by",
        "result": "Result",
        "internal": "internal",
        "not_recorded": "not recorded",
        "no_change": "No change applied this month.",
        "price": "Monthly price in force",
        "anniversary": "Next anniversary",
        "notice": "Last day to receive a termination",
        "price_notice": "Notified price change",
        "none": "none",
        "freeze_intro": "No production release is advised on the eves of weekends and "
        "public holidays:",
        "eve_of": "eve of",
        "weekend": "weekend",
        "gb": "GB",
        "eur_ht": "EUR excl. VAT",
        "effective": "effective on",
        "termination_until": "termination possible until",
        "generated": "Generated on",
        "daily": "daily",
        "why_not_read": "sources not read for this report",
        "why_unreachable": "the source could not be reached",
        "why_no_source": "nothing measured for this client",
        "why_not_subscribed": "not part of the contract",
        "why_unreadable": "the source gave no usable answer",
        "weekly": "weekly",
    },
}

MARKS: dict[str, dict[Mark, tuple[str, str]]] = {  # (symbol, words): never colour alone
    "fr": {
        Mark.ON_TIME: ("✓", "à l'heure"),
        Mark.LATE: ("!", "en retard"),
        Mark.MISSING: ("✗", "manquante"),
        Mark.NOT_DUE: ("·", "non prévue"),
        Mark.UNKNOWN: ("?", "hors rétention"),
    },
    "en": {
        Mark.ON_TIME: ("✓", "on time"),
        Mark.LATE: ("!", "late"),
        Mark.MISSING: ("✗", "missing"),
        Mark.NOT_DUE: ("·", "not due"),
        Mark.UNKNOWN: ("?", "beyond retention"),
    },
}


def long_date(day: dt.date, lang: str) -> str:
    """``mardi 1 décembre 2026`` / ``Tuesday 1 December 2026``."""
    first = "1er" if lang == "fr" and day.day == 1 else str(day.day)
    month = _MONTHS[lang][day.month - 1]
    return f"{_WEEKDAYS[lang][day.weekday()]} {first} {month} {day.year}"


def short_date(day: dt.date, lang: str) -> str:
    return f"{day:%d/%m/%Y}" if lang == "fr" else day.isoformat()


def month_name(month: Month, lang: str) -> str:
    return f"{_MONTHS[lang][month.month - 1]} {month.year}"


def decimal(value: Decimal | float, lang: str, places: int = 2) -> str:
    text = f"{value:,.{places}f}"
    if lang == "fr":
        return text.replace(",", "\u202f").replace(".", ",")
    return text


def percent(ratio: float | None, lang: str) -> str:
    return (
        "—"
        if ratio is None
        else decimal(ratio * 100, lang, 2) + ("\u00a0%" if lang == "fr" else "%")
    )


def euros(amount: Decimal, lang: str) -> str:
    return decimal(amount, lang) + "\u00a0" + LABELS[lang]["eur_ht"]


HOLIDAYS_FR = {
    "All Saints' Day": "la Toussaint",
    "Armistice Day": "l'Armistice (11 novembre)",
    "Ascension Day": "l'Ascension",
    "Assumption Day": "l'Assomption",
    "Christmas Day": "Noël",
    "Easter Monday": "lundi de Pâques",
    "Good Friday": "Vendredi saint",
    "Labor Day": "la fête du Travail",
    "National Day": "la fête nationale",
    "New Year's Day": "jour de l'An",
    "Pentecost Monday": "lundi de Pentecôte",
    "Saint Stephen's Day": "la Saint-Étienne",
    "Victory Day": "la Victoire 1945",
}


def holiday(name: str, lang: str) -> str:
    """A public holiday's name (the calendar's are English) in ``lang``."""
    return HOLIDAYS_FR.get(name, name) if lang == "fr" else name
