#!/usr/bin/env python3
"""`qasr serve` over real HTTP on 127.0.0.1 with tiny models: every endpoint, every response
format (SRT and VTT read back by ffmpeg), the SSE sequence, the errors of server-api.md §1.6,
the upload cap for chunked and Content-Length bodies (RSS flat while 10× the cap streams
in), queue full, cancel on disconnect, deadline, SIGTERM drain with a request in flight,
auth, admin, routing keys, silence. Every server is stopped by its pid; every loop is
bounded in count and time.

Usage: serve_check.py QASR DATA_DIR WORK_DIR
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, finish  # noqa: E402
from serve_lib import Server, metric, multipart, raw_connection, request, sse_events, transcribe  # noqa: E402

QASR, DATA, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
TINY = f"{DATA}/chatllm/tiny-q4_0.bin"
TINY8 = f"{DATA}/chatllm/tiny-q8_0.bin"
JFK = open(f"{DATA}/audio/whisper.cpp_jfk.wav", "rb").read()
FLAC = open(f"{DATA}/audio/aishell_16k.flac", "rb").read()
M4A = open(f"{DATA}/audio/aishell_16k.m4a", "rb").read()
SANITIZED = "ASAN_OPTIONS" in os.environ
servers = []


def start(args, **kw):
    s = Server(QASR, ["--model", f"tiny={TINY}", "--model", f"tiny8={TINY8}"] + args,
               log=os.path.join(WORK, f"serve{len(servers)}.log"), **kw)
    servers.append(s)
    return s


def err_of(body):
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return None


def expect_api_error(name, resp, status, code=None, param=None):
    st, headers, body = resp
    e = err_of(body)
    good = (st == status and e is not None and set(e) == {"message", "type", "param", "code"} and
            (code is None or e["code"] == code) and (param is None or e["param"] == param))
    check(good, f"{name}: {st} (want {status}) {body[:180]!r}")
    return headers


def wav_of(samples, rate=16000):
    data = b"".join(int(s).to_bytes(2, "little", signed=True) for s in samples)
    return (b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little") +
            (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + rate.to_bytes(4, "little") +
            (2 * rate).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little") + b"data" +
            len(data).to_bytes(4, "little") + data)


try:
    # ---------------------------------------------------------------- endpoints and formats
    s = start(["--max-upload-mb", "1", "--max-audio-seconds", "30"])
    p = s.port
    st, _, body = request(p, "GET", "/health")
    check(st == 200 and json.loads(body)["status"] == "ok", f"/health {st} {body!r}")
    st, _, body = request(p, "GET", "/ready")
    check(st == 200 and json.loads(body)["status"] == "ready", f"/ready {st}")
    st, _, body = request(p, "GET", "/v1/models")
    ids = [m["id"] for m in json.loads(body)["data"]]
    check(st == 200 and ids == ["tiny", "tiny8"] and all(
        set(m) >= {"id", "object", "created", "owned_by"} for m in json.loads(body)["data"]), f"/v1/models {ids}")
    st, _, body = request(p, "GET", "/v1/models/tiny8")
    check(st == 200 and json.loads(body)["id"] == "tiny8", "/v1/models/{id}")
    expect_api_error("/v1/models/{unknown}", request(p, "GET", "/v1/models/nope"), 404, "model_not_found", "model")
    st, _, body = request(p, "GET", "/models")
    check(st == 200 and all(m["status"]["value"] == "unloaded" for m in json.loads(body)["data"]), "/models before use")

    st, h, body = transcribe(p, JFK, [("model", "tiny")])
    j = json.loads(body)
    check(st == 200 and h["content-type"].startswith("application/json") and "text" in j and
          j["usage"]["type"] == "tokens" and j["usage"]["input_token_details"]["audio_tokens"] == 143,
          f"json: {st} usage {j.get('usage')}")
    for fmt_, ctype in [("text", "text/plain"), ("srt", "text/plain"), ("vtt", "text/vtt")]:
        st, h, body = transcribe(p, JFK, [("model", "tiny"), ("response_format", fmt_), ("language", "en")])
        check(st == 200 and h["content-type"].startswith(ctype), f"{fmt_}: {st} {h.get('content-type')}")
        if fmt_ in ("srt", "vtt"):
            path = os.path.join(WORK, f"out.{fmt_}")
            with open(path, "wb") as f:
                f.write(body)
            ff = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "srt", "-"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            cues = ff.stdout.decode().count(" --> ")
            check(ff.returncode == 0 and cues >= 1, f"{fmt_} read back by ffmpeg: rc {ff.returncode}, {cues} cue(s)")
    st, h, body = transcribe(p, JFK, [("model", "tiny8"), ("response_format", "verbose_json"),
                                      ("timestamp_granularities[]", "segment"), ("temperature", "0")])
    j = json.loads(body)
    seg_ok = all(set(sg) >= {"id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
                             "compression_ratio", "no_speech_prob"} for sg in j.get("segments", []))
    check(st == 200 and j["task"] == "transcribe" and j["duration"] == 11.0 and seg_ok and "words" not in j and
          j["usage"] == {"type": "duration", "seconds": 11} and isinstance(j["segments"][0]["tokens"], list),
          f"verbose_json: every segment field, no words, usage duration: {st}")

    # Sampling: temperature > 0 is reproducible with a seed.
    runs = [json.loads(transcribe(p, JFK, [("model", "tiny"), ("temperature", "0.8"), ("seed", "7"),
                                           ("response_format", "verbose_json")])[2])["segments"][0]["tokens"]
            for _ in range(2)]
    greedy = json.loads(transcribe(p, JFK, [("model", "tiny"), ("response_format", "verbose_json")])[2])
    check(runs[0] == runs[1] and runs[0] != greedy["segments"][0]["tokens"],
          "temperature 0.8 with seed 7: the same tokens twice, not the greedy ones")

    # SSE: deltas, then exactly one done whose text is the deltas joined, with usage.
    st, h, body = transcribe(p, JFK, [("model", "tiny"), ("stream", "true"), ("language", "en")])
    events, _ = sse_events(body)
    deltas = [e for e in events if e.get("type") == "transcript.text.delta"]
    dones = [e for e in events if e.get("type") == "transcript.text.done"]
    check(st == 200 and h["content-type"].startswith("text/event-stream") and deltas and len(dones) == 1 and
          events[-1] is dones[0] and dones[0]["text"] == "".join(d["delta"] for d in deltas) and
          dones[0]["usage"]["type"] == "tokens" and b"[DONE]" not in body,
          f"SSE: {len(deltas)} deltas then one done with the joined text and usage")

    # Routing keys: X-Model stands in, must agree; /m/<model>/v1 prefix.
    st, _, _ = transcribe(p, JFK, [], headers={"X-Model": "tiny8"})
    check(st == 200, f"X-Model stands in for the form field: {st}")
    st, _, _ = transcribe(p, JFK, [], headers={"X-Gateway-Model-Name": "tiny"})
    check(st == 200, f"X-Gateway-Model-Name alias: {st}")
    expect_api_error("X-Model disagreeing with the form", transcribe(p, JFK, [("model", "tiny")],
                                                                      headers={"X-Model": "tiny8"}), 400, None, "model")
    st, _, _ = transcribe(p, JFK, [], path="/m/tiny8/v1/audio/transcriptions")
    check(st == 200, f"/m/<model>/v1 prefix: {st}")
    st, _, body = request(p, "GET", "/m/tiny/v1/models")
    check(st == 200, "/m/<model>/v1/models")

    # Silence and empty audio: 200 with empty text.
    st, _, body = transcribe(p, wav_of([]), [("model", "tiny")])
    check(st == 200 and json.loads(body)["text"] == "", f"a WAV without samples: {st} {body!r}")
    st, _, body = transcribe(p, wav_of([0] * 100), [("model", "tiny"), ("response_format", "verbose_json")])
    check(st == 200 and json.loads(body)["text"] == "", f"100 samples of silence: {st}")

    # ---------------------------------------------------------------- errors (§1.6)
    ct, body = multipart([("model", "tiny")], [])
    expect_api_error("missing file", request(p, "POST", "/v1/audio/transcriptions", body, {"Content-Type": ct}), 400,
                     None, "file")
    expect_api_error("missing model", transcribe(p, JFK, []), 400, None, "model")
    expect_api_error("unknown model", transcribe(p, JFK, [("model", "nope")]), 404, "model_not_found", "model")
    expect_api_error("a path as model name", transcribe(p, JFK, [("model", "../../etc/passwd")]), 404,
                     "model_not_found", "model")
    expect_api_error("bad language", transcribe(p, JFK, [("model", "tiny"), ("language", "klingon")]), 400, None,
                     "language")
    expect_api_error("granularities without verbose_json",
                     transcribe(p, JFK, [("model", "tiny"), ("timestamp_granularities[]", "segment")]), 400, None,
                     "timestamp_granularities")
    expect_api_error("word timestamps without an aligner",
                     transcribe(p, JFK, [("model", "tiny"), ("response_format", "verbose_json"),
                                         ("timestamp_granularities[]", "word")]), 400, None, "timestamp_granularities")
    expect_api_error("diarized_json", transcribe(p, JFK, [("model", "tiny"), ("response_format", "diarized_json")]),
                     400, None, "response_format")
    expect_api_error("temperature 3", transcribe(p, JFK, [("model", "tiny"), ("temperature", "3")]), 400, None,
                     "temperature")
    expect_api_error("stream=maybe", transcribe(p, JFK, [("model", "tiny"), ("stream", "maybe")]), 400, None,
                     "stream")
    expect_api_error("an unknown field", transcribe(p, JFK, [("model", "tiny"), ("frobnicate", "1")]), 400)
    expect_api_error("speaker names", transcribe(p, JFK, [("model", "tiny"), ("known_speaker_names[]", "bob")]), 400)
    expect_api_error("garbage bytes as audio", transcribe(p, os.urandom(5000), [("model", "tiny")]), 400,
                     "invalid_file_format", "file")
    expect_api_error("m4a (AAC)", transcribe(p, M4A, [("model", "tiny")], filename="a.m4a"), 400,
                     "invalid_file_format", "file")
    long_audio = wav_of([0] * (16000 * 31))
    expect_api_error("audio over --max-audio-seconds", transcribe(p, long_audio, [("model", "tiny")]), 400,
                     "audio_too_long", "file")
    expect_api_error("not multipart", request(p, "POST", "/v1/audio/transcriptions", b"{}",
                                              {"Content-Type": "application/json"}), 400)
    expect_api_error("malformed multipart", request(p, "POST", "/v1/audio/transcriptions", b"--x\r\nnope",
                                                    {"Content-Type": "multipart/form-data; boundary=x"}), 400)
    expect_api_error("translations", transcribe(p, JFK, [("model", "tiny")], path="/v1/audio/translations"), 404)
    expect_api_error("GET on transcriptions", request(p, "GET", "/v1/audio/transcriptions"), 405)
    expect_api_error("unknown path", request(p, "GET", "/nope"), 404)
    # Malformed HTTP: a clear 400, the server keeps serving.
    c = raw_connection(p)
    c.sendall(b"BLAH / HTTP/9.9\r\n\r\n")
    reply = c.recv(4096)
    c.close()
    check(reply.startswith(b"HTTP/1.1 400") or reply == b"", f"malformed request line: {reply[:40]!r}")
    check(request(p, "GET", "/health")[0] == 200, "serving after the malformed request")

    # ---------------------------------------------------------------- the upload cap
    big = os.urandom(2 << 20)
    expect_api_error("Content-Length body over the cap", transcribe(p, big, [("model", "tiny")]), 413,
                     "request_too_large")

    def chunked_upload(total, chunk=64 << 10):
        """Streams a multipart body of `total` bytes chunked; returns (status line, RSS samples kB)."""
        c = raw_connection(p, timeout=60)
        b = "capcheck"
        c.sendall(("POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   f"Content-Type: multipart/form-data; boundary={b}\r\n\r\n").encode())
        head = f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n".encode()
        c.sendall(f"{len(head):x}\r\n".encode() + head + b"\r\n")
        sent, rss = 0, []
        piece = b"\0" * chunk
        try:
            while sent < total:
                c.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
                if sent % (1 << 20) == 0:
                    rss.append(s.rss_kb())
        except OSError:
            pass  # the server answered and closed: the rest was never read
        c.settimeout(10)
        try:
            reply = c.recv(4096)
        except OSError:
            reply = b""
        c.close()
        return reply.split(b"\r\n", 1)[0], rss

    r0 = s.rss_kb()
    line, rss = chunked_upload(10 << 20)
    growth = (max(rss + [s.rss_kb()]) - r0) / 1024
    check(line.startswith(b"HTTP/1.1 413") and growth < 8,
          f"chunked body 10× the 1 MiB cap: {line.decode()!r}, RSS growth {growth:.1f} MiB while it streamed")
    check(request(p, "GET", "/health")[0] == 200, "serving after the capped uploads")

    # ---------------------------------------------------------------- admin
    st, _, body = request(p, "POST", "/models/unload", json.dumps({"model": "tiny"}).encode(),
                          {"Content-Type": "application/json"})
    check(st == 200 and json.loads(body) == {"success": True}, f"unload a loaded model: {st}")
    st, _, body = request(p, "POST", "/models/unload", json.dumps({"model": "tiny"}).encode())
    check(st == 200 and json.loads(body) == {"success": True}, "unload a configured model that is not loaded: 200")
    st, _, body = request(p, "POST", "/models/load", json.dumps({"model": "tiny"}).encode())
    check(st == 200, f"load: {st}")
    st, _, body = request(p, "GET", "/models")
    states = {m["id"]: m["status"]["value"] for m in json.loads(body)["data"]}
    check(states["tiny"] == "loaded", f"/models after load: {states}")
    expect_api_error("load an unknown model", request(p, "POST", "/models/load", b'{"model":"zz"}'), 404,
                     "model_not_found")
    expect_api_error("load with a bad body", request(p, "POST", "/models/load", b'[1,2'), 400)
    st, _, body = request(p, "GET", "/metrics")
    text = body.decode()
    check(st == 200 and "qasr_requests_total{" in text and "qasr_model_loaded{model=\"tiny\"} 1" in text and
          ":" not in "".join(l.split()[0] for l in text.splitlines() if l and not l.startswith("#")).replace(
              'le="', "").split("{")[0], "/metrics: qasr_ names, loaded gauge")
    rc = s.stop(signal.SIGTERM)
    check(rc == 0, f"SIGTERM when idle: exit {rc}")

    # ---------------------------------------------------------------- auth
    s = start(["--api-key", "sekrit"])
    p = s.port
    expect_api_error("no API key", transcribe(p, JFK, [("model", "tiny")]), 401, "invalid_api_key")
    expect_api_error("wrong API key", transcribe(p, JFK, [("model", "tiny")], headers={"Authorization": "Bearer x"}),
                     401, "invalid_api_key")
    expect_api_error("/v1/models needs the key too", request(p, "GET", "/v1/models"), 401)
    st, _, _ = transcribe(p, JFK, [("model", "tiny")], headers={"Authorization": "Bearer sekrit"})
    check(st == 200, f"the right API key: {st}")
    check(request(p, "GET", "/health")[0] == 200 and request(p, "GET", "/ready")[0] == 200,
          "/health and /ready without a key")
    s.stop()

    # ---------------------------------------------------------------- queue full, cancel, deadline, drain
    delay = ["--debug-step-delay-ms", "50"]  # ~30 progress reports: a request takes seconds
    s = start(["--parallel", "1", "--queue", "0"] + delay)
    p = s.port
    slow = {}

    def slow_request(key, fields):
        slow[key] = transcribe(p, JFK, fields, timeout=120)

    t = threading.Thread(target=slow_request, args=("a", [("model", "tiny")]))
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    h = expect_api_error("queue full", transcribe(p, JFK, [("model", "tiny")]), 503, "server_busy")
    check(h.get("retry-after") is not None and time.monotonic() - t0 < 2, "queue full: at once, with Retry-After")
    times = []
    for _ in range(20):
        t1 = time.monotonic()
        request(p, "GET", "/health")
        times.append(time.monotonic() - t1)
    check(max(times) < 0.5, f"/health while the worker is busy: max {max(times) * 1000:.0f} ms")
    t.join(timeout=120)
    check(slow.get("a", (0,))[0] == 200, "the slow request completes")

    # Cancel on disconnect: the worker stops and takes the next request.
    before = metric(p, "qasr_requests_cancelled_total", {"model": "tiny"})
    ct, body = multipart([("model", "tiny"), ("stream", "true")], [("file", "a.wav", JFK)])
    c = raw_connection(p)
    c.sendall((f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    time.sleep(0.6)
    c.close()
    deadline = time.monotonic() + 10
    while metric(p, "qasr_requests_cancelled_total", {"model": "tiny"}) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    check(metric(p, "qasr_requests_cancelled_total", {"model": "tiny"}) == before + 1,
          "a client that went away: counted as cancelled")
    # The worker stops at its next step; until then a request may still find it busy (503).
    t0 = time.monotonic()
    st = 0
    for _ in range(100):
        st, _, _ = transcribe(p, JFK, [("model", "tiny8")], timeout=60)
        if st != 503 or time.monotonic() - t0 > 10:
            break
        time.sleep(0.1)
    check(st == 200 and time.monotonic() - t0 < 30, f"the worker takes the next request ({time.monotonic() - t0:.1f} s)")
    s.stop()

    s = start(["--request-timeout", "0.3"] + delay)
    expect_api_error("deadline", transcribe(s.port, JFK, [("model", "tiny")]), 408, "timeout")
    s.stop()

    # SIGTERM drain with a request in flight: during --drain-delay /ready is 503 and new
    # transcriptions are still served (a balancer has not noticed yet); after it the listener
    # is closed (a balancer retries a refused connection elsewhere); in-flight work finishes.
    s = start(["--drain-delay", "1"] + delay)
    p = s.port
    t = threading.Thread(target=slow_request, args=("drain", [("model", "tiny")]))
    t.start()
    time.sleep(0.5)
    t_term = time.monotonic()
    os.kill(s.pid, signal.SIGTERM)
    time.sleep(0.2)
    check(request(p, "GET", "/ready")[0] == 503, "/ready is 503 during the drain")
    t2 = threading.Thread(target=slow_request, args=("during_delay", [("model", "tiny")]))
    t2.start()
    time.sleep(max(0.0, 1.4 - (time.monotonic() - t_term)))
    refused = False
    try:
        socket.create_connection(("127.0.0.1", p), timeout=2).close()
    except OSError:
        refused = True
    check(refused, "after --drain-delay new connections are refused")
    t.join(timeout=120)
    t2.join(timeout=120)
    check(slow.get("drain", (0,))[0] == 200, "the request in flight finishes during the drain")
    check(slow.get("during_delay", (0,))[0] == 200, "a transcription sent during --drain-delay is served")
    try:
        rc = s.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, f"drained server exits 0 (got {rc})")

    # ---------------------------------------------------------------- long audio, word times
    aligner = os.path.join(WORK, "tiny-aligner")
    if not os.path.exists(os.path.join(aligner, "config.json")):
        subprocess.run([QASR, "synth", "--preset", "tiny-aligner", "--seed", "3", "-o", aligner], check=True,
                       capture_output=True, timeout=120)
    # One model loaded at a time: the transcription model is released before the aligner loads.
    s = start(["--aligner", f"al={aligner}", "--max-loaded", "1", "--max-segment-seconds", "10",
               "--max-audio-seconds", "60"])
    p = s.port
    speech = JFK[44:]
    samples = []
    for k in range(3):  # 3 × 11 s of speech with 1 s gaps: 35 s, three or four pieces at 10 s
        samples += [int.from_bytes(speech[i:i + 2], "little", signed=True) for i in range(0, len(speech), 2)]
        samples += [0] * 16000
    long_wav = wav_of(samples)
    st, _, body = transcribe(p, long_wav, [("model", "tiny"), ("response_format", "verbose_json"),
                                           ("language", "en"), ("timestamp_granularities[]", "word"),
                                           ("timestamp_granularities[]", "segment")], timeout=300)
    doc = json.loads(body) if st == 200 else {}
    segs = doc.get("segments", [])
    check(st == 200 and len(segs) >= 3 and all(segs[i]["start"] >= segs[i - 1]["start"] for i in range(1, len(segs))),
          f"35 s at --max-segment-seconds 10: {st}, {len(segs)} segments in order")
    words = doc.get("words")
    check(isinstance(words, list) and len(words) > 0 and all(set(w) == {"word", "start", "end"} for w in words),
          f"timestamp_granularities[]=word with --aligner: {len(words or [])} words of word/start/end")
    check(abs(doc.get("duration", 0) - len(samples) / 16000) < 1e-6, f"duration {doc.get('duration')}")
    check(metric(p, "qasr_model_loads_total", {"model": "al"}) >= 1, "the aligner was loaded by the model manager")
    st, _, body = transcribe(p, long_wav, [("model", "tiny"), ("response_format", "srt")], timeout=300)
    check(st == 200 and body.decode().count("-->") >= 3, f"srt of long audio: one cue per piece at least ({st})")
    s.stop()
finally:
    for sv in servers:
        sv.stop()

finish("server checks")
