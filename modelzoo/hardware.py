"""What this machine's CPU can do, read from the kernel (never assumed)."""

import os


def native_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU has bfloat16 multiply instructions (avx512_bf16, AMX)."""
    if not os.path.exists(cpuinfo):
        return False
    with open(cpuinfo) as f:
        line = next((line for line in f if line.startswith("flags")), "")
    return bool({"avx512_bf16", "amx_bf16"} & set(line.partition(":")[2].split()))
