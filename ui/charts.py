"""Plotly figures of the app. They draw what the engine computed; they compute nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from clustering.explain.dendrogram import Tree
from clustering.explain.distributions import Histogram
from clustering.formats import CURRENCIES, plotly_format

CRITERIA = [
    ("inertia", "Inertia (elbow)"),
    ("silhouette", "Silhouette (higher is better)"),
    ("calinski_harabasz", "Calinski-Harabasz (higher)"),
    ("davies_bouldin", "Davies-Bouldin (lower)"),
    ("gap", "Gap statistic (±1 s.e.)"),
    ("bic", "BIC (lower)"),
]


def k_selection(scores: pd.DataFrame, chosen: int, elbow: int | None) -> go.Figure:
    """One panel per criterion over k; the chosen k marked on each, infeasible k greyed."""
    panels = [(c, t) for c, t in CRITERIA if c in scores]
    rows = (len(panels) + 2) // 3
    figure = make_subplots(rows=rows, cols=3, subplot_titles=[t for _, t in panels], horizontal_spacing=0.07)
    for i, (column, _) in enumerate(panels):
        row, col = i // 3 + 1, i % 3 + 1
        error = dict(type="data", array=scores["gap_se"]) if column == "gap" else None
        figure.add_trace(
            go.Scatter(
                x=scores["k"],
                y=scores[column],
                mode="lines+markers",
                error_y=error,
                showlegend=False,
                marker=dict(color=np.where(scores["feasible"], "#2F6FDE", "#C0C4CC")),
            ),
            row=row,
            col=col,
        )
        figure.add_vline(x=chosen, line_dash="dash", line_color="#E4572E", row=row, col=col)
        if column == "inertia" and elbow is not None:
            figure.add_vline(x=elbow, line_dash="dot", line_color="#17BEBB", row=row, col=col)
    figure.update_layout(height=300 * rows, margin=dict(t=40, b=20, l=20, r=20))
    return figure


def segment_sizes(
    sizes: pd.Series,
    colors: dict[str, str],
    title: str,
    names: dict[str, str] | None = None,
    noun: str = "rows",
) -> go.Figure:
    """Bars of segment sizes; with ``names``, horizontal bars labelled 'name (code)', largest on
    top, counts with thousands separators."""
    if names is None:
        figure = go.Figure(
            go.Bar(
                x=sizes.index.astype(str),
                y=sizes.to_numpy(),
                marker_color=[colors.get(str(s), "#888") for s in sizes.index],
            )
        )
        figure.update_layout(
            title=title,
            xaxis_title="segment",
            yaxis_title=noun,
            yaxis_tickformat=",d",
            height=340,
            margin=dict(t=40, b=20),
        )
        return figure
    ordered = sizes.sort_values()
    labels = [f"{names.get(str(code), code)} ({code})" for code in ordered.index]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=ordered.to_numpy(),
            orientation="h",
            marker_color=[colors.get(str(s), "#888") for s in ordered.index],
            hovertemplate="%{y}: %{x:,} " + noun + "<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title=noun,
        xaxis_tickformat=",d",
        height=max(300, 28 * len(ordered) + 80),
        margin=dict(t=40, b=20, l=10),
    )
    return figure


def segment_grid(grid: pd.DataFrame, noun: str) -> go.Figure:
    """The two levels as a grid: rows one dataset's segments, columns the other's, the count
    of each pair in its cell."""
    figure = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=list(grid.columns),
            y=list(grid.index),
            colorscale="Blues",
            texttemplate="%{z:,}",
            hovertemplate="%{y}<br>%{x}<br>%{z:,} " + noun + "<extra></extra>",
            showscale=False,
        )
    )
    figure.update_layout(
        xaxis_title=f"{grid.columns.name} segments",
        yaxis_title=f"{grid.index.name} segments",
        yaxis_autorange="reversed",
        height=max(320, 60 * len(grid) + 160),
        margin=dict(t=20, l=10),
    )
    return figure


def scatter(
    coords: np.ndarray, labels: np.ndarray, colors: dict[str, str], hover: list[str] | None = None
) -> go.Figure:
    """2D or 3D scatter, one trace per segment so the legend toggles segments."""
    figure = go.Figure()
    for segment in sorted(pd.unique(labels), key=str):
        mask = labels == segment
        marker = dict(
            size=4 if coords.shape[1] == 3 else 6, color=colors.get(str(segment), "#888"), opacity=0.75
        )
        text = np.asarray(hover)[mask] if hover is not None else None
        if coords.shape[1] == 3:
            figure.add_trace(
                go.Scatter3d(
                    x=coords[mask, 0],
                    y=coords[mask, 1],
                    z=coords[mask, 2],
                    mode="markers",
                    name=str(segment),
                    marker=marker,
                    text=text,
                )
            )
        else:
            figure.add_trace(
                go.Scattergl(
                    x=coords[mask, 0],
                    y=coords[mask, 1],
                    mode="markers",
                    name=str(segment),
                    marker=marker,
                    text=text,
                )
            )
    figure.update_layout(height=560, legend_title="segment", margin=dict(t=20, b=20))
    return figure


def parallel_coordinates(frame: pd.DataFrame, labels: np.ndarray, colors: dict[str, str]) -> go.Figure:
    """Each sampled row as a line across the features, colored by segment."""
    segments = sorted(pd.unique(labels), key=str)
    codes = pd.Categorical(labels, categories=segments).codes
    scale = [[i / max(len(segments) - 1, 1), colors.get(str(s), "#888")] for i, s in enumerate(segments)]
    dimensions = [dict(label=str(c), values=frame[c].to_numpy()) for c in frame.columns]
    dimensions.append(
        dict(
            label="segment",
            values=codes,
            tickvals=list(range(len(segments))),
            ticktext=[str(s) for s in segments],
        )
    )
    figure = go.Figure(
        go.Parcoords(
            line=dict(color=codes, colorscale=scale, cmin=0, cmax=max(len(segments) - 1, 1)),
            dimensions=dimensions,
        )
    )
    figure.update_layout(height=480, margin=dict(t=40, b=20, l=60, r=60))
    return figure


def distribution(
    values: pd.Series,
    labels: np.ndarray,
    colors: dict[str, str],
    violin: bool,
    title: str | None = None,
    unit: str | None = None,
) -> go.Figure:
    """One box (or violin) per segment of a column in its real units: the axis titled in words
    with the unit, ticks as the column's kind reads (a share as %, money with its symbol)."""
    figure = go.Figure()
    for segment in sorted(pd.unique(labels), key=str):
        data = values[labels == segment]
        color = colors.get(str(segment), "#888")
        if violin:
            figure.add_trace(
                go.Violin(
                    y=data, name=str(segment), line_color=color, box_visible=True, meanline_visible=True
                )
            )
        else:
            figure.add_trace(go.Box(y=data, name=str(segment), marker_color=color, boxmean=True))
    name = str(values.name)
    axis = dict(
        title=(title or name) + (f" ({unit})" if unit else ""), tickformat=plotly_format(name, values)
    )
    if unit in CURRENCIES:
        axis["tickprefix"] = unit
    figure.update_layout(height=420, showlegend=False, yaxis=axis, margin=dict(t=20, b=20))
    return figure


def segment_histogram(
    histogram: Histogram,
    colors: dict[str, str],
    names: dict[str, str],
    panels: bool,
    title: str | None = None,
    unit: str | None = None,
) -> go.Figure:
    """Each segment's share of its entities per bin, as steps over the bins every segment
    shares, all in one panel or one panel per segment; the axis in the feature's real units
    (log when the histogram is), outliers already counted in the end bins."""
    segments = list(histogram.shares.index)
    rows = len(segments) if panels else 1
    figure = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.015 if panels else 0)
    edges = histogram.edges
    for i, segment in enumerate(segments):
        shares, counts = histogram.shares.loc[segment].to_numpy(), histogram.counts.loc[segment].to_numpy()
        figure.add_trace(
            go.Scatter(
                x=edges,
                y=np.append(shares, shares[-1]),  # the last step runs to the last edge
                customdata=np.column_stack([np.append(counts, counts[-1]), np.append(edges[1:], edges[-1])]),
                mode="lines",
                line_shape="hv",
                line_color=colors.get(segment, "#888"),
                fill="tozeroy" if panels else None,
                name=names.get(segment, segment),
                hovertemplate="%{x:,.4~g} to %{customdata[1]:,.4~g}: %{customdata[0]:,d} (%{y:.1%})",
            ),
            row=i + 1 if panels else 1,
            col=1,
        )
    name = histogram.feature
    fmt = plotly_format(name, pd.Series(edges, name=name))
    axis = dict(title=(title or name) + (f" ({unit})" if unit else ""), tickformat=fmt)
    if histogram.log:
        axis |= dict(type="log", tickformat=fmt if fmt.endswith("%") else "~s")
    if unit in CURRENCIES:
        axis["tickprefix"] = unit
    figure.update_xaxes(**axis, row=rows, col=1)
    if panels:
        figure.update_xaxes(type="log" if histogram.log else "linear")
    figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    figure.update_layout(
        height=max(360, 70 * rows + 80) if panels else 420,
        showlegend=True,
        legend=dict(orientation="h", y=-0.15 if not panels else -0.02, yanchor="top"),
        margin=dict(t=20, b=20),
        yaxis_title="share of the segment" if not panels else None,
    )
    return figure


def dendrogram_chart(tree: Tree, colors: dict[str, str], names: dict[str, str], noun: str) -> go.Figure:
    """A dendrogram as the engine drew it: links below the cut in their segment's colour,
    those above it grey, the cut as a dashed line, each leaf named by its segment (and how
    many entities it holds when it is a group)."""
    figure = go.Figure()
    for xs, ys in zip(tree.icoord, tree.dcoord, strict=True):
        segment = tree.link_segment(xs, ys)
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line=dict(color=colors.get(segment, "#9CA3AF") if segment else "#9CA3AF", width=1.5),
                hoverinfo="skip",
                showlegend=False,
            )
        )
    grouped = any(size > 1 for size in tree.leaf_sizes) and tree.rows > len(tree.leaf_sizes)
    labels = [
        (f"{names[s]} ({s})" if s in names else s) + (f" · {size:,} {noun}" if grouped else "")
        for s, size in zip(tree.leaf_segments, tree.leaf_sizes, strict=True)
    ]
    ticks = [5 + 10 * i for i in range(len(labels))]
    if tree.cut is not None:
        figure.add_hline(
            y=tree.cut, line_dash="dash", line_color="#374151", annotation_text="cut into the segments"
        )
    figure.update_layout(
        height=max(420, 260 + 9 * max((len(label) for label in labels), default=0)),
        xaxis=dict(tickvals=ticks, ticktext=labels, tickangle=-60, showgrid=False, zeroline=False),
        yaxis=dict(title="Ward distance (how unalike the groups merged there are)", rangemode="tozero"),
        margin=dict(t=20, b=20),
    )
    return figure


def demand_chart(demand: pd.DataFrame, colors: dict[str, str], names: dict[str, str]) -> go.Figure:
    """Each DFU segment's median demand index by month (a line) and its 25th to 75th
    percentiles (a band of the same colour), with 1 (an average month) marked."""
    figure = go.Figure()
    for segment, curve in demand.groupby("segment", sort=True):
        color = colors.get(str(segment), "#888")
        name = f"{names[segment]} ({segment})" if segment in names else str(segment)
        months = list(curve["month"])
        figure.add_trace(
            go.Scatter(
                x=months + months[::-1],
                y=list(curve["p75"]) + list(curve["p25"])[::-1],
                fill="toself",
                fillcolor=_rgba(color, 0.15),
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=str(segment),
            )
        )
        figure.add_trace(
            go.Scatter(
                x=months,
                y=curve["median"],
                mode="lines",
                line=dict(color=color, width=2.5),
                name=name,
                legendgroup=str(segment),
                customdata=np.column_stack([curve["p25"], curve["p75"], curve["dfus"]]),
                hovertemplate="%{x}: %{y:.2f} (middle half %{customdata[0]:.2f} to %{customdata[1]:.2f}, "
                "%{customdata[2]:,d} DFUs)",
            )
        )
    figure.add_hline(y=1.0, line_dash="dot", line_color="#6B7280")
    figure.update_layout(
        height=440,
        yaxis=dict(title="demand index (1 = the DFU's average month)", rangemode="tozero"),
        xaxis=dict(title="month"),
        legend=dict(orientation="h", y=-0.25, yanchor="top"),
        margin=dict(t=20, b=20),
    )
    return figure


def silhouette_plot(values: np.ndarray, labels: np.ndarray, colors: dict[str, str]) -> go.Figure:
    """Sorted silhouette values per segment, stacked: the classic silhouette plot, each segment
    one filled shape (thousands of bars would each be an element for the browser to draw)."""
    figure = go.Figure()
    offset = 0
    for segment in sorted(pd.unique(labels), key=str):
        part = np.sort(values[labels == segment])
        rows = np.arange(offset, offset + len(part))
        figure.add_trace(
            go.Scatter(
                x=np.concatenate([[0.0], part, [0.0]]),
                y=np.concatenate([[rows[0]], rows, [rows[-1]]]),
                mode="lines",
                fill="toself",
                name=str(segment),
                line=dict(width=0.5, color=colors.get(str(segment), "#888")),
                fillcolor=colors.get(str(segment), "#888"),
                hoverinfo="name",
            )
        )
        offset += len(part) + 10
    figure.add_vline(x=float(values.mean()), line_dash="dash", line_color="#E4572E")
    figure.update_layout(
        height=480,
        yaxis=dict(showticklabels=False),
        xaxis_title="silhouette",
        margin=dict(t=20, b=20),
    )
    return figure


def sankey(
    before: pd.Series, after: pd.Series, colors: dict[str, str], sides: tuple[str, str] = ("before", "after")
) -> go.Figure:
    """Flows from one labeling (merged segments, run A) to another (final segments, run B)."""
    flows = (
        pd.DataFrame({"before": before.astype(str), "after": after.astype(str)})
        .value_counts()
        .reset_index(name="n")
    )
    return sankey_flows(flows, colors, sides)


def sankey_flows(flows: pd.DataFrame, colors: dict[str, str], sides: tuple[str, str]) -> go.Figure:
    """A Sankey from counted flows (columns before, after, n)."""
    flows = flows[flows["n"] > 0]
    left = sorted(flows["before"].unique())
    right = sorted(flows["after"].unique())
    nodes = [f"{s} ({sides[0]})" for s in left] + [f"{s} ({sides[1]})" for s in right]
    node_colors = [colors.get(s, "#C0C4CC") for s in left] + [colors.get(s, "#888") for s in right]
    source = flows["before"].map({s: i for i, s in enumerate(left)})
    target = flows["after"].map({s: i + len(left) for i, s in enumerate(right)})
    link_colors = [_rgba(colors.get(s, "#888888"), 0.35) for s in flows["after"]]
    figure = go.Figure(
        go.Sankey(
            node=dict(label=nodes, color=node_colors, pad=8),
            link=dict(source=source, target=target, value=flows["n"], color=link_colors),
        )
    )
    figure.update_layout(height=max(420, 14 * len(left)), margin=dict(t=20, b=20))
    return figure


def heatmap(matrix: pd.DataFrame, title: str, diverging: bool = True, zmax: float | None = None) -> go.Figure:
    bound = zmax if zmax is not None else float(np.nanmax(np.abs(matrix.to_numpy()))) if matrix.size else 1.0
    figure = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            colorscale="RdBu" if diverging else "Blues",
            reversescale=diverging,
            zmid=0 if diverging else None,
            zmin=-bound if diverging else None,
            zmax=bound if diverging else None,
        )
    )
    figure.update_layout(title=title, height=max(360, 24 * len(matrix) + 120), margin=dict(t=40, b=20))
    return figure


def bars(frame: pd.DataFrame, x: str, y: str, title: str) -> go.Figure:
    figure = go.Figure(go.Bar(x=frame[x], y=frame[y], marker_color="#2F6FDE"))
    figure.update_layout(title=title, height=320, margin=dict(t=40, b=20))
    return figure


def _rgba(color: str, alpha: float) -> str:
    if color.startswith("rgb"):
        return color.replace("rgb(", "rgba(").replace(")", f", {alpha})")
    color = color.lstrip("#")
    red, green, blue = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red}, {green}, {blue}, {alpha})"
