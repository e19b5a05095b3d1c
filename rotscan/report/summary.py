"""The numbers of the review report, computed from a :class:`~rotscan.models.ScanResult`.

Pure functions, no I/O and no clock: the same result always gives the same summary, so a report
re-rendered from ``findings.json`` says exactly what the scan's report said.

Counting rules, stated once so the report can repeat them:

- *Bytes scanned* is the sum of the datasets' bytes. Findings may name things that are not
  datasets (a junk file, a debris directory), so ROT bytes are summed from the findings.
- *Kept* findings (a reviewer's ``keep`` decision that still applies, ``Finding.kept``) stay in
  the findings but are not ROT: they are left out of every ROT figure (totals, categories, kinds,
  actions, cost, charts, history) and counted on their own (``kept_findings``/``kept_bytes``).
  :func:`rot_findings` is the one place that says which findings are ROT.
- *ROT bytes* count every byte once. Findings about the same uri count once (the one claiming the
  most bytes). A finding whose uri lies inside another finding's uri (``outer + "/"`` prefix) is
  covered by the outer one and adds nothing. A finding that claims no bytes covers nothing.
  The bytes of a covering finding are attributed to its category, kind and action.
- *Cost* uses decimal gigabytes: GB = 10^9 bytes, as storage is billed. Each counted finding is
  priced at the storage class of its uri (:class:`Pricing`: the longest ``[report.storage_classes]``
  prefix it lies under, else the default ``storage_class``).
- Ages are measured against the scan's ``as_of``, never the wall clock.
- A kept directory covers nothing: the debris inside it still counts (it is not kept).
- *Owners*: a finding without an owner is ``unowned`` (:data:`UNOWNED`); per-owner bytes follow the
  same de-duplication, attributed to the owner of the covering finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rotscan.core.formatting import format_count

# Pricing lives in rotscan.core.pricing (cleanup prices archives with it); re-exported here
from rotscan.core.pricing import BYTES_PER_GB as BYTES_PER_GB
from rotscan.core.pricing import DEFAULT_PRICES as DEFAULT_PRICES
from rotscan.core.pricing import Pricing as Pricing
from rotscan.models import CATEGORIES, Finding, ScanResult, UsageSource, iso

HIGH_CONFIDENCE = 0.9

UNOWNED = "unowned"  # how a finding or dataset without an owner is shown and selected

USAGE_UNKNOWN = "usage unknown — no access logs or lineage were given, so nothing is claimed about reads"


@dataclass(frozen=True)
class CategoryTotal:
    """ROT of one category: how many findings, how many (de-duplicated) bytes, share of the lake."""

    category: str
    findings: int
    bytes: int
    share: float | None  # fraction of bytes scanned; None when nothing was scanned


@dataclass(frozen=True)
class GroupTotal:
    """Findings of one kind or action: count of all findings and their de-duplicated bytes."""

    name: str
    findings: int
    bytes: int


@dataclass(frozen=True)
class OwnerTotal:
    """ROT of one owner: counted (not kept) findings, their de-duplicated bytes, the monthly cost of
    those bytes, and the owner's kept findings. ``owner`` None is :data:`UNOWNED`."""

    owner: str | None
    findings: int
    bytes: int
    monthly: float
    kept: int = 0

    @property
    def label(self) -> str:
        return owner_label(self.owner)


def owner_label(owner: str | None) -> str:
    return UNOWNED if owner is None else owner


def owner_matches(owner: str | None, wanted: str) -> bool:
    """``wanted`` selects ``owner``: the name itself, or ``unowned`` for no owner."""
    return owner == wanted if owner is not None else wanted == UNOWNED


@dataclass(frozen=True)
class ClassCost:
    """The ROT bytes priced at one storage class and what they cost per month."""

    storage_class: str
    price_per_gb_month: float
    bytes: int
    monthly: float


@dataclass(frozen=True)
class ReportSummary:
    datasets: int
    bytes_scanned: int
    findings: int
    rot_bytes: int
    rot_share: float | None  # rot_bytes / bytes_scanned; None when bytes_scanned is 0
    by_category: tuple[CategoryTotal, ...]  # always the three categories, in CATEGORIES order
    by_kind: tuple[GroupTotal, ...]  # most bytes first, then name
    by_action: tuple[GroupTotal, ...]  # most bytes first, then name
    high_confidence_bytes: int  # ROT bytes of counted findings with confidence >= HIGH_CONFIDENCE
    price_per_gb_month: float
    currency: str
    monthly_savings: float
    warnings: int
    usage_sources: tuple[UsageSource, ...]
    usage_events: int
    usage_statement: str
    storage_class: str = "standard"  # the default class, priced at price_per_gb_month
    cost_by_class: tuple[ClassCost, ...] = ()  # most cost first; every class holding ROT bytes
    roots: tuple[str, ...] = field(default=())
    # Findings kept by a reviewer's decision: in findings.json, not in any ROT figure above
    kept_findings: int = 0
    kept_bytes: int = 0  # de-duplicated like rot_bytes
    # reviewers' decisions beyond keep (Finding.decision), and owners
    approved: int = 0  # findings approved for cleanup by a decision that applies
    stale: int = 0  # decisions not applied: the data changed since they were made
    expired: int = 0  # keep decisions not applied: past their until-date
    by_owner: tuple[OwnerTotal, ...] = ()  # most bytes first; unowned included
    # what the catalog read covered (scan.catalog), in one sentence; "" when no catalog was configured
    catalog_statement: str = ""
    catalog_complete: bool = True

    @property
    def priced_by_class(self) -> bool:
        """True when some ROT bytes are priced at another class than the default."""
        return any(c.storage_class != self.storage_class for c in self.cost_by_class)

    @property
    def usage_known(self) -> bool:
        return bool(self.usage_sources)

    def category(self, name: str) -> CategoryTotal:
        for total in self.by_category:
            if total.category == name:
                return total
        raise KeyError(name)


def _norm(uri: str) -> str:
    return uri.rstrip("/") or uri


def _ancestors(uri: str) -> Iterable[str]:
    """Every ``p`` such that ``uri`` starts with ``p + "/"`` (longest first)."""
    cut = uri.rfind("/")
    while cut > 0:
        yield uri[:cut]
        cut = uri.rfind("/", 0, cut)


def rot_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """The findings that are ROT: all but the kept ones (a ``keep`` decision that still applies;
    a stale or expired keep does not keep). In input order."""
    return tuple(f for f in findings if not f.kept)


def kept_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """The findings a reviewer decided to keep (and whose decision still applies), in input order."""
    return tuple(f for f in findings if f.kept)


def counted_findings(findings: Sequence[Finding], *, kept: bool = False) -> tuple[Finding, ...]:
    """The findings whose bytes make up the ROT total, so that no byte is counted twice.

    Only ROT findings (:func:`rot_findings`) count; with ``kept=True``, only the kept ones instead
    (for the bytes kept by decisions). Per uri the finding claiming most bytes stands for that uri
    (ties: the first one). Of those, a finding inside the directory of another one that claims
    bytes is covered by it and dropped. Returned in input order.
    """
    findings = kept_findings(findings) if kept else rot_findings(findings)
    best: dict[str, Finding] = {}
    for f in findings:
        key = _norm(f.uri)
        if key not in best or f.reclaimable_bytes > best[key].reclaimable_bytes:
            best[key] = f
    claiming = {key for key, f in best.items() if f.reclaimable_bytes > 0}
    standing = {
        key
        for key, f in best.items()
        if f.reclaimable_bytes > 0 and not any(a in claiming for a in _ancestors(key))
    }
    return tuple(f for f in findings if _norm(f.uri) in standing and best[_norm(f.uri)] is f)


def rot_bytes(findings: Sequence[Finding]) -> int:
    return sum(f.reclaimable_bytes for f in counted_findings(findings))


def monthly_cost(nbytes: int, price_per_gb_month: float) -> float:
    """Storage cost per month of ``nbytes`` at ``price_per_gb_month`` (GB = 10^9 bytes)."""
    return nbytes / BYTES_PER_GB * price_per_gb_month


def _share(part: int, whole: int) -> float | None:
    return None if whole <= 0 else part / whole


def _groups(findings: Sequence[Finding], counted: Sequence[Finding], attr: str) -> tuple[GroupTotal, ...]:
    counts = Counter(getattr(f, attr) for f in findings)
    nbytes: Counter[str] = Counter()
    for f in counted:
        nbytes[getattr(f, attr)] += f.reclaimable_bytes
    totals = [GroupTotal(name, counts[name], nbytes[name]) for name in counts]
    return tuple(sorted(totals, key=lambda g: (-g.bytes, -g.findings, g.name)))


def usage_statement(sources: Sequence[UsageSource]) -> str:
    """One plain sentence on what the scan knew about reads."""
    if not sources:
        return USAGE_UNKNOWN
    kinds = sorted({s.kind for s in sources})
    events = sum(s.events for s in sources)
    starts = [s.start for s in sources if s.start is not None]
    ends = [s.end for s in sources if s.end is not None]
    span = ""
    if starts and ends:
        span = f", covering {format_date(min(starts))} to {format_date(max(ends))}"
    noun = "source" if len(sources) == 1 else "sources"
    return (
        f"usage from {format_count(len(sources))} {noun} ({', '.join(kinds)}): "
        f"{format_count(events)} {'event' if events == 1 else 'events'}{span}; "
        "reads outside these sources are not seen"
    )


def _n(value: Any, noun: str) -> str:
    n = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return f"{format_count(n)} {noun}{'' if n == 1 else 's'}"


def catalog_statement(catalog: Mapping[str, Any] | None) -> str:
    """One plain sentence on what the scan's catalog read covered (``scan.catalog``); "" without a
    catalog. A catalog that could not be read says registration is unknown, never "unregistered"."""
    if not catalog:
        return ""
    if not catalog.get("read") or catalog.get("tables") is None:
        return str(catalog.get("note") or "the catalog could not be read: registration is unknown")
    dbs = catalog.get("databases") or []
    where = f" in {_n(len(dbs), 'database')} ({', '.join(map(str, dbs))})" if dbs else ""
    text = (f"{_n(catalog.get('tables'), 'table')}{where} from {catalog.get('source') or 'the catalog'}; "
            f"{format_count(int(catalog.get('tables_in_roots') or 0))} located in the scanned roots; "
            f"{_n(catalog.get('registered_datasets'), 'dataset')} registered, "
            f"{format_count(int(catalog.get('unregistered_datasets') or 0))} in no table; "
            f"{_n(catalog.get('broken_tables'), 'broken table')}")
    outside = int(catalog.get("tables_outside_roots") or 0) + int(catalog.get("tables_partly_outside_roots") or 0)
    if outside:
        text += f"; {_n(outside, 'table')} (partly) outside the roots not judged"
    errors = catalog.get("errors") or []
    if not catalog.get("complete", True):
        text += f"; the read was incomplete ({_n(len(errors), 'error')}, see warnings): registration of the rest is unknown"
    return text


def cost_by_class(counted: Sequence[Finding], pricing: Pricing) -> tuple[ClassCost, ...]:
    nbytes: Counter[str] = Counter()
    for f in counted:
        nbytes[pricing.class_of(f.uri)] += f.reclaimable_bytes
    costs = [ClassCost(name, pricing.price(name), n, monthly_cost(n, pricing.price(name))) for name, n in nbytes.items()]
    return tuple(sorted(costs, key=lambda c: (-c.monthly, -c.bytes, c.storage_class)))


def owner_totals(findings: Sequence[Finding], counted: Sequence[Finding], pricing: Pricing) -> tuple[OwnerTotal, ...]:
    """Per owner (``None``: unowned): counted findings, their bytes and cost (each byte once, as in
    the ROT total), and kept findings. Most bytes first, then most findings, then name."""
    count: Counter[str | None] = Counter()
    kept: Counter[str | None] = Counter()
    for f in findings:
        (kept if f.kept else count)[f.owner] += 1
    nbytes: Counter[str | None] = Counter()
    cost: dict[str | None, float] = {}
    for f in counted:
        nbytes[f.owner] += f.reclaimable_bytes
        cost[f.owner] = cost.get(f.owner, 0.0) + monthly_cost(f.reclaimable_bytes, pricing.price(pricing.class_of(f.uri)))
    totals = [OwnerTotal(o, count[o], nbytes[o], cost.get(o, 0.0), kept[o]) for o in set(count) | set(kept)]
    return tuple(sorted(totals, key=lambda t: (-t.bytes, -t.findings, t.owner is None, t.owner or "")))


def summarize(result: ScanResult, *, price_per_gb_month: float | None = None, currency: str = "USD",
              pricing: Pricing | None = None) -> ReportSummary:
    """The report's numbers. Cost: ``pricing`` when given (its default class priced as it says),
    else every byte at ``price_per_gb_month``. Kept findings are counted apart (``kept_findings``,
    ``kept_bytes``), never in the ROT numbers."""
    if pricing is None:
        if price_per_gb_month is None:
            raise TypeError("summarize needs price_per_gb_month or pricing")
        pricing = Pricing.flat(price_per_gb_month)
    findings = rot_findings(result.findings)
    counted = counted_findings(findings)
    kept = kept_findings(result.findings)
    scanned = sum(d.bytes for d in result.datasets)
    total = sum(f.reclaimable_bytes for f in counted)

    cat_count = Counter(f.category for f in findings)
    cat_bytes: Counter[str] = Counter()
    for f in counted:
        cat_bytes[f.category] += f.reclaimable_bytes
    by_category = tuple(
        CategoryTotal(c, cat_count[c], cat_bytes[c], _share(cat_bytes[c], scanned)) for c in CATEGORIES
    )
    sources = result.scan.usage_sources
    costs = cost_by_class(counted, pricing)
    return ReportSummary(
        datasets=len(result.datasets),
        bytes_scanned=scanned,
        findings=len(findings),
        rot_bytes=total,
        rot_share=_share(total, scanned),
        by_category=by_category,
        by_kind=_groups(findings, counted, "kind"),
        by_action=_groups(findings, counted, "action"),
        high_confidence_bytes=sum(f.reclaimable_bytes for f in counted if f.confidence >= HIGH_CONFIDENCE),
        price_per_gb_month=pricing.price(pricing.default_class),
        currency=currency,
        monthly_savings=sum(c.monthly for c in costs),
        warnings=len(result.warnings),
        usage_sources=tuple(sources),
        usage_events=sum(s.events for s in sources),
        usage_statement=usage_statement(sources),
        storage_class=pricing.default_class,
        cost_by_class=costs,
        roots=tuple(result.scan.roots),
        kept_findings=len(kept),
        kept_bytes=sum(f.reclaimable_bytes for f in counted_findings(kept, kept=True)),
        approved=sum(f.approved for f in result.findings),
        stale=sum(f.decision is not None and f.decision.stale for f in result.findings),
        expired=sum(f.decision is not None and f.decision.expired and not f.decision.stale for f in result.findings),
        by_owner=owner_totals(result.findings, counted, pricing),
        catalog_statement=catalog_statement(result.scan.catalog),
        catalog_complete=bool((result.scan.catalog or {}).get("complete", True)),
    )


# ---------------------------------------------------------------------------------------------
# Human formatting

def format_percent(share: float | None) -> str:
    """A fraction as a percentage, one decimal; tiny non-zero shares are not rounded to 0."""
    if share is None:
        return "—"
    pct = share * 100
    if 0 < pct < 0.05:
        return "<0.1%"
    return f"{pct:,.1f}%"


def format_money(amount: float, currency: str) -> str:
    """``1,234.56 USD``; amounts under 0.10 keep two significant digits (``0.014 USD``)."""
    if 0 < amount < 0.0001:
        return f"< 0.0001 {currency}"
    if 0 < amount < 0.1:
        return f"{amount:.2g} {currency}"
    return f"{amount:,.2f} {currency}"


def format_age(age: timedelta | float | None) -> str:
    """A duration for people: ``45 minutes``, ``3 hours``, ``12 days``, ``5 months``, ``2.5 years``."""
    if age is None:
        return "—"
    seconds = age.total_seconds() if isinstance(age, timedelta) else float(age)
    if seconds < 0:
        return "in the future"
    minutes = seconds / 60
    hours = minutes / 60
    days = hours / 24

    def plural(value: float, unit: str) -> str:
        n = int(value)
        return f"{n:,} {unit}" + ("" if n == 1 else "s")

    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return plural(minutes, "minute")
    if hours < 48:
        return plural(hours, "hour")
    if days < 60:
        return plural(days, "day")
    months = days / 30.4375
    if months < 24:
        return plural(months, "month")
    years = days / 365.25
    return f"{years:.1f} years"


def format_ago(ts: datetime | None, as_of: datetime) -> str:
    """``7 months ago`` relative to ``as_of`` (``—`` when unknown), at findings.json's second precision."""
    if ts is None:
        return "—"
    age = as_of.replace(microsecond=0) - ts.replace(microsecond=0)
    if age < timedelta(0):
        return "after as-of"
    if age < timedelta(minutes=1):
        return "just now"
    return f"{format_age(age)} ago"


def format_date(ts: datetime | None) -> str:
    """``2026-11-26`` (UTC); ``—`` when unknown."""
    text = iso(ts)
    return "—" if text is None else text[:10]


def format_timestamp(ts: datetime | None) -> str:
    """``2026-11-26 10:00:00 UTC``; ``—`` when unknown."""
    text = iso(ts)
    return "—" if text is None else text.replace("T", " ").replace("Z", " UTC")
