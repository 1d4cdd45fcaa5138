"""What every screen shares: failed workers become one line, never a traceback.

``Worker.StateChanged`` does not bubble, so each screen that runs workers
forwards failures to the app's one reporting method.
"""

from __future__ import annotations

from textual.worker import Worker, WorkerState


class ReportsWorkerErrors:
    """Mixin for screens: a worker that fails is reported by the app in one line."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.report_worker_error(event.worker)  # type: ignore[attr-defined]
            self.worker_failed(event.worker)

    def worker_failed(self, worker: Worker) -> None:
        """Hook: leave the screen in a state the user can continue from."""
