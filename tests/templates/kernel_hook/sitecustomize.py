"""Test hook: the kernel of one batch job fails to start, once.

Put this folder on PYTHONPATH and set OPSKIT_TEST_KERNEL_FAIL_JOB to a job name and
OPSKIT_TEST_KERNEL_FAIL_ONCE to a marker file that does not exist yet. The first kernel started
in that job's working directory (OUT/<run id>/.work/<name>) creates the marker and exits before
it can answer, which nbclient reports as a kernel that did not start (KernelStartError); the
retry finds the marker and starts normally. Every other process is untouched.
"""

import os
import sys

_marker = os.environ.get("OPSKIT_TEST_KERNEL_FAIL_ONCE")
_job = os.environ.get("OPSKIT_TEST_KERNEL_FAIL_JOB")
if _marker and _job and "ipykernel_launcher" in sys.orig_argv and os.path.basename(os.getcwd()) == _job:
    try:
        os.close(os.open(_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        pass
    else:
        os._exit(3)
