"""Independent numpy float32 reference of Qwen3-ASR inference, written from the spec
(§3 encoder with per-chunk conv stem and windowed attention, §4 decoder, §5 prompt).

Reads a Hugging Face folder (config.json + model.safetensors in BF16/F16/F32).
Used by check_model.py to produce goldens for tiny random checkpoints.
"""
import json
import math
import os
import struct

import numpy as np

import mel_ref


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[base + b: base + end]
        if e["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif e["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        out[name] = arr.reshape(e["shape"])
    return out


def gelu(x):
    # exact erf GELU, vectorised through math.erf
    return (0.5 * x * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(x / math.sqrt(2.0)))).astype(np.float32)


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + eps) * g + b).astype(np.float32)


def rms_norm(x, w, eps):
    return (w * (x / np.sqrt((x.astype(np.float64) ** 2).mean(-1, keepdims=True) + eps))).astype(np.float32)


def conv2d_s2(x, w, b):
    """x (Cin, H, W), w (Cout, Cin, 3, 3), stride 2, padding 1 → (Cout, Ho, Wo)."""
    cin, H, W = x.shape
    Ho, Wo = (H - 1) // 2 + 1, (W - 1) // 2 + 1
    xp = np.zeros((cin, H + 2, W + 2), np.float32)
    xp[:, 1:H + 1, 1:W + 1] = x
    out = np.zeros((w.shape[0], Ho, Wo), np.float32)
    for kh in range(3):
        for kw in range(3):
            patch = xp[:, kh:kh + 2 * Ho:2, kw:kw + 2 * Wo:2]  # (Cin, Ho, Wo)
            out += np.einsum("oc,chw->ohw", w[:, :, kh, kw], patch)
    return out + b[:, None, None]


def g_tokens(r):
    """Valid tokens of a chunk of r frames: ceil(ceil(ceil(r/2)/2)/2), 0 for r = 0."""
    return 0 if r <= 0 else int(math.ceil(math.ceil(math.ceil(r / 2) / 2) / 2))


class Model:
    def __init__(self, folder):
        cfg = json.load(open(os.path.join(folder, "config.json")))
        th = cfg["thinker_config"]
        self.a = th["audio_config"]
        self.t = th["text_config"]
        self.audio_token_id = th["audio_token_id"]
        self.w = load_safetensors(os.path.join(folder, "model.safetensors"))
        gen = json.load(open(os.path.join(folder, "generation_config.json")))
        eos = gen["eos_token_id"]
        self.stop = set(eos if isinstance(eos, list) else [eos])

    # ---- encoder (spec §3) ----
    def encode(self, mel):
        a, W = self.a, self.w
        p = "thinker.audio_tower."
        T = mel.shape[1]
        chunk = 2 * a["n_window"]
        d = a["d_model"]
        n_chunks = (T + chunk - 1) // chunk
        L_max = min(T, chunk)
        half = d // 2
        inc = math.log(10000.0) / (half - 1)
        inv = np.exp(-inc * np.arange(half)).astype(np.float32)
        rows = []
        for c in range(n_chunks):
            seg = mel[:, c * chunk:min(T, (c + 1) * chunk)]
            Lc = seg.shape[1]
            x = np.zeros((1, mel.shape[0], L_max), np.float32)
            x[0, :, :Lc] = seg
            for i in (1, 2, 3):
                x = gelu(conv2d_s2(x, W[p + f"conv2d{i}.weight"], W[p + f"conv2d{i}.bias"]))
            C, F, t = x.shape
            feat = x.transpose(2, 0, 1).reshape(t, C * F)  # index c·F + f
            y = feat @ W[p + "conv_out.weight"].T
            pos = np.arange(t, dtype=np.float32)[:, None] * inv[None, :]
            y = y + np.concatenate([np.sin(pos), np.cos(pos)], axis=1)
            rows.append(y[:g_tokens(Lc)])
        x = np.concatenate(rows, 0).astype(np.float32)
        N = x.shape[0]
        win = g_tokens(L_max) * (a["n_window_infer"] // chunk)
        H = a["encoder_attention_heads"]
        hd = d // H
        for i in range(a["encoder_layers"]):
            lp = p + f"layers.{i}."
            h = layer_norm(x, W[lp + "self_attn_layer_norm.weight"], W[lp + "self_attn_layer_norm.bias"])
            q = h @ W[lp + "self_attn.q_proj.weight"].T + W[lp + "self_attn.q_proj.bias"]
            k = h @ W[lp + "self_attn.k_proj.weight"].T + W[lp + "self_attn.k_proj.bias"]
            v = h @ W[lp + "self_attn.v_proj.weight"].T + W[lp + "self_attn.v_proj.bias"]
            o = np.zeros_like(q)
            for s0 in range(0, N, win):  # block-diagonal windows
                s1 = min(N, s0 + win)
                for hh in range(H):
                    sl = slice(hh * hd, (hh + 1) * hd)
                    sc = q[s0:s1, sl] @ k[s0:s1, sl].T / math.sqrt(hd)
                    sc = np.exp(sc - sc.max(-1, keepdims=True))
                    sc /= sc.sum(-1, keepdims=True)
                    o[s0:s1, sl] = sc @ v[s0:s1, sl]
            x = x + o @ W[lp + "self_attn.out_proj.weight"].T + W[lp + "self_attn.out_proj.bias"]
            h = layer_norm(x, W[lp + "final_layer_norm.weight"], W[lp + "final_layer_norm.bias"])
            h = gelu(h @ W[lp + "fc1.weight"].T + W[lp + "fc1.bias"])
            x = (x + h @ W[lp + "fc2.weight"].T + W[lp + "fc2.bias"]).astype(np.float32)
        x = layer_norm(x, W[p + "ln_post.weight"], W[p + "ln_post.bias"])
        x = gelu(x @ W[p + "proj1.weight"].T + W[p + "proj1.bias"])
        return (x @ W[p + "proj2.weight"].T + W[p + "proj2.bias"]).astype(np.float32)

    # ---- decoder (spec §4) ----
    def decoder_step(self, x, pos0, cache):
        t, W = self.t, self.w
        H, KV, hd = t["num_attention_heads"], t["num_key_value_heads"], t["head_dim"]
        eps = t["rms_norm_eps"]
        inv = (1.0 / (t["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))).astype(np.float32)
        L = x.shape[0]
        pos = np.arange(pos0, pos0 + L, dtype=np.float32)
        ang = pos[:, None] * inv[None, :]
        cos = np.concatenate([np.cos(ang), np.cos(ang)], 1)[:, None, :]
        sin = np.concatenate([np.sin(ang), np.sin(ang)], 1)[:, None, :]

        def rope(z):
            rot = np.concatenate([-z[..., hd // 2:], z[..., :hd // 2]], -1)
            return z * cos + rot * sin

        for i in range(t["num_hidden_layers"]):
            lp = f"thinker.model.layers.{i}."
            h = rms_norm(x, W[lp + "input_layernorm.weight"], eps)
            q = (h @ W[lp + "self_attn.q_proj.weight"].T).reshape(L, H, hd)
            k = (h @ W[lp + "self_attn.k_proj.weight"].T).reshape(L, KV, hd)
            v = (h @ W[lp + "self_attn.v_proj.weight"].T).reshape(L, KV, hd)
            q = rope(rms_norm(q, W[lp + "self_attn.q_norm.weight"], eps))
            k = rope(rms_norm(k, W[lp + "self_attn.k_norm.weight"], eps))
            K = np.concatenate([cache[i][0], k], 0) if cache[i] else k
            V = np.concatenate([cache[i][1], v], 0) if cache[i] else v
            cache[i] = (K, V)
            S = K.shape[0]
            o = np.zeros((L, H, hd), np.float32)
            mask = np.arange(S)[None, :] <= (pos0 + np.arange(L))[:, None]  # causal
            for hh in range(H):
                kh = hh // (H // KV)
                sc = q[:, hh, :] @ K[:, kh, :].T / math.sqrt(hd)
                sc = np.where(mask, sc, -np.inf)
                sc = np.exp(sc - sc.max(-1, keepdims=True))
                sc /= sc.sum(-1, keepdims=True)
                o[:, hh, :] = sc @ V[:, kh, :]
            x = x + o.reshape(L, H * hd) @ W[lp + "self_attn.o_proj.weight"].T
            h = rms_norm(x, W[lp + "post_attention_layernorm.weight"], eps)
            g = h @ W[lp + "mlp.gate_proj.weight"].T
            u = h @ W[lp + "mlp.up_proj.weight"].T
            x = (x + ((g / (1 + np.exp(-g))) * u) @ W[lp + "mlp.down_proj.weight"].T).astype(np.float32)
        return x

    def logits(self, hrow):
        h = rms_norm(hrow[None, :], self.w["thinker.model.norm.weight"], self.t["rms_norm_eps"])[0]
        return (self.w["thinker.model.embed_tokens.weight"] @ h).astype(np.float32)  # tied lm_head

    def generate(self, prompt_ids, audio_emb, n_new, ignore_eos=True):
        E = self.w["thinker.model.embed_tokens.weight"]
        x = E[np.array(prompt_ids)].copy()
        rows = np.where(np.array(prompt_ids) == self.audio_token_id)[0]
        assert len(rows) == audio_emb.shape[0]
        x[rows] = audio_emb
        cache = [None] * self.t["num_hidden_layers"]
        h = self.decoder_step(x, 0, cache)
        lg = self.logits(h[-1])
        logits0 = lg
        ids, margins = [], []
        pos = len(prompt_ids)
        for _ in range(n_new):
            top2 = np.sort(lg)[-2:]
            nxt = int(np.argmax(lg))
            margins.append(float(top2[1] - top2[0]))
            if not ignore_eos and nxt in self.stop:
                break
            ids.append(nxt)
            h = self.decoder_step(E[nxt][None, :].copy(), pos, cache)
            pos += 1
            lg = self.logits(h[-1])
        return logits0, ids, margins


# Prompt ids from the spec's id table (§5.1), independent of the C++ tokenizer.
PREFIX = [151644, 8948, 198, 151645, 198, 151644, 872, 198, 151669]
SUFFIX = [151670, 151645, 198, 151644, 77091, 198]
LANG_IDS = {"English": [6364], "Chinese": [8453], "Macedonian": [56452, 75491]}


def prompt_ids(n_audio, language=None):
    ids = PREFIX + [151676] * n_audio + SUFFIX
    if language:
        ids += [11528] + LANG_IDS[language] + [151704]
    return ids


def audio_token_count(T, chunk=100):
    return g_tokens(chunk) * (T // chunk) + g_tokens(T % chunk)
