"""A report to send, from the results workbook alone: a self-contained HTML page (no outside
request; prints to PDF from the browser, one segment per page) and a PowerPoint deck, with
the same content: the headline, the segments table, one section or slide per segment (its
profile in real units against the average, what sets it apart, how far to trust it), how
far to trust the whole, and a short appendix on method and settings.

Everything is read back from the workbook (``summary``, ``profiles``, ``quality``,
``k_selection``, ``config``; not the assignments' rows), so a workbook mailed around gives
the same report.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import yaml

from clustering.config import ColumnInfo
from clustering.errors import UserInputError
from clustering.explain.labels import column_unit, column_words
from clustering.formats import count, number, percent, with_unit
from clustering.model.stability import PATTERN, STABLE

SUMMARY_BANNER_ROWS = 3  # the summary sheet's lines above its header (clustering.explain.summary)
PROFILE_LINES = 5  # features per segment: the ones that set it apart most
NEEDED = ("summary", "profiles", "quality", "config")
OPTIONAL = ("k_selection", "distributions")  # the method's chosen k; each segment's middle half


@dataclass
class SegmentSection:
    """One segment: who, how many, what sets it apart (in real units), how far to trust it."""

    name: str
    code: str
    size: int
    share: float
    stability: str
    profile: list[str]


@dataclass
class Report:
    """The report's content, rendered as HTML or PowerPoint."""

    title: str
    headline: str
    entities: str
    segments: list[SegmentSection]
    trust: list[str]
    method: list[str] = field(default_factory=list)


def read_report(source: str | Path | BinaryIO) -> Report:
    """The report's content from a results workbook (a path, or its bytes as a file)."""
    name = Path(source).name if isinstance(source, str | Path) else "the workbook"
    try:
        book = pd.ExcelFile(source, engine="calamine")
    except (OSError, ValueError) as error:
        raise UserInputError(f"{name} cannot be read as a results workbook ({error}).") from error
    missing = [s for s in NEEDED if s not in book.sheet_names]
    if missing:
        raise UserInputError(
            f"{name} has no sheet {', '.join(repr(s) for s in missing)}: give a results workbook written "
            "by a run of this version (the Export page, or `run --output RESULT.xlsx`)."
        )
    wanted = [s for s in (*NEEDED, *OPTIONAL) if s in book.sheet_names]  # not the assignments' rows
    return _content(book.parse(wanted, header=None))


def report_of_sheets(sheets: dict[str, pd.DataFrame]) -> Report:
    """The report of a result's sheets, by way of the workbook they make: the app's report is
    the one the CLI writes from the downloaded workbook."""
    from clustering.io.export import workbook_bytes

    used = {name: sheets[name] for name in (*NEEDED, *OPTIONAL) if name in sheets}
    return read_report(io.BytesIO(workbook_bytes(used)))


def _with_header(raw: pd.DataFrame, header_row: int = 0) -> pd.DataFrame:
    table = raw.iloc[header_row + 1 :].reset_index(drop=True)
    table.columns = [str(c) for c in raw.iloc[header_row]]
    return table


def _content(sheets: dict[str, pd.DataFrame]) -> Report:
    summary_raw = sheets["summary"]
    table = _with_header(summary_raw, SUMMARY_BANNER_ROWS)
    entities = str(table.columns[2])
    table[entities] = pd.to_numeric(table[entities])
    table[f"share of {entities}"] = pd.to_numeric(table[f"share of {entities}"])
    config = yaml.safe_load("\n".join(sheets["config"].iloc[1:, 0].fillna("").astype(str))) or {}
    units = {c: ColumnInfo(**(info or {})) for c, info in (config.get("columns") or {}).items()}
    profiles = _with_header(sheets["profiles"])
    ranges = _middle_halves(sheets.get("distributions"))
    columns = ["segment", "code", entities, f"share of {entities}", "stability"]
    segments = [
        SegmentSection(
            str(name),
            str(code),
            int(size),
            float(share),
            "" if pd.isna(word) else str(word),
            _profile_lines(profiles, str(code), units, entities, ranges),
        )
        for name, code, size, share, word in table[columns].itertuples(index=False, name=None)
    ]
    name = config.get("name")
    kind = "DFU" if entities == "DFUs" else "Store"
    return Report(
        title=_title(str(name)) if name and name != "run" else f"{kind} segmentation",
        headline=str(summary_raw.iloc[0, 0]),
        entities=entities,
        segments=segments,
        trust=_trust_lines(_with_header(sheets["quality"]), table, entities),
        method=_method_lines(config, sheets),
    )


def _title(name: str) -> str:
    """A run's name as a title: 'dfu demand segmentation' -> 'DFU demand segmentation'."""
    name = re.sub(r"\bdfus?\b", lambda m: m.group(0).upper().replace("S", "s"), name, flags=re.IGNORECASE)
    return name[:1].upper() + name[1:]


def _middle_halves(sheet: pd.DataFrame | None) -> dict[tuple[str, str], tuple[float, float]]:
    """(segment code, feature) -> its 25th and 75th percentiles, from the ``distributions``
    sheet (a workbook written before it existed has none)."""
    if sheet is None or sheet.empty:
        return {}
    table = _with_header(sheet).set_index("code")
    ends = [c[: -len(" p25")] for c in table.columns if str(c).endswith(" p25")]
    return {
        (str(code), feature): (float(row[f"{feature} p25"]), float(row[f"{feature} p75"]))
        for code, row in table.iterrows()
        for feature in ends
        if pd.notna(row[f"{feature} p25"]) and pd.notna(row[f"{feature} p75"])
    }


def _profile_lines(
    profiles: pd.DataFrame,
    code: str,
    units: dict,
    entities: str,
    ranges: dict[tuple[str, str], tuple[float, float]] | None = None,
) -> list[str]:
    """The segment's features that set it apart most (largest |effect size|), each in real
    units against the average of all, with the range of its middle half of entities."""
    mine = profiles[profiles["segment"].astype(str) == str(code)].copy()
    mine["effect"] = pd.to_numeric(mine["effect_size"], errors="coerce")
    mine = mine.dropna(subset=["effect"])
    mine = mine.reindex(mine["effect"].abs().sort_values(ascending=False).index).head(PROFILE_LINES)
    lines = []
    for row in mine.itertuples(index=False):
        mean, overall = float(row.mean), float(row.overall_mean)
        direction = "higher" if row.effect > 0 else "lower"
        if " = " in str(row.feature):  # a level of a text column: the share of the segment in it
            column, level = str(row.feature).split(" = ", 1)
            label = column_words(column, units)
            lines.append(
                f"{label} {level}: {percent(mean, 0)} of its {entities} (of all: {percent(overall, 0)})"
            )
            continue
        label, unit = column_words(str(row.feature), units), column_unit(str(row.feature), units)
        shown = (
            (lambda v: percent(v, 1))
            if str(row.feature).startswith("share") and 0 <= overall <= 1
            else number
        )
        middle = (ranges or {}).get((code, str(row.feature)))
        spread = (
            f"; the middle half of its {entities} from {with_unit(shown(middle[0]), unit)} "
            f"to {with_unit(shown(middle[1]), unit)}"
            if middle
            else ""
        )
        lines.append(
            f"{label}: {with_unit(shown(mean), unit)} against {with_unit(shown(overall), unit)} on average "
            f"({direction}, {abs(row.effect):.1f} standard deviations){spread}"
        )
    return lines


def _trust_lines(quality: pd.DataFrame, table: pd.DataFrame, entities: str) -> list[str]:
    lines = []
    for dataset, tests in quality.groupby("dataset", sort=False):
        clear = str(tests["verdict"].iloc[0]).startswith("clear")
        lines.append(
            f"{dataset}: the {entities} {'fall into natural groups' if clear else 'form a continuum'} "
            f"({'a test of structure finds groups' if clear else 'no test of structure finds separate groups'}; "
            "the tests are in the workbook's quality sheet)."
        )
    words = table["stability"].fillna("").astype(str)
    known = words[words != ""]
    if not known.empty:
        lines.append(
            f"{(known == 'stable').sum()} of {len(known)} segments are stable: they come back when the data is "
            f"resampled (bootstrap Jaccard of {STABLE} or more; {PATTERN} to {STABLE}: a pattern; below: unstable)."
        )
    return lines


def _method_lines(config: dict, sheets: dict[str, pd.DataFrame]) -> list[str]:
    chosen = _with_header(sheets["k_selection"]) if "k_selection" in sheets else pd.DataFrame()
    lines = []
    for name, dataset in (config.get("datasets") or {}).items():
        cluster = dataset.get("cluster") or {}
        prep = dataset.get("preprocess") or {}
        ks = (
            chosen[(chosen.get("dataset") == name) & (chosen.get("chosen").astype(str) == "True")]
            if len(chosen)
            else []
        )
        k = cluster.get("k") or (ks["k"].iloc[0] if len(ks) else "chosen by the run")
        lines.append(
            f"{name}: {cluster.get('algorithm', 'kmeans')}, k = {k} (rule: {cluster.get('selection', 'auto')}); "
            f"log1p of skewed columns {'on' if prep.get('log_transform', True) else 'off'}, outliers "
            f"{prep.get('outliers', 'clip')}, scaling {prep.get('scaler', 'standard')}."
        )
    merge = config.get("merge") or {}
    if merge.get("enabled", True) and len(config.get("datasets") or {}) == 2:
        lines.append(
            f"Merged: every pair of segments, the smallest absorbed below {merge.get('min_size', 'the minimum size')}."
        )
    lines.append(
        f"Random state {config.get('random_state', '')}: the same data and settings give the same segments."
    )
    return lines


PAGE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 60rem; color: #1f2937; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.headline { font-size: 1.1rem; background: #eef4fb; padding: .8rem 1rem; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; } th, td { padding: .35rem .6rem; text-align: left; }
th { border-bottom: 2px solid #9ca3af; } td { border-bottom: 1px solid #e5e7eb; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.segment { break-inside: avoid; } .code { color: #6b7280; font-size: .9em; }
@media print { body { margin: 0; max-width: none; } .segment { break-before: page; } }
"""


def report_html(report: Report) -> str:
    """The report as one self-contained HTML page: inline style, no script, no outside URL."""
    e = html.escape
    share = f"share of {report.entities}"
    rows = "".join(
        f"<tr><td>{e(s.name)} <span class='code'>{e(s.code)}</span></td><td class='n'>{count(s.size)}</td>"
        f"<td class='n'>{percent(s.share)}</td><td>{e(s.stability)}</td></tr>"
        for s in report.segments
    )
    sections = "".join(
        f"<section class='segment'><h2>{e(s.name)} <span class='code'>{e(s.code)}</span></h2>"
        f"<p>{count(s.size)} {e(report.entities)}, {percent(s.share)} of all; {e(s.stability)}.</p>"
        f"<ul>{''.join(f'<li>{e(line)}</li>' for line in s.profile)}</ul></section>"
        for s in report.segments
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(report.title)}</title><style>{PAGE_STYLE}</style></head><body>"
        f"<h1>{e(report.title)}</h1><p class='headline'>{e(report.headline)}</p>"
        f"<h2>The segments</h2><table><thead><tr><th>segment</th><th>{e(report.entities)}</th>"
        f"<th>{e(share)}</th><th>stability</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<h2>How far to trust it</h2><ul>{''.join(f'<li>{e(t)}</li>' for t in report.trust)}</ul>"
        f"{sections}"
        f"<section class='segment'><h2>Method and settings</h2><ul>"
        f"{''.join(f'<li>{e(m)}</li>' for m in report.method)}</ul></section></body></html>"
    )


def report_pptx(report: Report) -> bytes:
    """The report as a PowerPoint deck: title and headline, the segments table, how far to
    trust it, one slide per segment, and the method."""
    from pptx import Presentation
    from pptx.util import Pt

    deck = Presentation()
    title = deck.slides.add_slide(deck.slide_layouts[0])
    title.shapes.title.text = report.title
    title.placeholders[1].text = report.headline
    _table_slide(deck, report)
    _bullet_slide(deck, "How far to trust it", report.trust)
    for s in report.segments:
        lines = [f"{count(s.size)} {report.entities}, {percent(s.share)} of all; {s.stability}", *s.profile]
        _bullet_slide(deck, f"{s.name} ({s.code})", lines)
    _bullet_slide(deck, "Method and settings", report.method)
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_text_frame and shape != slide.shapes.title:
                for paragraph in shape.text_frame.paragraphs:
                    for run in paragraph.runs:
                        run.font.size = Pt(14)
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def _bullet_slide(deck: object, heading: str, lines: list[str]) -> None:
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = heading
    body = slide.placeholders[1].text_frame
    body.text = lines[0] if lines else ""
    for line in lines[1:]:
        body.add_paragraph().text = line


def _table_slide(deck: object, report: Report) -> None:
    from pptx.util import Inches, Pt

    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "The segments"
    rows = report.segments[:18]  # a slide holds about 18 rows; the workbook has them all
    shape = slide.shapes.add_table(len(rows) + 1, 4, Inches(0.4), Inches(1.4), Inches(9.2), Inches(0.3))
    cells = shape.table
    for j, heading in enumerate(["segment", report.entities, f"share of {report.entities}", "stability"]):
        cells.cell(0, j).text = heading
    for i, s in enumerate(rows, start=1):
        for j, text in enumerate([f"{s.name} ({s.code})", count(s.size), percent(s.share), s.stability]):
            cells.cell(i, j).text = text
    for row in cells.rows:
        for cell in row.cells:
            for paragraph in cell.text_frame.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(10)


def write_report(workbook: str | Path, output: str | Path) -> Path:
    """The report of a results workbook, as HTML (``.html``) or PowerPoint (``.pptx``)."""
    output = Path(output)
    kind = output.suffix.lower()
    if kind not in (".html", ".pptx"):
        raise UserInputError(f"{output.name}: the report is written as .html or .pptx; name the output so.")
    report = read_report(workbook)
    if kind == ".html":
        output.write_text(report_html(report), encoding="utf-8")
    else:
        output.write_bytes(report_pptx(report))
    return output
