"""The qasr Python package over libqasr (pytest; run by ctest as `python`).

Environment (set by tests/CMakeLists.txt): QASR_BIN (the CLI, for reference outputs and synth),
QASR_LIBRARY (build/libqasr.so.1), QASR_TEST_DATA (tests/data), QASR_WORK (a scratch folder),
QASR_SOURCE (the repository)."""
import json
import os
import subprocess
import sys
import threading
import time
import wave

import numpy as np
import pytest

import qasr

BIN = os.environ["QASR_BIN"]
DATA = os.environ["QASR_TEST_DATA"]
WORK = os.environ["QASR_WORK"]
SRC = os.environ["QASR_SOURCE"]
WAV = os.path.join(DATA, "audio", "whisper.cpp_jfk.wav")
WAV_ZH = os.path.join(DATA, "audio", "wenet_aishell-BAC009S0724W0121.wav")
TOKENS = 16


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="session")
def tiny():
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "tiny")  # an HF folder (config.json, model.safetensors, tokenizer)
    if not os.path.exists(path):
        r = run([BIN, "synth", "--preset", "tiny", "--seed", "7", "-o", path])
        assert r.returncode == 0, r.stderr
    return path


@pytest.fixture(scope="session")
def tiny_aligner():
    path = os.path.join(WORK, "tiny-aligner.gguf")
    if not os.path.exists(path):
        r = run([BIN, "synth", "--preset", "tiny-aligner", "--seed", "3", "-o", path])
        assert r.returncode == 0, r.stderr
    return path


@pytest.fixture(scope="session")
def model(tiny):
    with qasr.Model(tiny, threads=2) as m:
        yield m


def cli_tokens(model_path, wav, *extra):
    r = run([BIN, "transcribe", "--model", model_path, wav, "--json", "--max-new-tokens", str(TOKENS),
             "--threads", "2", *extra])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["token_ids"]


def pcm(path):
    with wave.open(path) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def test_version_and_library():
    assert qasr.version().count(".") == 2
    assert os.path.samefile(qasr.library_path, os.environ["QASR_LIBRARY"])


def test_info(model):
    i = model.info
    assert i.kind == "asr" and i.random_weights and i.text_layers == 2 and i.vocab_size == 151936
    assert i.mapped_bytes > 0 and i.format in ("hf-safetensors", "gguf", "chatllm-bin")


def test_path_bytes_numpy_equal_the_cli(model, tiny):
    want = cli_tokens(tiny, WAV)
    assert len(want) == TOKENS
    by_path = model.transcribe(WAV, max_new_tokens=TOKENS)
    assert by_path.token_ids == want
    with open(WAV, "rb") as f:
        assert model.transcribe(f.read(), max_new_tokens=TOKENS).token_ids == want
    samples = pcm(WAV)
    got = model.transcribe(samples, max_new_tokens=TOKENS)
    assert got.token_ids == want
    assert got.text == by_path.text and abs(got.duration - len(samples) / 16000) < 1e-6
    # other dtypes are converted; the result is the same
    assert model.transcribe(samples.astype(np.float64), max_new_tokens=TOKENS).token_ids == want


def test_language_and_context_reach_the_prompt(model, tiny):
    want = cli_tokens(tiny, WAV_ZH, "--language", "Chinese", "--context", "交通 新闻")
    got = model.transcribe(WAV_ZH, language="zh", context="交通 新闻", max_new_tokens=TOKENS)
    assert got.token_ids == want and got.language == "Chinese"
    assert model.transcribe(WAV_ZH, max_new_tokens=TOKENS).token_ids != want


def test_transcript_fields(model):
    t = model.transcribe(WAV, language="en", max_new_tokens=TOKENS, formats=("srt", "vtt", "json"))
    assert t.text and t.segments and t.segments[0].start == 0.0 and t.segments[-1].end == pytest.approx(11.0, abs=0.1)
    assert t.timings.total_ms >= t.timings.encoder_ms > 0 and t.timings.decode_ms > 0
    assert t.render("srt").startswith("1\n00:00:00,000 --> ") and t.render("vtt").startswith("WEBVTT")
    assert json.loads(t.render("json"))["text"] == t.text
    with pytest.raises(qasr.InvalidArgument):
        t.render("txt")


def test_on_text_streams_the_text(model):
    pieces = []
    t = model.transcribe(WAV, language="en", max_new_tokens=TOKENS, on_text=pieces.append)
    assert len(pieces) > 3 and "".join(pieces).strip() == t.text


def test_on_text_false_stops(model):
    pieces = []

    def cb(p):
        pieces.append(p)
        return len(pieces) < 2

    with pytest.raises(qasr.Cancelled) as e:
        model.transcribe(WAV, language="en", max_new_tokens=TOKENS, on_text=cb)
    assert len(pieces) == 2 and e.value.code == "cancelled" and "stopped" in str(e.value)
    # the session is usable afterwards, with the same result as before
    assert len(model.transcribe(WAV, max_new_tokens=TOKENS).token_ids) == TOKENS


def test_exception_in_on_text_is_raised(model):
    def cb(p):
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        model.transcribe(WAV, language="en", max_new_tokens=TOKENS, on_text=cb)


def test_cancel_from_another_thread(model):
    started = threading.Event()
    t = threading.Timer(0.0, lambda: (started.wait(10), model.cancel()))
    t.start()
    with pytest.raises(qasr.Cancelled):
        model.transcribe(WAV, language="en", max_new_tokens=4096, on_text=lambda p: started.set())
    t.join(10)


def test_errors(model, tiny, tmp_path):
    cases = [
        (qasr.NotFound, lambda: qasr.Model(str(tmp_path / "missing.gguf")), "does not exist"),
        (qasr.NotFound, lambda: model.transcribe(str(tmp_path / "missing.wav")), "does not exist"),
        (qasr.InvalidArgument, lambda: model.transcribe(WAV, language="Klingon"), "unknown language"),
        (qasr.InvalidArgument, lambda: model.transcribe(WAV, temperature=2.0), "temperature"),
        (qasr.InvalidArgument, lambda: model.transcribe(WAV, timestamps="word"), "forced aligner"),
        (qasr.InvalidArgument, lambda: model.transcribe(np.zeros((2, 16000), np.float32)), "1-D"),
        (qasr.InvalidArgument, lambda: model.transcribe(42), "not int"),
        (qasr.InvalidArgument, lambda: qasr.Model(tiny, kv_cache="f8"), "kv_cache"),
        (qasr.InvalidArgument, lambda: qasr.Model(tiny, max_piece_seconds=1.0), "max_piece_seconds"),
        (qasr.TooLarge, lambda: model.transcribe(WAV, max_audio_seconds=2.0), ""),
        (qasr.DeadlineExceeded, lambda: model.transcribe(WAV, max_new_tokens=4096, timeout=0.001), ""),
        (qasr.InvalidFormat, lambda: model.transcribe(b"RIFF\x00\x00\x00\x00WAVEjunk" * 8), ""),
        (qasr.Unsupported, lambda: model.transcribe(os.path.join(DATA, "audio", "aishell_16k.m4a")), ""),
    ]
    corrupt = tmp_path / "corrupt.gguf"  # a GGUF header that promises more than the file holds
    corrupt.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + (1 << 40).to_bytes(8, "little") + bytes(64))
    cases.append((qasr.InvalidFormat, lambda: qasr.Model(str(corrupt)), ""))
    for cls, call, words in cases:
        with pytest.raises(cls) as e:
            call()
        msg = str(e.value)
        assert isinstance(e.value, qasr.Error) and e.value.code == cls.code and msg and "\n" not in msg, msg
        assert words in msg, msg
    # Python's own base classes come along (except FileNotFoundError etc.)
    assert issubclass(qasr.NotFound, FileNotFoundError) and issubclass(qasr.DeadlineExceeded, TimeoutError)
    # every status of the C API has its class, named after the code
    import qasr._native as n
    for status, cls in qasr._BY_STATUS.items():
        assert n.qasr_status_name(status).decode() == cls.code


def test_closed_model_and_aligner_model(tiny, tiny_aligner):
    m = qasr.Model(tiny, threads=1)
    m.close()
    m.close()  # twice is fine
    with pytest.raises(qasr.InvalidArgument, match="closed"):
        m.transcribe(WAV)
    with qasr.Model(tiny_aligner) as a:
        assert a.info.kind == "forced-aligner" and a.info.classify_num > 0
        with pytest.raises(qasr.InvalidArgument, match="cannot transcribe"):
            a.transcribe(WAV)


def test_word_timestamps_equal_the_cli(model, tiny, tiny_aligner):
    r = run([BIN, "transcribe", "--model", tiny, WAV, "--output-format", "verbose_json", "--max-new-tokens",
             str(TOKENS), "--threads", "2", "--language", "English", "--aligner", tiny_aligner, "--timestamps", "word"])
    assert r.returncode == 0, r.stderr
    want = [(w["word"].strip(), w["start"], w["end"]) for w in json.loads(r.stdout)["words"]]
    with qasr.Model(tiny_aligner) as a:
        t = model.transcribe(WAV, language="en", max_new_tokens=TOKENS, timestamps="word", aligner=a)
    assert t.words and [(w.text.strip(), w.start, w.end) for w in t.words] == want


def test_two_threads_on_one_model_give_the_serial_results(tiny):
    base = qasr.memory().sessions
    with qasr.Model(tiny, threads=1) as m:
        serial = [m.transcribe(w, max_new_tokens=TOKENS).token_ids for w in (WAV, WAV_ZH)]
        out = [None, None]

        def work(i, w):
            out[i] = m.transcribe(w, max_new_tokens=TOKENS).token_ids

        ts = [threading.Thread(target=work, args=(i, w)) for i, w in enumerate((WAV, WAV_ZH))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert out == serial
        assert qasr.memory().sessions - base == 2  # each concurrent call had a session of its own


def test_gil_is_released_during_a_call(model):
    ticks = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=counter)
    t.start()
    before = ticks[0]
    start = time.perf_counter()
    model.transcribe(WAV, max_new_tokens=TOKENS)
    elapsed = time.perf_counter() - start
    during = ticks[0] - before
    stop.set()
    t.join(10)
    # the counter thread ran while the engine worked (with the GIL held it could not tick at all)
    assert elapsed > 0.05 and during >= 10, (elapsed, during)


def test_cycles_give_memory_back(tiny):
    def cycle():
        with qasr.Model(tiny, threads=2) as m:
            m.transcribe(WAV, max_new_tokens=TOKENS)

    cycle()  # the allocator's arenas and the thread pool exist after the first
    start = qasr.memory()
    for _ in range(10):
        cycle()
    end = qasr.memory()
    assert end.models == start.models and end.sessions == start.sessions
    assert abs(end.rss_anon - start.rss_anon) < 2 * 1024 * 1024, (start.rss_anon, end.rss_anon)


def test_ported_harness_reports_no_leak(tiny, tmp_path):
    other = os.path.join(WORK, "tiny-plain.gguf")
    if not os.path.exists(other):
        assert run([BIN, "synth", "--preset", "tiny-plain", "--seed", "8", "-o", other]).returncode == 0
    results = tmp_path / "results.json"
    env = dict(os.environ, MODEL_1=tiny, MODEL_2=other, AUDIO_PATH=WAV_ZH, ITERATIONS="3", INFERENCE_THREADS="2",
               CONTEXT_LENGTH=str(TOKENS), RESULTS_JSON=str(results))
    r = run([sys.executable, os.path.join(SRC, "examples", "python", "model_switch.py")], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ("Avg Net Leak per Switch (MB)", "Avg TTFT (ms)", "Growth Rate (MB/iter)", "Verdict: no leak",
                 "RANDOM WEIGHTS"):
        assert line in r.stdout
    data = json.loads(results.read_text())
    assert len(data["model_1"]) == 3 and len(data["model_2"]) == 3 and data["leak"] is False


def test_venv_offline_install(tiny, tmp_path):
    venv = tmp_path / "venv"
    r = run(["/usr/bin/python3", "-m", "venv", str(venv)])
    assert r.returncode == 0, r.stderr
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QASR_LIBRARY")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", QASR_LIBRARY=os.environ["QASR_LIBRARY"])
    build = tmp_path / "src"  # a copy, so the install writes nothing into the repository
    subprocess.run(["cp", "-r", os.path.join(SRC, "python"), str(build)], check=True)
    subprocess.run(["cp", os.path.join(SRC, "CMakeLists.txt"), str(tmp_path)], check=True)
    r = run([py, "-m", "pip", "install", "--no-index", str(build)], env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    env.pop("QASR_LIBRARY")  # the bundled copy is found without it
    code = ("import qasr, sys; m = qasr.Model(sys.argv[1], threads=1); "
            "print(qasr.version(), qasr.library_path, len(m.transcribe(sys.argv[2], max_new_tokens=4).token_ids))")
    r = run([py, "-c", code, tiny, WAV], env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    version, lib, n = r.stdout.split()
    assert version == qasr.version() and lib.startswith(str(venv)) and n == "4"
