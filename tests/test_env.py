"""Environment fingerprint: the git dirty flag describes the measured code, not the harness's own outputs."""

import shutil
import subprocess

import pytest

from sr_harness.run.env import git_state

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path):
    (tmp_path / "results").mkdir()
    for name in ("code.py", "results/report.html", "results/baseline.json"):
        (tmp_path / name).write_text("v1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return tmp_path


def test_rewritten_report_and_baseline_leave_the_checkout_clean(checkout):
    (checkout / "results/report.html").write_text("v2\n")
    (checkout / "results/baseline.json").write_text("v2\n")
    state = git_state(checkout)
    assert state["dirty"] is False and len(state["commit"]) == 40


def test_changed_code_makes_the_checkout_dirty(checkout):
    (checkout / "results/report.html").write_text("v2\n")
    (checkout / "code.py").write_text("v2\n")
    assert git_state(checkout)["dirty"] is True


def test_outside_a_checkout_the_state_is_unknown(tmp_path):
    assert git_state(tmp_path) == {"commit": None, "dirty": None}


def test_cpu_identity_reads_the_first_processor_and_digests_its_flags(tmp_path, monkeypatch):
    import builtins

    from sr_harness.protocols import machine

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n"
                       "model name\t: AMD EPYC\nstepping\t: 1\ncpu MHz\t\t: 2445.4\nflags\t\t: sse avx fpu\n\n"
                       "processor\t: 1\nvendor_id\t: OtherVendor\nmodel\t\t: 99\n")
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda path, *a, **k: real_open(
        cpuinfo if str(path) == "/proc/cpuinfo" else path, *a, **k))
    identity = machine.cpu_identity()
    assert identity == {"vendor_id": "AuthenticAMD", "cpu family": "25", "model": "1", "stepping": "1",
                        "flags_sha256": identity["flags_sha256"]}  # the clock speed is not an identity
    cpuinfo.write_text(cpuinfo.read_text().replace("sse avx fpu", "fpu sse avx"))
    assert machine.cpu_identity()["flags_sha256"] == identity["flags_sha256"]  # order does not matter
    cpuinfo.write_text(cpuinfo.read_text().replace("fpu sse avx", "fpu sse avx avx512f"))
    assert machine.cpu_identity()["flags_sha256"] != identity["flags_sha256"]
