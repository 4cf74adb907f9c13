#!/usr/bin/env python3
"""Fails when an #include points up a layer (docs/ARCHITECTURE.md, "Layers").

Each folder under src/ has a layer; a file may include headers of its own folder and of
folders in lower layers only (folders of the same layer stay independent of each other).
tools/ and tests/ may include anything. Prints every offending line.
Usage: check_layers.py REPO_ROOT
"""
import pathlib
import re
import sys

# Low to high. Keep in step with docs/ARCHITECTURE.md.
LAYERS = [
    ["base"],
    ["kernels", "audio", "features", "text", "score"],
    ["formats"],
    ["model"],
    ["convert"],
    ["pipeline"],
    ["service"],
    ["server"],
    ["bench", "capi"],
]
LEVEL = {d: i for i, ds in enumerate(LAYERS) for d in ds}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"')


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    src = root / "src"
    bad, checked = [], 0
    for f in sorted(src.rglob("*")):
        if f.suffix not in (".h", ".cc"):
            continue
        folder = f.relative_to(src).parts[0]
        if folder not in LEVEL:
            bad.append(f"{f.relative_to(root)}: folder '{folder}' has no layer (add it to LAYERS and the docs)")
            continue
        for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            checked += 1
            target = m.group(1)
            if target == folder:
                continue
            if target not in LEVEL:
                bad.append(f"{f.relative_to(root)}:{n}: includes unknown folder '{target}'")
            elif LEVEL[target] >= LEVEL[folder]:
                how = "up" if LEVEL[target] > LEVEL[folder] else "sideways"
                bad.append(f"{f.relative_to(root)}:{n}: {folder} (layer {LEVEL[folder]}) includes {target} "
                           f"(layer {LEVEL[target]}): points {how}")
    for b in bad:
        print(b)
    print(f"{checked} includes checked, {len(bad)} pointing up or sideways")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
