// The official `openai` npm client (pinned 6.49.0) against `qasr serve` on 127.0.0.1:
// both upload paths (fs.createReadStream → chunked, toFile(Buffer) → Content-Length), every
// response format, stream: true, an AbortController abort, models.list(), errors as the
// SDK's error classes, its retries on 503. The server is started here and stopped by pid.
// Usage: node openai_client.mjs QASR DATA_DIR WORK_DIR NODE_MODULES
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const [qasr, data, work, modules] = process.argv.slice(2);
const require = createRequire(path.resolve(modules, "x.js"));
const OpenAI = require("openai");
const { toFile } = require("openai");
fs.mkdirSync(work, { recursive: true });

let fails = 0;
function check(ok, msg) {
  console.log((ok ? "ok   " : "FAIL ") + msg);
  if (!ok) fails++;
}

const jfk = path.join(data, "audio/whisper.cpp_jfk.wav");
const tiny = path.join(data, "chatllm/tiny-q4_0.bin");
const tiny8 = path.join(data, "chatllm/tiny-q8_0.bin");
const servers = [];

function startServer(extra) {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(path.join(work, `openai-serve${servers.length}.log`), "w");
    const p = spawn(qasr, ["serve", "--host", "127.0.0.1", "--port", "0", "--model", `tiny=${tiny}`,
      "--model", `tiny8=${tiny8}`, ...extra], { stdio: ["ignore", "pipe", log] });
    servers.push(p);
    const timer = setTimeout(() => reject(new Error("qasr serve did not start")), 60000);
    let buf = "";
    p.stdout.on("data", (d) => {
      buf += d.toString();
      const m = buf.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), pid: p.pid, proc: p });
      }
    });
  });
}

async function metric(port, name) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n"))
    if (line.startsWith(name + "{") || line.startsWith(name + " ")) total += Number(line.split(" ").pop());
  return total;
}

async function expectError(name, promise, Klass, status) {
  try {
    await promise;
    check(false, `${name}: no error`);
  } catch (e) {
    check(e instanceof Klass && e.status === status && typeof e.message === "string",
      `${name}: ${e.constructor.name} ${e.status} ${String(e.message).slice(0, 100)}`);
  }
}

async function main() {
  const s = await startServer(["--max-upload-mb", "1", "--max-audio-seconds", "30"]);
  const client = new OpenAI({ apiKey: "k", baseURL: `http://127.0.0.1:${s.port}/v1`, maxRetries: 0, timeout: 120000 });

  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  check(JSON.stringify(models) === JSON.stringify(["tiny", "tiny8"]), `models.list(): ${models}`);

  for (const [how, file] of [["createReadStream (chunked)", () => fs.createReadStream(jfk)],
    ["toFile(Buffer) (Content-Length)", async () => toFile(fs.readFileSync(jfk), "jfk.wav")]]) {
    for (const fmt of ["json", "text", "srt", "vtt", "verbose_json"]) {
      const r = await client.audio.transcriptions.create({ file: await file(), model: "tiny", response_format: fmt });
      const ok = fmt === "json" ? typeof r === "object" && typeof r.text === "string"
        : fmt === "verbose_json" ? typeof r === "object" && Array.isArray(r.segments) && r.segments.length === 1 &&
          "no_speech_prob" in r.segments[0] && r.duration === 11
          : typeof r === "string" && (fmt !== "vtt" || r.startsWith("WEBVTT")) && (fmt !== "srt" || r.includes(" --> "));
      check(ok, `${how}, ${fmt}: ${typeof r}`);
    }
  }

  // stream: true — deltas, then exactly one done with the deltas joined and usage.
  const stream = await client.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: "tiny8",
    stream: true, language: "en" });
  const deltas = [];
  const dones = [];
  for await (const ev of stream) {
    if (ev.type === "transcript.text.delta") deltas.push(ev.delta);
    else if (ev.type === "transcript.text.done") dones.push(ev);
  }
  check(deltas.length > 0 && dones.length === 1 && dones[0].text === deltas.join("") && dones[0].usage?.type === "tokens",
    `stream: ${deltas.length} deltas, ${dones.length} done, texts agree, usage ${dones[0]?.usage?.type}`);

  // Errors as the SDK's classes.
  await expectError("unknown model", client.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: "nope" }),
    OpenAI.NotFoundError, 404);
  await expectError("garbage bytes", client.audio.transcriptions.create({
    file: await toFile(Buffer.from("this is not audio at all, sorry"), "x.wav"), model: "tiny" }),
  OpenAI.BadRequestError, 400);
  const big = Buffer.alloc(3 << 20, 7);
  await expectError("over the cap, Content-Length", client.audio.transcriptions.create({
    file: await toFile(big, "big.wav"), model: "tiny" }), OpenAI.APIError, 413);
  fs.writeFileSync(path.join(work, "big.wav"), big);
  await expectError("over the cap, chunked", client.audio.transcriptions.create({
    file: fs.createReadStream(path.join(work, "big.wav")), model: "tiny" }), OpenAI.APIError, 413);

  // Routing keys: defaultHeaders X-Model, and a base URL with /m/<model>/v1.
  const viaHeader = new OpenAI({ apiKey: "k", baseURL: `http://127.0.0.1:${s.port}/v1`, maxRetries: 0,
    defaultHeaders: { "X-Model": "tiny8" } });
  const r1 = await viaHeader.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: "tiny8" });
  check(typeof r1.text === "string", "defaultHeaders X-Model");
  await expectError("X-Model disagreeing with model", viaHeader.audio.transcriptions.create({
    file: fs.createReadStream(jfk), model: "tiny" }), OpenAI.BadRequestError, 400);
  const viaPath = new OpenAI({ apiKey: "k", baseURL: `http://127.0.0.1:${s.port}/m/tiny/v1`, maxRetries: 0 });
  const r2 = await viaPath.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: "tiny" });
  check(typeof r2.text === "string", "baseURL /m/tiny/v1");
  s.proc.kill("SIGKILL");

  // A slow server: abort, and the SDK's retries on 503 (queue full).
  const slow = await startServer(["--parallel", "1", "--queue", "0", "--debug-step-delay-ms", "60"]);
  const sc = new OpenAI({ apiKey: "k", baseURL: `http://127.0.0.1:${slow.port}/v1`, maxRetries: 0, timeout: 120000 });
  const before = await metric(slow.port, "qasr_requests_cancelled_total");
  const ac = new AbortController();
  const pending = sc.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: "tiny", stream: true },
    { signal: ac.signal });
  setTimeout(() => ac.abort(), 700);
  try {
    const st = await pending;
    for await (const ev of st) { /* aborted mid-stream */ }
    check(false, "abort: the stream finished");
  } catch (e) {
    // Aborted before the response: APIUserAbortError; mid-stream: the body's own abort error.
    check(ac.signal.aborted && e instanceof Error, `abort: ${e.constructor.name}: ${String(e.message).slice(0, 60)}`);
  }
  let after = before;
  for (let i = 0; i < 100 && after <= before; i++) {
    await new Promise((r) => setTimeout(r, 50));
    after = await metric(slow.port, "qasr_requests_cancelled_total");
  }
  check(after === before + 1, `abort: the server cancelled the transcription (${before} → ${after})`);

  // The cancel is counted when it is requested; wait (bounded) until the worker is free again.
  for (let i = 0; i < 100 && (await metric(slow.port, "qasr_requests_in_flight")) > 0; i++)
    await new Promise((r) => setTimeout(r, 50));
  // Queue full: a buffered upload is retried by the SDK (3 attempts), a stream is not.
  const busy = sc.audio.transcriptions.create({ file: fs.createReadStream(jfk), model: "tiny" });
  await new Promise((r) => setTimeout(r, 400));
  const retrying = new OpenAI({ apiKey: "k", baseURL: `http://127.0.0.1:${slow.port}/v1`, maxRetries: 2, timeout: 120000 });
  const r0 = await metric(slow.port, "qasr_requests_rejected_total");
  const t0 = Date.now();
  try {
    await retrying.audio.transcriptions.create({ file: await toFile(fs.readFileSync(jfk), "a.wav"), model: "tiny" });
    check(Date.now() - t0 > 1000, "buffered upload retried until a worker was free");
  } catch (e) {
    check(e.status === 503, `buffered upload after retries: ${e.status}`);
  }
  const r1b = await metric(slow.port, "qasr_requests_rejected_total");
  check(r1b - r0 >= 1 && r1b - r0 <= 3, `the SDK retried the 503 (server refused ${r1b - r0} attempt(s), at most 3)`);
  await busy;
  slow.proc.kill("SIGKILL");
}

try {
  await main();
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  for (const p of servers) if (p.exitCode === null) p.kill("SIGKILL");
}
console.log(fails ? `${fails} openai client checks failed` : "all openai client checks passed");
process.exit(fails ? 1 : 0);
