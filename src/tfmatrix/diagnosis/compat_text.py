"""The compatibility facts in words, for texts written once in data: the taxonomy's explanations and fixes.

A taxonomy text that needs a range says ``{numpy_ranges}`` or ``{keras_new_first}``
instead of restating it; :func:`fill` puts in what :func:`words` derives from
``compat.yaml`` (TensorFlow's declared requirements, the NumPy ABI and Keras
major each release was built around, the driver floors, the last native-Windows
GPU build).  A placeholder the words do not have is a user error, not a blank.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from ..errors import TfmatrixError
from . import compat


def _span(first: str, last: str) -> str:
    return first if first == last else f"{first}-{last}"


def _runs(configs: Iterable[compat.BuildConfig], key: Callable[[compat.BuildConfig], str]) -> list[tuple[str, str, str]]:
    """Consecutive releases with the same ``key``: (first, last, key)."""
    out: list[tuple[str, str, str]] = []
    for bc in configs:
        k = key(bc)
        if out and out[-1][2] == k:
            out[-1] = (out[-1][0], bc.tf, k)
        else:
            out.append((bc.tf, bc.tf, k))
    return out


def _without_exclusions(specifier: str) -> str:
    """``">=3.20.3,<5.0.0dev,!=4.21.0"`` -> ``">=3.20.3,<5.0.0dev"``: the range, not the broken patch releases."""
    return ",".join(p.strip() for p in specifier.split(",") if p.strip() and not p.strip().startswith("!="))


def _upper(specifier: str) -> str:
    return ",".join(p.strip() for p in specifier.split(",") if p.strip().startswith("<"))


def requirement_table(dist: str, data: compat.Compat | None = None) -> str:
    """TensorFlow's own requirement on ``dist`` by runs of releases: ``"TF 2.12-2.17: protobuf>=3.20.3,<5.0.0dev; ..."``."""
    runs = _runs((data or compat.load_compat()).tensorflow, lambda bc: _without_exclusions(bc.requirement(dist)))
    return "; ".join(f"TF {_span(a, b)}: {dist}{spec}" for a, b, spec in runs)


def keras_table(data: compat.Compat | None = None) -> str:
    """``"TF 2.10-2.15: Keras 2; TF 2.16-2.20: Keras 3"``."""
    runs = _runs((data or compat.load_compat()).tensorflow, lambda bc: str(bc.keras_major))
    return "; ".join(f"TF {_span(a, b)}: Keras {k}" for a, b, k in runs)


def windows_gpu(data: compat.Compat | None = None) -> str | None:
    """The last native-Windows GPU build in words, or None when the data names none."""
    last = [bc for bc in (data or compat.load_compat()).tensorflow if bc.windows_gpu is not None]
    if not last or last[-1].windows_gpu is None:
        return None
    w = last[-1].windows_gpu
    return f"TensorFlow {last[-1].tf}, the last native-Windows GPU build ({w.package}): CUDA {w.cuda}, cuDNN {w.cudnn}"


def _switch(configs: tuple[compat.BuildConfig, ...], key: Callable[[compat.BuildConfig], int | None],
            name: str, dist: str) -> dict[str, str]:
    """Where ``key`` (NumPy ABI, Keras major) last changed: the last release before it and the first after."""
    newest = key(configs[-1])
    old = [bc for bc in configs if key(bc) is not None and key(bc) != newest]
    if not old:
        return {}
    last_old = old[-1]
    first_new = configs[configs.index(last_old) + 1]
    return {f"{name}_old": str(key(last_old)), f"{name}_new": str(newest), f"{name}_old_last": last_old.tf,
            f"{name}_new_first": first_new.tf,
            f"{name}_old_pin": f"{dist}{_upper(last_old.requirement(dist)) or last_old.requirement(dist)}"}


def words(data: compat.Compat | None = None) -> dict[str, str]:
    """Every placeholder a taxonomy text may use, with its value from the compat data."""
    d = data or compat.load_compat()
    configs = d.tensorflow
    newest = configs[-1]
    out = {"numpy_ranges": requirement_table("numpy", d), "protobuf_ranges": requirement_table("protobuf", d),
           "keras_majors": keras_table(d), "avx_since": d.avx_since,
           "driver_example": f"CUDA {newest.cuda_major} needs driver >= {compat.driver_floor(newest.cuda_exact)}"}
    out.update(_switch(configs, lambda bc: bc.numpy_abi, "numpy", "numpy"))
    out.update(_switch(configs, lambda bc: bc.keras_major, "keras", "keras"))
    with_extra = [bc for bc in configs if compat.and_cuda(bc.tf, d) is not None]
    if with_extra:
        bc = with_extra[-1]
        out["cudnn_example"] = f"nvidia-cudnn-cu{bc.cuda_major}=={bc.cudnn}.* for TF {bc.tf}"
    win = windows_gpu(d)
    if win:
        out["windows_gpu"] = win
        out["windows_gpu_last"] = [bc for bc in configs if bc.windows_gpu is not None][-1].tf
    return out


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with its ``{placeholders}`` filled; an unknown one is a user error naming it."""
    try:
        return text.format_map(values)
    except KeyError as exc:
        raise TfmatrixError(f"taxonomy text uses {{{exc.args[0]}}}, which the compat data does not give; "
                            f"known: {', '.join(sorted(values))}") from None
    except (ValueError, IndexError) as exc:
        raise TfmatrixError(f"taxonomy text does not format ({exc}): {text[:80]!r}") from None
