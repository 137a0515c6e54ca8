"""Terminal output for the command line: one rich console, progress bars, tables."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.progress import TimeElapsedColumn
from rich.table import Table

console = Console(stderr=False, highlight=False)


@contextmanager
def epoch_progress(description: str, total: int):
    """Yield ``update(epoch, epochs, loss)`` that advances a progress bar."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task(description, total=total, loss=float("nan"))

        def update(epoch: int, epochs: int, loss: float) -> None:
            progress.update(task, completed=epoch, loss=loss)

        yield update


@contextmanager
def step(description: str):
    """Show a spinner while a long step runs, then a check mark."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        progress.add_task(description, total=None)
        yield
    console.print(f"[green]\u2713[/green] {description}")


def key_value_table(title: str, rows: list[tuple[str, object]]) -> Table:
    """Return a two-column table of ``rows``."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in rows:
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    return table
