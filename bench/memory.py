"""Peak memory of a benchmark run, sampled in a thread."""

import threading
import time

import psutil


class PeakRSS:
    """Samples the summed RSS of this process and (with `children`) all its descendants, the local Ray processes,
    in a thread."""

    def __init__(self, interval: float = 0.2, children: bool = True):
        self.interval, self.children, self.peak, self.running = interval, children, 0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        me = psutil.Process()
        while self.running:
            total = 0
            for process in [me, *(me.children(recursive=True) if self.children else ())]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
