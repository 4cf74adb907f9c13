"""Long audio end to end, on tiny random checkpoints (texts are meaningless; what is
checked is how pieces are cut, run and joined):

 - a synthetic 25-minute recording split at 1200 s and at 30 s: every piece's tokens and
   text equal transcribing that piece alone (cut by `qasr split`, padded as the official
   code pads), and the joined text is the pieces' texts joined with "";
 - word times from the tiny aligner offset into each piece, monotonic per piece; SRT and
   VTT read back by ffmpeg with monotonic cue times; every verbose_json field with its type;
 - peak RSS does not grow with the file (10 vs 40 minutes at 30 s pieces);
 - bad input: texts the aligner refuses, an ASR model as --aligner and the reverse,
   --timestamps word without an aligner, --dump-dir on long audio.
Usage: long_audio_check.py QASR DATA WORK
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import longaudio  # noqa: E402
from checks import check, finish  # noqa: E402
from wavio import write_wav_i16  # noqa: E402

QASR, DATA, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
# "memory": only the peak-RSS section (ctest long_audio_memory, release-only: ASan's quarantine
# keeps freed memory, so RSS grows with the work there); "functional": everything else.
MODE = sys.argv[4] if len(sys.argv) > 4 else "all"
os.makedirs(WORK, exist_ok=True)
EXIT_INVALID = 3


def run(args, timeout=900):
    return subprocess.run([QASR, *args], capture_output=True, text=True, timeout=timeout)


def synth(preset, seed, out):
    if not os.path.exists(os.path.join(out, "config.json")):
        r = run(["synth", "--preset", preset, "--seed", str(seed), "-o", out])
        assert r.returncode == 0, r.stderr


TINY = os.path.join(WORK, "tiny")
ALIGNER = os.path.join(WORK, "tiny-aligner")
synth("tiny", 1, TINY)
synth("tiny-aligner", 3, ALIGNER)
COMMON = ["--threads", "2", "--language", "English", "--ignore-eos", "--max-new-tokens", "6"]

long_path = os.path.join(WORK, "long25.wav")
x = longaudio.write(long_path, DATA, 1500.0)

for max_sec in (1200, 30):
    tag = f"25 min at {max_sec} s"
    r = run(["transcribe", "--model", TINY, long_path, "--max-segment-seconds", str(max_sec), "--output-format",
             "verbose_json", *COMMON])
    if r.returncode != 0:
        check(False, f"{tag}: transcribe exited {r.returncode}: {r.stderr.strip()}")
        continue
    doc = json.loads(r.stdout)
    sp = run(["split", long_path, "--max-seconds", str(max_sec)])
    ranges = [tuple(int(v) for v in line.split()) for line in sp.stdout.splitlines()]
    segs = doc["segments"]
    check(len(segs) == len(ranges) and len(ranges) == (2 if max_sec == 1200 else len(ranges)) and len(ranges) > 1,
          f"{tag}: {len(segs)} segments for {len(ranges)} pieces")
    offset, same, times_ok = 0.0, 0, True
    for i, (s, e) in enumerate(ranges[: len(segs)]):
        piece = x[s:e]
        if len(piece) < 8000:  # the official padding of short pieces
            piece = list(piece) + [0] * (8000 - len(piece))
        p = os.path.join(WORK, f"piece-{max_sec}-{i}.wav")
        write_wav_i16(p, piece)
        # Alone: one pass however long the piece (a piece may run 5 s past the cut).
        alone = run(["transcribe", "--model", TINY, p, "--json", "--max-segment-seconds", "1300", *COMMON])
        os.remove(p)
        if alone.returncode != 0:
            check(False, f"{tag}: piece {i} alone: {alone.stderr.strip()}")
            break
        j = json.loads(alone.stdout)
        if j["token_ids"] == segs[i]["tokens"] and j["text"] == segs[i]["text"]:
            same += 1
        times_ok &= abs(segs[i]["start"] - offset) < 1e-9 and abs(segs[i]["end"] - (offset + (e - s) / 16000)) < 1e-9
        offset += (e - s) / 16000
    check(same == len(ranges), f"{tag}: {same}/{len(ranges)} pieces give the same tokens and text as alone")
    check(times_ok, f"{tag}: segment times are the pieces' offsets (float64 running sums)")
    check(doc["text"] == "".join(s["text"] for s in segs), f"{tag}: the text is the pieces' texts joined with \"\"")
    check(abs(doc["duration"] - 1500.0) < 1e-6, f"{tag}: duration {doc['duration']}")

# ---- word times, subtitles, verbose_json ----
mid = os.path.join(WORK, "long4.wav")
longaudio.write(mid, DATA, 240.0, seed=11)
srt, vtt = os.path.join(WORK, "out.srt"), os.path.join(WORK, "out.vtt")
r = run(["transcribe", "--model", TINY, "--aligner", ALIGNER, mid, "--timestamps", "word", "--output-format",
         "verbose_json", *COMMON])
ok = r.returncode == 0
check(ok, f"4 min with --aligner --timestamps word: exit {r.returncode} {r.stderr.strip()[-200:]}")
if ok:
    doc = json.loads(r.stdout)
    fields = {"id": int, "seek": int, "start": float, "end": float, "text": str, "tokens": list, "temperature": float,
              "avg_logprob": float, "compression_ratio": float, "no_speech_prob": float}
    typed = all(k in s and isinstance(s[k], t if t is not float else (int, float)) for s in doc["segments"]
                for k, t in fields.items())
    check(typed and doc["task"] == "transcribe" and isinstance(doc["words"], list),
          f"verbose_json: task, duration, {len(doc['segments'])} segments with all ten fields typed, words")
    words = doc["words"]
    # 4 minutes, aligned in pieces of at most 180 s: two pieces, word times offset into each.
    sp = run(["split", mid, "--max-seconds", "180"])
    starts = [int(line.split()[0]) / 16000 for line in sp.stdout.splitlines()]
    check(len(starts) == 2 and any(w["start"] >= starts[1] for w in words),
          f"word times reach the second 180 s piece (offset {starts[1] if len(starts) > 1 else '?'} s)")
    check(all(isinstance(w["start"], (int, float)) and w["start"] <= w["end"] for w in words) and len(words) > 4,
          f"{len(words)} words, each start ≤ end")
    check(all(round(w["start"], 3) == w["start"] for w in words), "word times have at most 3 decimals")
for fmt, path in (("srt", srt), ("vtt", vtt)):
    r = run(["transcribe", "--model", TINY, "--aligner", ALIGNER, mid, "--output-format", fmt, "-o", path, *COMMON])
    if r.returncode != 0:
        check(False, f"{fmt}: {r.stderr.strip()}")
        continue
    ff = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "srt", "-"], capture_output=True,
                        text=True, timeout=60)
    times = []
    for line in ff.stdout.splitlines():
        if "-->" in line:
            a, b = [t.strip() for t in line.split("-->")]

            def sec(t):
                h, m, s = t.replace(",", ".").split(":")
                return int(h) * 3600 + int(m) * 60 + float(s)
            times.append((sec(a), sec(b)))
    mono = all(a <= b for a, b in times) and all(times[i][0] >= times[i - 1][0] for i in range(1, len(times)))
    check(ff.returncode == 0 and len(times) >= 2 and mono,
          f"{fmt} from word times read back by ffmpeg: {len(times)} cues, monotonic {mono}")
r = run(["transcribe", "--model", TINY, mid, "--segment-seconds", "30", "--output-format", "srt", *COMMON])
check(r.returncode == 0 and r.stdout.count("-->") >= 8,
      f"--segment-seconds 30 without an aligner: {r.stdout.count('-->')} cues, one per piece")

# ---- memory does not grow with the file ----


def peak_rss_mb(args):
    """Runs qasr; returns (exit status, its peak RSS in MiB). The peak is the VmHWM qasr
    prints (a child's rusage would count the forked Python's pages before exec)."""
    r = run(args)
    m = re.search(r"peak RSS (\d+) MiB", r.stderr)
    return r.returncode, float(m.group(1)) if m else float("inf")


peaks = {10: 0.0, 40: 0.0}
for minutes in ((10, 40) if MODE in ("all", "memory") else ()):
    p = os.path.join(WORK, f"long{minutes}m.wav")
    longaudio.write(p, DATA, minutes * 60.0, seed=minutes)
    rc, peak = peak_rss_mb(["transcribe", "--model", TINY, p, "--max-segment-seconds", "30", "--output-format",
                            "json", *COMMON])
    os.remove(p)
    check(rc == 0, f"{minutes} min at 30 s pieces: exit {rc}, peak RSS {peak:.0f} MB")
    peaks[minutes] = peak
if MODE in ("all", "memory"):
    check(peaks[40] <= peaks[10] * 1.1 + 8,
          f"peak RSS 10 min {peaks[10]:.0f} MB, 40 min {peaks[40]:.0f} MB: it does not grow with the file")

# ---- bad input ----
jfk = os.path.join(DATA, "audio", "whisper.cpp_jfk.wav")


def refused(what, args, needle):
    r = run(args, timeout=120)
    lines = r.stderr.strip().splitlines()
    check(r.returncode == EXIT_INVALID and len(lines) == 1 and needle in r.stderr and r.stdout == "",
          f"{what}: exit {r.returncode}, one line: {lines[-1] if lines else ''}")


refused("align an empty text", ["align", "--aligner", ALIGNER, jfk, "--text", ""], "give the transcript")
refused("align a text of spaces", ["align", "--aligner", ALIGNER, jfk, "--text", " \t "], "no word")
refused("align an all-punctuation text", ["align", "--aligner", ALIGNER, jfk, "--text", "... — !? ,,"], "no word")
refused("align a text longer than the audio can hold",
        ["align", "--aligner", ALIGNER, jfk, "--text", " ".join(["word"] * 400)], "holds at most")
refused("align with an ASR model", ["align", "--aligner", TINY, jfk, "--text", "and so"], "not a forced aligner")
refused("an ASR model as --aligner", ["transcribe", "--model", TINY, "--aligner", TINY, jfk], "transcription model")
refused("the aligner as --model", ["transcribe", "--model", ALIGNER, jfk], "is a forced aligner")
refused("--timestamps word without --aligner", ["transcribe", "--model", TINY, jfk, "--timestamps", "word"],
        "needs a forced aligner")
refused("--dump-dir on audio of several pieces",
        ["transcribe", "--model", TINY, mid, "--dump-dir", os.path.join(WORK, "dump"), "--max-segment-seconds", "60"],
        "one piece")
os.remove(long_path)
finish("long-audio checks")
