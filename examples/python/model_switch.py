#!/usr/bin/env python3
"""The earlier study's model-switching experiment (its run_model_switch.py), on qasr.

For each iteration: load model 1 (0.6B) → transcribe → unload, load model 2 (1.7B) → transcribe →
unload, reading this process's memory with psutil at every phase. Prints the study's summary table
(load overhead, unload release, net leak per switch, TTFT, speed, WER) and the overall memory, and
adds RssAnon (the heap and anonymous maps, from qasr.memory()): the figure a leak moves, whereas
RSS also counts the model file's page cache, which the kernel drops at unload as it pleases.

Same defaults and environment variables as the study:
    MODEL_1 (models/qwen3-asr-0.6b-q4_0.bin), MODEL_2 (models/qwen3-asr-1.7b-q4_0.bin),
    AUDIO_PATH (samples/phoneNumber1-zh-TW.wav), GROUND_TRUTH (0900073331),
    INFERENCE_THREADS (6), CONTEXT_LENGTH (4096: qasr's max_new_tokens), ITERATIONS (50).
Optional: RESULTS_JSON (write every phase's figures there), LANGUAGE (detect).

    python3 examples/python/model_switch.py
"""
import json
import os
import sys
import time
import unicodedata

import psutil

try:
    import qasr
except ImportError:  # run from the source tree without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import qasr

MB = 1024 * 1024
_DIGITS = {c: str(i) for i, c in enumerate("零一二三四五六七八九")}
_DIGITS.update({"〇": "0", "两": "2", "兩": "2"})


def normalize(text):
    """Lower case, Chinese digits as ASCII, punctuation and spaces dropped (the study scored a phone number)."""
    out = []
    for ch in unicodedata.normalize("NFKC", text).lower():
        ch = _DIGITS.get(ch, ch)
        if unicodedata.category(ch)[0] in "LN":
            out.append(ch)
    return "".join(out)


def error_rate(hyp, ref):
    """Character edit distance over the reference's length, in percent (the study's WER on a digit string)."""
    h, r = normalize(hyp), normalize(ref)
    if not r:
        return 0.0 if not h else 100.0
    prev = list(range(len(h) + 1))
    for i, rc in enumerate(r, 1):
        cur = [i] + [0] * len(h)
        for j, hc in enumerate(h, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc))
        prev = cur
    return 100.0 * prev[-1] / len(r)


def rss_mb(proc):
    return proc.memory_info().rss / MB


def anon_mb():
    return qasr.memory().rss_anon / MB


def run_model(path, audio, threads, max_new_tokens, language, truth, proc):
    before, before_anon = rss_mb(proc), anon_mb()
    t0 = time.perf_counter()
    model = qasr.Model(path, threads=threads, max_new_tokens=max_new_tokens)
    load_ms = (time.perf_counter() - t0) * 1000
    loaded, loaded_anon = rss_mb(proc), anon_mb()
    t = model.transcribe(audio, language=language)
    after_run = rss_mb(proc)
    model.close()
    unloaded, unloaded_anon = rss_mb(proc), anon_mb()
    decode_s = max(t.timings.decode_ms, 1e-6) / 1000
    return {
        "model": path, "before_mb": before, "loaded_mb": loaded, "after_transcribe_mb": after_run,
        "unloaded_mb": unloaded, "load_overhead_mb": loaded - before, "unload_release_mb": after_run - unloaded,
        "net_leak_mb": unloaded - before, "anon_before_mb": before_anon, "anon_loaded_mb": loaded_anon,
        "anon_unloaded_mb": unloaded_anon, "load_ms": load_ms, "ttft_ms": t.timings.first_token_ms,
        "total_ms": t.timings.total_ms, "chars_per_s": len(t.text) / decode_s, "text": t.text,
        "wer": error_rate(t.text, truth), "random_weights": model.info.random_weights,
    }


def mean(xs):
    return sum(xs) / len(xs) if xs else 0.0


def main():
    env = os.environ.get
    m1 = env("MODEL_1", "models/qwen3-asr-0.6b-q4_0.bin")
    m2 = env("MODEL_2", "models/qwen3-asr-1.7b-q4_0.bin")
    audio = env("AUDIO_PATH", "samples/phoneNumber1-zh-TW.wav")
    truth = env("GROUND_TRUTH", "0900073331")
    threads = int(env("INFERENCE_THREADS", "6"))
    max_new_tokens = int(env("CONTEXT_LENGTH", "4096"))
    iterations = int(env("ITERATIONS", "50"))
    language = env("LANGUAGE") or None
    for p in (m1, m2, audio):
        if not os.path.exists(p):
            sys.exit(f"model_switch: {p} does not exist (set MODEL_1, MODEL_2, AUDIO_PATH)")
    if iterations < 1:
        sys.exit("model_switch: ITERATIONS must be ≥ 1")

    bar = "=" * 70
    print(bar)
    print("Experiment 3: Model Switching Memory Benchmark (qasr " + qasr.version() + ")")
    print(bar)
    print(f"Model 1 (0.6B): {m1}\nModel 2 (1.7B): {m2}\nAudio: {audio}\nGround Truth: {truth}")
    print(f"Inference Threads: {threads}\nIterations: {iterations}\nLibrary: {qasr.library_path}")

    proc = psutil.Process()
    initial, initial_anon = rss_mb(proc), anon_mb()
    rows = {1: [], 2: []}
    anon_after = []  # RssAnon after each whole iteration
    for i in range(iterations):
        for k, path in ((1, m1), (2, m2)):
            rows[k].append(run_model(path, audio, threads, max_new_tokens, language, truth, proc))
        anon_after.append(anon_mb())
        print(f"iter {i + 1:3d}: RSS {rss_mb(proc):8.2f} MB  RssAnon {anon_after[-1]:8.2f} MB  "
              f"[{rows[1][-1]['text'][:24]!r} | {rows[2][-1]['text'][:24]!r}]", flush=True)
    final = rss_mb(proc)

    print(f"\n{bar}\nSummary ({iterations} iterations)\n{bar}\n")
    print(f"{'Metric':<36}{'0.6B Model':>16}{'1.7B Model':>16}")
    print("-" * 70)
    line = lambda name, key, f="{:16.2f}": print(f"{name:<36}" + "".join(f.format(mean([r[key] for r in rows[k]]))
                                                                          for k in (1, 2)))
    line("Avg Load Overhead (MB)", "load_overhead_mb")
    line("Avg Unload Release (MB)", "unload_release_mb")
    line("Avg Net Leak per Switch (MB)", "net_leak_mb")
    print("-" * 70)
    line("Avg TTFT (ms)", "ttft_ms")
    line("Avg Speed (chars/sec)", "chars_per_s")
    line("Avg WER (%)", "wer")
    print(f"\n{bar}\nOverall Memory\n{bar}\n")
    print(f"{'Initial Memory (MB)':<36}{initial:16.2f}")
    print(f"{'Final Memory (MB)':<36}{final:16.2f}")
    print(f"{'Total Growth (MB)':<36}{final - initial:16.2f}")
    print(f"{'Growth Rate (MB/iter)':<36}{(final - initial) / iterations:16.2f}")
    # The verdict reads RssAnon: from after the first iteration (the allocator's arenas and the
    # thread pool exist by then) to the last, and its slope over the iterations.
    first, last = anon_after[0], anon_after[-1]
    n = len(anon_after)
    xs = range(n)
    mx, my = mean(list(xs)), mean(anon_after)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, anon_after)) / max(sum((x - mx) ** 2 for x in xs), 1e-9)
    print(f"{'Initial RssAnon (MB)':<36}{initial_anon:16.2f}")
    print(f"{'RssAnon after iteration 1 (MB)':<36}{first:16.2f}")
    print(f"{'Final RssAnon (MB)':<36}{last:16.2f}")
    print(f"{'RssAnon slope (MB/iter)':<36}{slope if n > 1 else 0.0:16.3f}")
    leak = (last - first) > 2.0 or (n > 1 and slope > 0.5)
    if rows[1][0]["random_weights"] or rows[2][0]["random_weights"]:
        print("note: RANDOM WEIGHTS (qasr synth models): memory and speed are real, transcripts and WER are not")
    print(f"\nVerdict: {'LEAK: RssAnon grows across switches' if leak else 'no leak'} "
          f"(RssAnon {last - first:+.2f} MB from iteration 1 to {n}; threshold 2 MB and 0.5 MB/iter)")
    if env("RESULTS_JSON"):
        with open(env("RESULTS_JSON"), "w") as f:
            json.dump({"initial_mb": initial, "final_mb": final, "anon_after_iteration_mb": anon_after,
                       "model_1": rows[1], "model_2": rows[2], "leak": leak}, f, indent=1)
    return 1 if leak else 0


if __name__ == "__main__":
    sys.exit(main())
