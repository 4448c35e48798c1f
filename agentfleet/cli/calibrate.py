"""`agentfleet calibrate [--dry-run] [--json]`: refit the tier thresholds from the ledger.

Reads the last `calibration.WINDOW_DAYS` days of the ledger (`settings.ledger_url`), fits
with `calibration.fit` and, unless `--dry-run`, writes `$AGENTFLEET_HOME/thresholds.json`
(atomically) and appends to `thresholds-history.jsonl`. Masters already running keep the
thresholds they started with; masters started afterwards use the new ones.

Like the other commands: `--json` prints one JSON document on stdout; problems raise
`CliError` (one line on stderr, exit 2). Too few samples, or no case to move, exits 0.
No Temporal import: this needs only the ledger and the files.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentfleet.config import Settings
from agentfleet.contracts.ledger import LedgerRow
from agentfleet.delegation import calibration
from agentfleet.delegation.calibration import Calibration, CutReport
from agentfleet.errors import CliError

__all__ = ["calibrate"]


def _read_rows(url: str, start: datetime, end: datetime) -> list[LedgerRow]:
    import sqlalchemy as sa

    from agentfleet.ledger.store import TABLE_NAME, Ledger

    u = sa.make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        # A read must not create a ledger: no file means no record yet.
        if not Path(u.database).expanduser().exists():
            return []
    ledger = Ledger.from_url(url)
    try:
        with ledger.engine.connect() as conn:
            if not sa.inspect(conn).has_table(TABLE_NAME, schema=ledger.schema):
                return []
        return ledger.rows_closed_between(start, end)
    except sa.exc.SQLAlchemyError as err:
        shown = u.render_as_string(hide_password=True)
        raise CliError(f"cannot read the ledger at {shown}: {err.__class__.__name__}") from None
    finally:
        ledger.dispose()


def _side(side: calibration.Side) -> str:
    if not side.n:
        return f"{side.tier} 0"
    return f"{side.tier} {side.n} {side.rate:.0%} ${side.mean_cost_usd:.4f}"


def _text(cal: Calibration, outcome: str) -> str:
    p = cal.previous
    window = (
        f"{cal.window_start:%Y-%m-%d} .. {cal.window_end:%Y-%m-%d}"
        if cal.window_start and cal.window_end
        else "all"
    )
    lines = [
        f"thresholds {p.version}: simple {p.simple}, moderate {p.moderate}, complex {p.complex}",
        f"record: {cal.rows} ledger rows closed {window}; {cal.samples} samples cut with "
        f"{p.version}",
    ]
    if cal.cuts:
        lines.append(
            f"{'cut':<9}{'old':>6}{'new':>7}  {'below (n, done, cost)':<26}"
            f"{'above (n, done, cost)':<26}action"
        )
        for c in cal.cuts:
            lines.append(_cut_line(c))
    lines.append(cal.reason)
    lines.append(outcome)
    return "\n".join(lines)


def _cut_line(c: CutReport) -> str:
    return (
        f"{c.cut:<9}{c.old:>6.2f}{c.new:>7.2f}  {_side(c.below):<26}{_side(c.above):<26}"
        f"{c.action}: {c.reason}"
    )


def calibrate(settings: Settings, *, dry_run: bool = False, as_json: bool = False) -> int:
    """Refit the tier thresholds from the ledger's recent record; write them unless `dry_run`.

    Masters already running keep the thresholds they started with.
    """
    home = settings.home
    try:
        current = calibration.read_thresholds(home)
    except ValueError as err:
        raise CliError(f"{home / calibration.THRESHOLDS_FILE}: invalid thresholds: {err}") from None
    end = datetime.now(UTC)
    start = end - timedelta(days=calibration.WINDOW_DAYS)
    rows = _read_rows(settings.ledger_url, start, end)
    cal = calibration.fit(
        rows,
        current,
        history=calibration.history_versions(home),
        window_start=start,
        window_end=end,
    )
    written: Path | None = None
    if not cal.changed:
        outcome = "no change"
    elif dry_run:
        outcome = (
            f"dry run: would write {cal.proposed.version} to {home / calibration.THRESHOLDS_FILE}"
        )
    else:
        written = calibration.save(home, cal, end)
        outcome = f"wrote {cal.proposed.version} to {written}; masters started from now on use it"
    if as_json:
        doc: dict[str, Any] = cal.model_dump(mode="json")
        doc.update(dry_run=dry_run, written=str(written) if written else None, outcome=outcome)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        print(_text(cal, outcome))
    return 0
