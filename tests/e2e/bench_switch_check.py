"""End-to-end check of `qasr bench switch` on two tiny random models (a chatllm q4_0
.bin and a GGUF q8_0): the JSON schema that outside checks rely on, the verdict,
anonymous memory back at the baseline after every unload, the CSV timeline, and
the HTML report rendered in Debian's headless Chromium (the chart's pixels).
Usage: bench_switch_check.py QASR ASSETS WORK"""
import json
import os
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, finish  # noqa: E402

QASR, ASSETS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(WORK, exist_ok=True)


def run(args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        sys.exit(f"command failed: {args}")
    return r


a = os.path.join(WORK, "a-q4_0.bin")
b = os.path.join(WORK, "b-q8_0.gguf")
run([QASR, "synth", "--preset", "tiny-plain", "--seed", "1", "--format", "chatllm", "--type", "q4_0", "-o", a])
run([QASR, "synth", "--preset", "tiny-plain", "--seed", "2", "--format", "gguf", "--type", "q8_0", "-o", b])
out_json, out_csv, out_html = (os.path.join(WORK, f) for f in ("r.json", "r.csv", "r.html"))
ITER = 15
r = run([QASR, "bench", "switch", "--model", a, "--model", b, "--audio", os.path.join(ASSETS, "audio", "cmn_tw_phone.wav"),
         "--reference", "我的電話是0912345678", "--iterations", str(ITER), "--max-new-tokens", "8", "--threads", "2",
         "--json", out_json, "--csv", out_csv, "--report", out_html, "--quiet"])
check("Verdict:" in r.stdout and "Avg Net Leak per Switch" in r.stdout, "console summary printed")
check("RANDOM WEIGHTS" in r.stdout, "random weights labelled")
res = json.load(open(out_json))
s = res["summary"]
check(s["verdict"] == "no leak", f"verdict 'no leak' (got {s['verdict']!r}: {s['evidence']})")
check(isinstance(s["slope_mb_per_iter"], float), "summary.slope_mb_per_iter")
lo, hi = s["slope_ci95_mb_per_iter"]
check(-0.05 <= lo <= hi <= 0.05, f"slope interval [{lo:.4f}, {hi:.4f}] within ±0.05 MiB/iteration")
check(s["peak_rss_mb"] > 0, "summary.peak_rss_mb")
for k in ("rss_mb", "rss_anon_mb", "rss_file_mb", "swap_mb"):
    check(k in res["baseline"], f"baseline.{k}")
check(len(res["iterations"]) == ITER, f"{ITER} iterations recorded")
phases = ("before_load", "after_load", "after_inference", "after_unload", "after_trim")
base = res["baseline"]["rss_anon_mb"]
worst = 0.0
for it in res["iterations"]:
    for m in it["models"]:
        assert m["name"] in ("a-q4_0", "b-q8_0"), m["name"]
        for ph in phases:
            for k in ("rss_mb", "rss_anon_mb", "rss_file_mb", "swap_mb"):
                assert k in m["phases"][ph], (ph, k)
        worst = max(worst, abs(m["phases"]["after_trim"]["rss_anon_mb"] - base))
check(worst <= 2.0, f"anonymous memory after unload + trim within 2 MiB of the baseline at every switch (worst {worst:.3f})")
check(all(m["random_weights"] for m in res["config"]["models"]), "config marks random weights")
csv_lines = open(out_csv).read().strip().split("\n")
check(len(csv_lines) == 1 + ITER * 2 * 5, f"CSV: header + {ITER * 2 * 5} rows (got {len(csv_lines) - 1})")
html = open(out_html).read()
check(html.count('class="anon"') >= ITER * 2 * 5 - 1 and "http" not in html.split("<body>")[1].replace("http://www.w3.org", ""),
      "HTML: inline SVG segments, no network references")

# Render in headless Chromium and look at the pixels.
png = os.path.join(WORK, "report.png")
subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={os.path.join(WORK, 'chromium-profile')}", "--window-size=1100,1400",
                f"--screenshot={png}", "file://" + os.path.abspath(out_html)],
               capture_output=True, timeout=120)
check(os.path.exists(png), "Chromium wrote a screenshot")


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        (ln,) = struct.unpack(">I", data[pos:pos + 4])
        typ = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a_ = line[x - bpp] if x >= bpp else 0
            b_ = prev[x]
            c_ = prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a_) & 255
            elif f == 2: line[x] = (line[x] + b_) & 255
            elif f == 3: line[x] = (line[x] + (a_ + b_) // 2) & 255
            elif f == 4:
                p = a_ + b_ - c_
                pa, pb, pc = abs(p - a_), abs(p - b_), abs(p - c_)
                line[x] = (line[x] + (a_ if pa <= pb and pa <= pc else b_ if pb <= pc else c_)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


if os.path.exists(png):
    w, h, bpp, rows = read_png(png)
    counts = {"#1f77b4": 0, "#d62728": 0}
    targets = {k: tuple(int(k[i:i + 2], 16) for i in (1, 3, 5)) for k in counts}
    for row in rows:
        for x in range(0, w * bpp, bpp):
            px = row[x:x + 3]
            for k, t in targets.items():
                if all(abs(px[i] - t[i]) <= 30 for i in range(3)):
                    counts[k] += 1
    check(all(c >= 200 for c in counts.values()), f"chart drawn: model colours on screen {counts}")

# --allocator jemalloc re-executes qasr with Debian's libjemalloc preloaded.
je_json = os.path.join(WORK, "je.json")
run([QASR, "bench", "switch", "--model", a, "--audio", os.path.join(ASSETS, "audio", "cmn_tw_phone.wav"),
     "--iterations", "2", "--max-new-tokens", "4", "--allocator", "jemalloc", "--json", je_json, "--quiet"])
je = json.load(open(je_json))
check(je["config"]["allocator"] == "jemalloc" and je["config"]["allocator_preloaded"] == "jemalloc",
      "--allocator jemalloc: re-executed with jemalloc preloaded")

finish("bench checks")
