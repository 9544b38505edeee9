"""What a timing depends on besides the model: TF32 and cuDNN switches, GPU, driver, library versions, CPU."""

from __future__ import annotations

import platform
import subprocess

import torch


def environment_flags(device: str) -> dict:
    """Settings that change a timing: TF32 and cuDNN switches, GPU, driver, library versions, CPU model."""
    flags = {
        "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),  # what the convolutions of these models use
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpu_name": None,
        "driver": None,
        "cpu_model": cpu_model(),
        "threads": torch.get_num_threads(),
    }
    if torch.device(device).type == "cuda":
        flags["gpu_name"] = torch.cuda.get_device_name(torch.device(device))
        flags["driver"] = nvidia_driver()
    return flags


def first_processor() -> dict[str, str]:
    """The first processor's ``key: value`` lines of /proc/cpuinfo ({} off Linux)."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    break  # the first processor's block only
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    return first_processor().get("model name") or platform.processor() or platform.machine()


# /proc/cpuinfo fields that tell one CPU design from another where the model name does not (a VM may show a
# generic "AMD EPYC" for hosts that time the same models 1.9x apart, with ratios between models 9-15 % apart).
CPU_IDENTITY_FIELDS = ("vendor_id", "cpu family", "model", "stepping", "microcode", "cache size")


def cpu_identity() -> dict | None:
    """The first CPU's identifying /proc/cpuinfo fields, plus a digest of its feature flags; None off Linux."""
    import hashlib  # noqa: PLC0415

    cpu = first_processor()
    fields = {key: cpu[key] for key in CPU_IDENTITY_FIELDS if key in cpu}
    if "flags" in cpu:
        fields["flags_sha256"] = hashlib.sha256(" ".join(sorted(cpu["flags"].split())).encode()).hexdigest()[:16]
    return fields or None


def nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        )
        return out.stdout.strip().splitlines()[0] or None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def huge_pages_mib() -> float | None:
    """This process's anonymous memory in transparent huge pages (Linux smaps_rollup), MiB; None where unknown."""
    try:
        with open("/proc/self/smaps_rollup", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None
