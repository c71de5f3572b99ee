"""The grading worker outlives a parent killed with SIGKILL quietly: the reply it was writing has
no reader, and it leaves without a BrokenPipeError traceback on the terminal."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from baton.engine import _WORKER_CODE, _frame
from baton.fixtures import load_tasks
from baton.graders import grade_run
from baton.result import RunKey
from baton.trace import Trace

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "billing"


def test_worker_whose_parent_died_exits_without_a_traceback():
    task = load_tasks(FIXTURES)[0]
    trace = Trace(task_id=task.id, task_version=task.version, system="naive", architecture="naive",
                  trial=0, seed=1, mode="system", answer="done")
    key = RunKey(task_id=task.id, task_version=task.version, system="naive", vendor="v", trial=0, mode="system")
    read_end, write_end = os.pipe()
    worker = subprocess.Popen([sys.executable, "-c", _WORKER_CODE], stdin=subprocess.PIPE, stdout=write_end,
                              stderr=subprocess.PIPE)
    os.close(write_end)
    os.close(read_end)  # the parent is gone: nobody will read the worker's replies
    assert worker.stdin is not None
    worker.stdin.write(_frame(pickle.dumps(([task], grade_run))))
    worker.stdin.write(_frame(pickle.dumps([(key, 1, trace.model_dump_json().encode(), None)])))
    worker.stdin.close()
    assert worker.stderr is not None
    text = worker.stderr.read().decode()  # until the worker exits and closes it
    worker.wait(timeout=60)
    assert "Traceback" not in text and "BrokenPipeError" not in text, text
    assert worker.returncode == 0
