"""The bench's output: rows with their verdicts, the commands behind them, the table."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Row:
    figure: str
    taskyard: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""
    cmd: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def command(self, text: str) -> str:
        """A reference such as "[3]" to the command, listed under the table."""
        if text not in self.commands:
            self.commands.append(text)
        return f"[{self.commands.index(text) + 1}]"

    def add(self, *rows: Row) -> None:
        for row in rows:
            self.rows.append(row)
            say(f"{row.figure}: {row.taskyard} (baseline {row.baseline or '-'}) {row.met}")

    def markdown(self) -> str:
        # Grouped by benchmark number, in the order each was measured.
        rows = sorted(self.rows, key=lambda r: r.figure.split(".", 1)[0])
        lines = [
            "| figure | Taskyard | baseline | ratio | target | met | cmd |",
            "| --- | ---: | ---: | ---: | --- | --- | --- |",
        ]
        for r in rows:
            lines.append(
                f"| {r.figure} | {r.taskyard} | {r.baseline} | {r.ratio} | {r.target} "
                f"| {r.met} | {r.cmd} |"
            )
        lines.append("")
        lines.append("Commands:")
        lines.extend(f"[{i}] `{c}`" for i, c in enumerate(self.commands, 1))
        if self.notes:
            lines.append("")
            lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "yes" if ok else "**no**"


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def ratio_text(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def cpu_text(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def render(
    info: dict[str, str],
    *,
    scale: float,
    profiled: bool,
    load_start: str,
    load_end: str,
    report: Report,
    seconds: float,
) -> str:
    header = [
        f"Taskyard benchmark, {info['date']}, BENCH_SCALE={scale:g}"
        + (" (py-spy attached: figures distorted)" if profiled else ""),
        f"machine: {info['nproc']} x {info['cpu']}, {info['ram']} RAM, Linux {info['kernel']}, "
        f"Python {info['python']}, RabbitMQ {info['rabbitmq']}, Redis {info['redis']}, "
        f"{info['wrk']}",
        f"load average (1/5/15 min): {load_start} at the start, {load_end} at the end; "
        f"run took {seconds:.0f} s",
        "",
    ]
    return "\n".join(header) + report.markdown()
