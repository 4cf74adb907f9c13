// qasr serve replicas behind HAProxy (Debian's 2.6, started here in the foreground with the
// repository's deploy/haproxy/<layout>.cfg), on 127.0.0.1 only. Three replicas on tiny models;
// the official openai client (pinned 6.49.0) through defaultHeaders X-Model and through a
// /m/<model>/v1 base URL; routing, the missing-key 400, stream: true through the balancer, the
// upload cap from either side, a rolling restart under traffic with no failed request, kill -9
// under traffic (only what the replica held fails, it is marked down within a second), and
// `qasr bench serve --url` pointed at the balancer. Every process started here is stopped by
// its pid; every request loop is bounded in count and time.
// Usage: node haproxy_check.mjs pools|affinity QASR DATA_DIR WORK_DIR NODE_MODULES SOURCE_DIR
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";

const [layout, qasr, data, workArg, modules, src] = process.argv.slice(2);
const work = path.resolve(workArg); // absolute: HAProxy reads a relative socket path as host:port
const require = createRequire(path.resolve(modules, "x.js"));
const OpenAI = require("openai");
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });

let fails = 0;
function check(ok, msg) {
  console.log((ok ? "ok   " : "FAIL ") + msg);
  if (!ok) fails++;
  return ok;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SMALL = "qwen3-asr-0.6b", LARGE = "qwen3-asr-1.7b";
const tiny = path.join(data, "chatllm/tiny-q4_0.bin");
const tiny8 = path.join(data, "chatllm/tiny-q8_0.bin");
const clip = path.join(data, "audio/wenet_aishell-BAC009S0724W0121.wav");
const clipBytes = fs.readFileSync(clip);
const MAXCONN = 3; // each replica: --parallel 1 --queue 2
const CAP = 1 << 20; // --max-upload-mb 1, and QASR_MAX_BODY at the balancer
const procs = []; // every child, stopped by pid at the end

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// ---- replicas ----
const replicaArgs = {
  pools: {
    r1: ["--model", `${SMALL}=${tiny}`, "--model", `${LARGE}=${tiny8}`, "--pin", SMALL, "--max-loaded", "2"],
    r2: ["--model", `${SMALL}=${tiny}`, "--pin", SMALL],
    r3: ["--model", `${LARGE}=${tiny8}`, "--model", `${SMALL}=${tiny}`, "--pin", LARGE, "--max-loaded", "2"],
  },
  affinity: Object.fromEntries(["r1", "r2", "r3"].map((r) =>
    [r, ["--model", `${SMALL}=${tiny}`, "--model", `${LARGE}=${tiny8}`, "--max-loaded", "1"]])),
}[layout];
const replicas = {}; // name → {port, proc, starts}

function startReplica(name, port) {
  return new Promise((resolve, reject) => {
    const r = replicas[name] || (replicas[name] = { starts: 0 });
    const log = fs.openSync(path.join(work, `${name}.${r.starts++}.log`), "w");
    const p = spawn(qasr, ["serve", "--host", "127.0.0.1", "--port", String(port), "--replica-name", name,
      "--parallel", "1", "--queue", "2", "--threads", "1", "--max-upload-mb", "1", "--drain-delay", "1",
      "--drain-timeout", "30", "--log-format", "json", "--require-routing-key", ...replicaArgs[name]], { stdio: ["ignore", "pipe", log] });
    procs.push(p);
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 60000);
    let buf = "";
    p.stdout.on("data", (d) => {
      buf += d.toString();
      const m = buf.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        r.port = Number(m[1]);
        r.proc = p;
        resolve(r);
      }
    });
    p.on("exit", () => clearTimeout(timer));
  });
}

function waitExit(p, ms) {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve(p.exitCode ?? p.signalCode);
    const t = setTimeout(() => resolve("timeout"), ms);
    p.on("exit", (code, sig) => {
      clearTimeout(t);
      resolve(code ?? sig);
    });
  });
}

// ---- HAProxy ----
const sock = path.join(work, "haproxy.sock");
let lbPort, haproxy;

async function startHaproxy() {
  lbPort = await freePort();
  const env = { ...process.env, QASR_LB_BIND: `127.0.0.1:${lbPort}`, QASR_R1: `127.0.0.1:${replicas.r1.port}`,
    QASR_R2: `127.0.0.1:${replicas.r2.port}`, QASR_R3: `127.0.0.1:${replicas.r3.port}`,
    QASR_MAXCONN: String(MAXCONN), QASR_MAP: path.join(src, "deploy/haproxy/models.map"),
    QASR_MAX_BODY: String(CAP), QASR_LB_SOCKET: sock };
  const log = fs.openSync(path.join(work, "haproxy.log"), "w");
  haproxy = spawn("/usr/sbin/haproxy", ["-f", path.join(src, `deploy/haproxy/${layout}.cfg`), "-db"],
    { env, stdio: ["ignore", log, log] });
  procs.push(haproxy);
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(100);
  check(fs.existsSync(sock) && haproxy.exitCode === null, `haproxy ${layout}.cfg started on 127.0.0.1:${lbPort}`);
}

// The runtime API: "show stat" → {"backend/server": {status, scur}}.
function stats() {
  return new Promise((resolve) => {
    let out = "";
    const c = net.createConnection(sock, () => c.write("show stat\n"));
    c.on("data", (d) => (out += d));
    c.on("error", () => resolve({}));
    c.on("end", () => {
      const lines = out.trim().split("\n");
      const head = lines[0].replace(/^# /, "").split(",");
      const res = {};
      for (const l of lines.slice(1)) {
        const f = l.split(",");
        const row = Object.fromEntries(head.map((h, i) => [h, f[i]]));
        if (row.svname !== "FRONTEND" && row.svname !== "BACKEND") res[`${row.pxname}/${row.svname}`] = row;
      }
      resolve(res);
    });
    setTimeout(() => c.destroy(), 3000);
  });
}
async function statusOf(server) { // server name in any backend where it is not a backup
  const s = await stats();
  const rows = Object.entries(s).filter(([k, r]) => k.endsWith("/" + server) && r.bck === "0");
  return rows.length ? rows.map(([, r]) => r.status).join(",") : "?";
}
async function waitStatus(server, want, ms) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const st = await statusOf(server);
    if (st.split(",").every((x) => x.startsWith(want))) return Date.now() - t0;
    await sleep(50);
  }
  return -1;
}

// ---- requests ----
const lb = () => `http://127.0.0.1:${lbPort}`;
function form(model) {
  const f = new FormData();
  f.append("file", new Blob([clipBytes], { type: "audio/wav" }), "clip.wav");
  f.append("model", model);
  return f;
}
async function post(model, headers = {}, url = `${lb()}/v1/audio/transcriptions`) {
  const t = Date.now();
  try {
    const h = { "X-Model": model, ...headers };
    for (const k of Object.keys(h)) if (h[k] === null) delete h[k];
    const r = await fetch(url, { method: "POST", body: form(model), headers: h, signal: AbortSignal.timeout(60000) });
    const body = await r.text();
    let code = null;
    try { code = JSON.parse(body).error?.code ?? null; } catch { code = body.slice(0, 40); }
    return { t, end: Date.now(), model, status: r.status, replica: r.headers.get("x-qasr-replica"), code, body };
  } catch (e) {
    return { t, end: Date.now(), model, status: 0, replica: null, code: String(e.cause?.code || e.name), body: "" };
  }
}
// Clients loop over their models until stop() or the bounds; returns every result.
function traffic(models, maxRequests, maxMs) {
  const results = [];
  let stopped = false;
  const t0 = Date.now();
  const loops = models.map(async (m) => {
    while (!stopped && results.length < maxRequests && Date.now() - t0 < maxMs) results.push(await post(m));
  });
  return { results, stop: async () => { stopped = true; await Promise.all(loops); return results; } };
}
const failed = (rs) => rs.filter((r) => r.status !== 200);
const summary = (rs) => {
  const by = {};
  for (const r of rs) by[`${r.status} ${r.code ?? ""}`.trim()] = (by[`${r.status} ${r.code ?? ""}`.trim()] || 0) + 1;
  return JSON.stringify(by);
};

async function openaiChecks() {
  const viaHeader = (m) => new OpenAI({ apiKey: "k", baseURL: `${lb()}/v1`, maxRetries: 0, timeout: 60000,
    defaultHeaders: { "X-Model": m } });
  const served = async (client, model, n) => {
    const seen = [];
    for (let i = 0; i < n; i++) {
      const { data, response } = await client.audio.transcriptions.create({ file: await OpenAI.toFile(clipBytes,
        "clip.wav"), model }).withResponse();
      if (typeof data.text === "string") seen.push(response.headers.get("x-qasr-replica"));
      // One request at a time, apart: bounded-load hashing counts a request until its connection is
      // released, and would spill an overlap onto the next replica (that is tested in spill()).
      await sleep(150);
    }
    return seen;
  };
  const small = await served(viaHeader(SMALL), SMALL, 4);
  const large = await served(new OpenAI({ apiKey: "k", baseURL: `${lb()}/m/${LARGE}/v1`, maxRetries: 0 }), LARGE, 3);
  await sleep(150);
  const gw = await post(LARGE, { "X-Model": null, "X-Gateway-Model-Name": LARGE });
  if (layout === "pools") {
    check(small.length === 4 && small.every((r) => r === "r1" || r === "r2"),
      `defaultHeaders X-Model ${SMALL} → pool small: ${small}`);
    check(large.length === 3 && large.every((r) => r === "r3"), `baseURL /m/${LARGE}/v1 → pool large: ${large}`);
    check(gw.status === 200 && gw.replica === "r3", `X-Gateway-Model-Name ${LARGE} → pool large: ${gw.status} ${gw.replica}`);
    const unknown = await post("nope");
    check(unknown.status === 404 && unknown.code === "model_not_found" && unknown.replica !== null,
      `a model no pool serves: the default pool's replica answers 404 (${unknown.status} ${unknown.code} from ${unknown.replica})`);
  } else {
    check(small.length === 4 && new Set(small).size === 1, `X-Model ${SMALL} hashes to one replica: ${small}`);
    check(large.length === 3 && new Set(large).size === 1, `/m/${LARGE}/v1 hashes to one replica: ${large}`);
    check(gw.status === 200 && gw.replica === large[0], `X-Gateway-Model-Name routes like X-Model: ${gw.replica}`);
  }
  // No key: a replica's 400 once the body is in (--require-routing-key), as the SDK's class.
  const bare = new OpenAI({ apiKey: "k", baseURL: `${lb()}/v1`, maxRetries: 0 });
  try {
    await bare.audio.transcriptions.create({ file: await OpenAI.toFile(clipBytes, "clip.wav"), model: SMALL });
    check(false, "a request without X-Model or /m/ prefix was accepted");
  } catch (e) {
    check(e instanceof OpenAI.BadRequestError && e.status === 400 && e.error?.param === "model" &&
      e.code === "missing_routing_key", `no routing key: ${e.constructor.name} ${e.status} ${e.message}`);
  }
  // Header and form disagree: the replica's 400 (pools route on the header).
  const mismatch = await post(LARGE, { "X-Model": SMALL });
  check(mismatch.status === 400, `X-Model disagreeing with the form's model: ${mismatch.status} (${mismatch.code})`);

  // stream: true through the balancer: events arrive before the transcription ends.
  const t0 = Date.now();
  const stream = await viaHeader(SMALL).audio.transcriptions.create({ file: await OpenAI.toFile(clipBytes, "c.wav"),
    model: SMALL, stream: true, language: "zh" });
  let first = -1, done = -1, deltas = 0;
  for await (const ev of stream) {
    if (ev.type === "transcript.text.delta" && deltas++ === 0) first = Date.now() - t0;
    if (ev.type === "transcript.text.done") done = Date.now() - t0;
  }
  check(deltas >= 2 && first >= 0 && done > first, `stream through HAProxy: ${deltas} deltas, first at ${first} ms, done at ${done} ms`);

  // The upload cap, from whichever side sees it: a client that sends Expect: 100-continue is
  // refused by the balancer before it sends the body; any other by the replica (which reads up
  // to the cap, then drains), through the balancer.
  const big = Buffer.alloc(2 * CAP, 7);
  const f = new FormData();
  f.append("file", new Blob([big]), "big.wav");
  f.append("model", SMALL);
  const r1 = await fetch(`${lb()}/v1/audio/transcriptions`, { method: "POST", body: f, headers: { "X-Model": SMALL } });
  const b1 = await r1.json().catch(() => ({}));
  check(r1.status === 413 && b1.error?.code === "request_too_large" && r1.headers.get("x-qasr-replica") !== null,
    `over the cap with Content-Length: the replica's 413 through the balancer (${r1.status} ${b1.error?.code})`);
  let sent = 0;
  const body = new ReadableStream({
    pull(c) {
      if (sent >= 2 * CAP) return c.close();
      sent += 65536;
      c.enqueue(new Uint8Array(65536));
    },
  });
  let r2status = 0, r2code = "", r2rep = null;
  try {
    const r2 = await fetch(`${lb()}/v1/audio/transcriptions`, { method: "POST", body, duplex: "half",
      headers: { "X-Model": SMALL, "Content-Type": "multipart/form-data; boundary=x" }, signal: AbortSignal.timeout(30000) });
    r2status = r2.status;
    r2rep = r2.headers.get("x-qasr-replica");
    r2code = (await r2.json().catch(() => ({}))).error?.code;
  } catch (e) {
    r2code = String(e.cause?.code || e);
  }
  check(r2status === 413 && r2code === "request_too_large" && r2rep !== null,
    `over the cap, chunked: the replica's 413 through the balancer (${r2status} ${r2code} from ${r2rep}; ${sent} bytes offered)`);
  const early = await new Promise((resolve) => {
    let out = "";
    const c = net.createConnection(lbPort, "127.0.0.1", () => c.write(`POST /v1/audio/transcriptions HTTP/1.1\r\n` +
      `Host: x\r\nX-Model: ${SMALL}\r\nContent-Type: multipart/form-data; boundary=x\r\n` +
      `Content-Length: ${2 * CAP}\r\nExpect: 100-continue\r\n\r\n`));
    c.on("data", (d) => (out += d));
    c.on("error", () => resolve(out));
    c.on("close", () => resolve(out));
    setTimeout(() => { c.destroy(); resolve(out); }, 5000);
  });
  check(/^HTTP\/1\.1 413/.test(early) && early.includes("request_too_large") && !/x-qasr-replica/i.test(early),
    `Expect: 100-continue over the cap: the balancer's 413, no body sent (${early.split("\r\n")[0]})`);
}

async function rollingRestart() {
  const tr = traffic([SMALL, LARGE], 2000, 120000);
  await sleep(500);
  const log = [];
  for (const name of ["r1", "r2", "r3"]) {
    const r = replicas[name];
    const before = tr.results.length;
    r.proc.kill("SIGTERM");
    const down = await waitStatus(name, "DOWN", 5000);
    // While it is down, traffic keeps flowing (pools: r3's model goes to its backup, r1).
    for (let i = 0; i < 100 && tr.results.length < before + 3; i++) await sleep(50);
    const code = await waitExit(r.proc, 40000);
    await startReplica(name, r.port);
    const up = await waitStatus(name, "UP", 10000);
    log.push(`${name}: DOWN after ${down} ms, exit ${code}, UP ${up} ms after restart`);
    check(down >= 0 && code === 0 && up >= 0, `rolling restart ${name}: marked down ${down} ms after SIGTERM, exit ${code}, up again ${up} ms after restart`);
  }
  await sleep(500);
  const rs = await tr.stop();
  const bad = failed(rs);
  check(rs.length >= 12 && bad.length === 0, `rolling restart under traffic: ${rs.length} requests, ${bad.length} failed ${summary(bad)}`);
  if (layout === "pools") {
    const spill = rs.filter((r) => r.model === LARGE && r.replica === "r1").length;
    check(spill >= 1, `while r3 restarted, its model was served by the backup r1 (${spill} requests)`);
  }
  return rs;
}

async function killNine() {
  // The victim: pools r2 (pool small keeps r1); affinity the replica SMALL hashes to.
  const probe = await post(SMALL);
  const victim = layout === "pools" ? "r2" : probe.replica;
  const tr = traffic([SMALL, SMALL, LARGE], 2000, 60000);
  for (let i = 0; i < 100; i++) { // until the victim holds a request
    const s = await stats();
    if (Object.entries(s).some(([k, r]) => k.endsWith("/" + victim) && Number(r.scur) > 0)) break;
    await sleep(20);
  }
  const tKill = Date.now();
  replicas[victim].proc.kill("SIGKILL");
  const down = await waitStatus(victim, "DOWN", 5000);
  const tDown = Date.now();
  await sleep(2000);
  const rs = await tr.stop();
  const bad = failed(rs);
  const late = bad.filter((r) => r.t > tDown);
  check(down >= 0 && down <= 1000, `kill -9 ${victim}: marked DOWN ${down} ms after the kill`);
  // What fails: the requests it held, and any sent to it in the moments before it was marked down.
  const window = rs.filter((r) => r.t > tKill && r.t <= tDown).length;
  check(bad.length <= MAXCONN + window && late.length === 0,
    `kill -9 under traffic: ${rs.length} requests, ${bad.length} failed (${summary(bad)}; at most the ${MAXCONN} it could hold + ${window} sent before it was marked down), none sent after`);
  check(bad.every((r) => r.status === 0 || (r.status >= 500 && r.body.startsWith("{\"error\""))),
    "the failures are OpenAI-shaped JSON from the balancer (or a dropped connection)");
  const after = rs.filter((r) => r.t > tDown);
  check(after.length >= 3 && after.every((r) => r.status === 200 && r.replica !== victim),
    `after ${victim} was marked down: ${after.length} requests, all served by the others`);
  console.log(`kill -9 figures: ${JSON.stringify({ victim, requests: rs.length, failed: bad.length, kinds: summary(bad), down_ms: down })}`);
  await startReplica(victim, replicas[victim].port);
  check((await waitStatus(victim, "UP", 10000)) >= 0, `${victim} restarted and UP`);
}

async function spill() { // affinity: a model over its replica's share spills to another (bounded load)
  const rs = (await Promise.all([0, 1, 2, 3, 4, 5].map(async () => {
    const out = [];
    for (let i = 0; i < 4; i++) out.push(await post(SMALL));
    return out;
  }))).flat();
  const by = {};
  for (const r of rs) by[r.replica] = (by[r.replica] || 0) + 1;
  check(failed(rs).length === 0 && Object.keys(by).length >= 2,
    `6 concurrent clients on one model: spilled over ${Object.keys(by).length} replicas ${JSON.stringify(by)}, ${failed(rs).length} failed ${summary(failed(rs))}`);
}

function runBench(args, name) {
  return new Promise((resolve) => {
    const out = path.join(work, `${name}.json`);
    const p = spawn(qasr, ["bench", "serve", ...args, "--audio", clip, "--work-dir", path.join(work, name), "--json", out],
      { stdio: ["ignore", "pipe", "pipe"] });
    procs.push(p);
    let text = "";
    p.stdout.on("data", (d) => (text += d));
    p.stderr.on("data", (d) => (text += d));
    const t = setTimeout(() => p.kill("SIGKILL"), 300000);
    p.on("exit", (code) => {
      clearTimeout(t);
      let j = null;
      try { j = JSON.parse(fs.readFileSync(out, "utf8")); } catch { /* reported below */ }
      resolve({ code, text, json: j });
    });
  });
}

async function bench() {
  const reps = ["r1", "r2", "r3"].flatMap((r) => ["--replica-url", `http://127.0.0.1:${replicas[r].port}`]);
  const viaLb = await runBench(["--url", lb(), ...reps, "--model", SMALL, "--model", LARGE, "--model-header",
    "--clients", "2", "--requests", "40"], "bench-lb");
  // The balancer's own cost: one client, one model, the same replica pool, through it and direct.
  const one = await runBench(["--url", lb(), "--model", SMALL, "--model-header", "--clients", "1", "--requests", "20"],
    "bench-lb-one");
  const direct = await runBench(["--url", `http://127.0.0.1:${replicas[one.json?.requests?.[0]?.replica || "r1"].port}`,
    "--model", SMALL, "--model-header", "--clients", "1", "--requests", "20"], "bench-direct-one");
  const j = viaLb.json;
  check(viaLb.code === 0 && j && j.summary?.ok === 40, `bench serve --url <balancer>: exit ${viaLb.code}, ${j?.summary?.ok} of 40 ok`);
  if (j) {
    const served = j.summary?.served_by_model || {};
    const rows = j.requests || [];
    check(rows.length === 40 && rows.every((r) => ["r1", "r2", "r3"].includes(r.replica)),
      `the report names the replica of each request: ${JSON.stringify(served)}`);
    if (layout === "pools")
      check(Object.keys(served[SMALL] || {}).every((r) => r !== "r3") && Object.keys(served[LARGE] || {}).every((r) => r === "r3"),
        "bench serve through the pools: each model on its pool's replicas");
    const reps = j.summary?.replicas || {};
    check(Object.keys(reps).length === 3 && Object.values(reps).every((r) => r.loads && r.unloads),
      `loads and evictions per replica: ${JSON.stringify(reps)}`);
    const p = (x) => x ? `p50 ${x.p50.toFixed(1)} / p95 ${x.p95.toFixed(1)} ms` : "n/a";
    check(one.json?.summary?.ok === 20 && direct.json?.summary?.ok === 20, "one client through the balancer and direct: 20 of 20 each");
    console.log(`bench figures (${layout}): 2 clients, 2 models, 40 requests through the balancer: ` +
      `${p(j.summary?.latency_ms)}; one client, ${SMALL}: through the balancer ${p(one.json?.summary?.latency_ms)}, ` +
      `direct ${p(direct.json?.summary?.latency_ms)}; by replica ${JSON.stringify(served)}; ` +
      `loads/unloads ${JSON.stringify(Object.fromEntries(Object.entries(j.summary?.replicas || {}).map(([u, v]) =>
        [Object.keys(replicas).find((n) => u.endsWith(":" + replicas[n].port)) || u, v])))}; errors ${JSON.stringify(j.summary?.errors)}`);
  }
}

async function main() {
  for (const name of ["r1", "r2", "r3"]) await startReplica(name, 0);
  await startHaproxy();
  for (const name of ["r1", "r2", "r3"]) check((await waitStatus(name, "UP", 10000)) >= 0, `${name} UP at the balancer`);
  await openaiChecks();
  await rollingRestart();
  await killNine();
  if (layout === "affinity") await spill();
  await bench();
}

const deadline = setTimeout(() => {
  check(false, "the whole check ran past 600 s");
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  process.exit(1);
}, 600000);
try {
  await main();
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  clearTimeout(deadline);
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
  await sleep(300);
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
}
console.log(fails ? `${fails} haproxy (${layout}) checks failed` : `all haproxy (${layout}) checks passed`);
process.exit(fails ? 1 : 0);
